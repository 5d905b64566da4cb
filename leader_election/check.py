"""``leader-election check``: is this machine set up to take part in an election on a Lease?

One pass, each step a finding, then a verdict with what to do:

1. **Connection** — which API server, found how (``connection.py``'s resolution, called as the
   library calls it), and as which user (``SelfSubjectReview`` when the server offers it, else
   the kubeconfig's user or the in-cluster ServiceAccount).
2. **Reachability and clock** — ``GET /version`` three times; the round trip with the
   smallest delay estimates this machine's clock offset from the API server's ``Date`` header:
   ``offset = Date + 0.5 s - midpoint``, uncertain by ``round trip / 2 + 1 s`` (``Date`` has
   whole seconds). Candidates tolerate an offset (they judge expiry by when they saw a change),
   but ``status`` and anything reading ``renewTime`` by wall clock are off by it.
3. **RBAC** — ``preflight.run_preflight``: one ``SelfSubjectAccessReview`` per verb.
4. **Lease** — holder, age of the last renewal, expired or not, transitions.

``run_check`` never raises for what it finds; ``CheckReport.ok`` and ``problems`` carry the
verdict. Only a configuration that cannot be loaded raises ``ConfigurationError``.
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import json
import logging
import os
from typing import Any

from leader_election.apirequest import send
from leader_election.clock import Clock, SystemClock
from leader_election.connection import resolve_connection
from leader_election.errors import ApiError, ForbiddenError, NotFoundError
from leader_election.options import LeaderElectionOptions
from leader_election.preflight import PreflightReport, run_preflight
from leader_election.status import LeaseStatus, lease_from_api
from leader_election.transport import api_error

__all__ = ["CheckReport", "ClockOffset", "estimate_clock_offset", "run_check"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
# An offset beyond this (after subtracting the uncertainty) is worth a warning, in seconds.
NOTABLE_OFFSET = 2.0
_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclasses.dataclass(frozen=True, slots=True)
class ClockOffset:
    """This machine's clock minus the API server's, in seconds, ± ``uncertainty``."""

    offset: float
    uncertainty: float
    round_trip: float

    @property
    def notable(self) -> bool:
        return abs(self.offset) - self.uncertainty > NOTABLE_OFFSET

    def to_text(self) -> str:
        direction = "ahead of" if self.offset >= 0 else "behind"
        return (
            f"this machine is {abs(self.offset):.1f} s {direction} the API server "
            f"(± {self.uncertainty:.1f} s; round trip {self.round_trip * 1000:.0f} ms)"
        )

    def to_json(self) -> dict[str, float]:
        return {
            "offset_seconds": round(self.offset, 3),
            "uncertainty_seconds": round(self.uncertainty, 3),
            "round_trip_seconds": round(self.round_trip, 4),
        }


def estimate_clock_offset(
    date_header: str, sent_wall: float, received_wall: float, round_trip: float
) -> ClockOffset | None:
    """The offset one answer shows; ``None`` when ``Date`` does not parse.

    ``sent_wall``/``received_wall``: this machine's wall clock (Unix seconds) around the
    request; ``round_trip``: the monotonic duration of the exchange.
    """
    try:
        server = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    # The server wrote Date somewhere in [sent, received], truncated to the second: its clock
    # then read between Date and Date + 1.
    midpoint = (sent_wall + received_wall) / 2
    return ClockOffset(midpoint - (server + 0.5), round_trip / 2 + 1.0, round_trip)


@dataclasses.dataclass
class CheckReport:
    """Everything ``check`` found, and the verdict."""

    lease_name: str
    namespace: str
    server: str = ""
    source: str = ""
    user: str = ""
    user_source: str = ""
    server_version: str = ""
    reachable: bool = False
    clock: ClockOffset | None = None
    preflight: PreflightReport | None = None
    lease: LeaseStatus | None = None
    lease_error: str = ""
    problems: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        if self.problems:
            return "NOT OK: " + " ".join(self.problems)
        if self.warnings:
            return "OK, with warnings: " + " ".join(self.warnings)
        return "OK: this identity can elect on the Lease and the API server answers."

    def to_json(self) -> dict[str, Any]:
        return {
            "lease": {"namespace": self.namespace, "name": self.lease_name},
            "server": self.server or None,
            "found_by": self.source or None,
            "user": self.user or None,
            "user_source": self.user_source or None,
            "server_version": self.server_version or None,
            "reachable": self.reachable,
            "clock": self.clock.to_json() if self.clock else None,
            "rbac": self.preflight.to_json() if self.preflight else None,
            "lease_state": self.lease.to_json() if self.lease else None,
            "lease_error": self.lease_error or None,
            "ok": self.ok,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "verdict": self.verdict,
        }

    def to_text(self) -> str:
        rows = [
            (
                "API server",
                f"{self.server or '<none>'}"
                + (f" (Kubernetes {self.server_version})" if self.server_version else ""),
            ),
            ("Found by", self.source or "<nothing>"),
            (
                "User",
                f"{self.user or '<unknown>'}"
                + (f" ({self.user_source})" if self.user_source else ""),
            ),
            ("Reachable", "yes" if self.reachable else "no"),
            ("Clock", self.clock.to_text() if self.clock else "<not measured>"),
        ]
        lines = [f"{label + ':':<12} {value}" for label, value in rows]
        if self.preflight is not None:
            lines.append("RBAC:")
            for check in self.preflight.checks:
                p = check.permission
                need = "required" if p.required else "optional"
                lines.append(f"  {check.verdict.value:<8} {p} ({need}: {p.why})")
        if self.lease is not None:
            lines.append("Lease:")
            lines.extend("  " + line for line in self.lease.to_text().splitlines())
        elif self.lease_error:
            lines.append(f"{'Lease:':<12} {self.lease_error}")
        lines.append(f"{'Verdict:':<12} {self.verdict}")
        return "\n".join(lines) + "\n"


def _jwt_subject(token: str) -> str:
    """The ``sub`` claim of a ServiceAccount JWT (read, not verified: for display only)."""
    parts = token.split(".")
    if len(parts) != 3:
        return ""
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return ""
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) else ""


def _who(api_client: Any, source: str, kubeconfig: str | None, timeout: float) -> tuple[str, str]:
    """(user, how it was learned)."""
    try:
        reply = send(
            api_client,
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            verb="create",
            what="selfsubjectreviews.authentication.k8s.io",
            timeout=timeout,
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        info = reply.json().get("status", {}).get("userInfo", {})
        if isinstance(info, dict) and info.get("username"):
            return str(info["username"]), "as the API server sees it"
    except ApiError:
        pass  # older servers, or not allowed: fall back to what the configuration says
    if source == "in-cluster":
        token_path = os.path.join(_SERVICE_ACCOUNT_DIR, "token")
        try:
            with open(token_path, encoding="utf-8") as handle:
                subject = _jwt_subject(handle.read().strip())
        except OSError:
            subject = ""
        return subject or "the Pod's ServiceAccount", "from the ServiceAccount token"
    if source.startswith(("kubeconfig ", "KUBECONFIG ")):
        try:
            from kubernetes import config  # noqa: PLC0415 - loaded with the connection already

            path = kubeconfig or source.split(" ", 1)[1]
            _, current = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
            user = current.get("context", {}).get("user", "")
            context = current.get("name", "")
            if user:
                return str(user), f"kubeconfig user of context {context}"
        except Exception:  # display only: a kubeconfig that loaded once is not worth failing
            logger.debug("reading the kubeconfig's user failed", exc_info=True)
    return "", ""


def _measure_clock(api_client: Any, timeout: float, clock: Clock) -> tuple[str, ClockOffset | None]:
    """``GET /version`` three times: the server's version and the tightest clock estimate."""
    best: ClockOffset | None = None
    version = ""
    for _ in range(3):
        sent = clock.now().timestamp()
        reply = send(
            api_client,
            "GET",
            "/version",
            verb="get",
            what="/version",
            timeout=timeout,
            raise_for_status=False,
        )
        received = clock.now().timestamp()
        if reply.status in (401, 403) or (reply.status >= 300 and reply.is_status):
            raise api_error(reply.status, reply.data, verb="get", what="/version")
        if reply.status != 200 or not reply.json().get("gitVersion"):
            snippet = " ".join(reply.data[:200].decode("utf-8", "replace").split())[:60]
            raise ApiError(
                f"{api_client.configuration.host} answered GET /version with HTTP "
                f"{reply.status} ({snippet!r}): it is not a Kubernetes API server; check the "
                "server address (kubectl config view --minify)",
                status=reply.status,
                reason="NotKubernetes",
                verb="get",
            )
        version = str(reply.json().get("gitVersion", "")) or version
        estimate = estimate_clock_offset(
            reply.headers.get("date", ""), sent, received, reply.elapsed
        )
        if estimate is not None and (best is None or estimate.round_trip < best.round_trip):
            best = estimate
    return version, best


def run_check(
    lease_name: str,
    namespace: str = "default",
    *,
    kubeconfig: str | None = None,
    api_client: Any = None,
    pod_label: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock | None = None,
) -> CheckReport:
    """Check everything ``check`` checks; ``timeout`` (seconds) bounds each request.

    Raises ``ConfigurationError`` for invalid names or a configuration that cannot be loaded.
    """
    clock = clock or SystemClock()
    report = CheckReport(lease_name, namespace)
    options = LeaderElectionOptions(
        lease_name=lease_name, namespace=namespace, kubeconfig=kubeconfig, api_client=api_client
    )
    # 1. Where the API server is, found as the library finds it.
    connection = resolve_connection(options)
    if connection is None:
        report.problems.append(
            "No Kubernetes cluster configuration found (no --kubeconfig, in-cluster "
            "environment, KUBECONFIG or ~/.kube/config): the library would run in standalone "
            "mode and lead alone. Pass --kubeconfig PATH or run inside the cluster."
        )
        return report
    try:
        api = connection.api_client
        report.server = str(api.configuration.host)
        report.source = connection.source
        # 2. Reachable? And how far apart are the clocks?
        try:
            report.server_version, report.clock = _measure_clock(api, timeout, clock)
            report.reachable = True
        except ApiError as exc:
            report.problems.append(f"The API server cannot be used: {exc}.")
            return report
        report.user, report.user_source = _who(api, connection.source, kubeconfig, timeout)
        if report.clock is not None and report.clock.notable:
            report.warnings.append(
                f"Clocks differ: {report.clock.to_text()}. Candidates are not affected, but "
                "renewTime ages shown by status are off by that much; enable NTP."
            )
        # 3. RBAC, verb by verb.
        report.preflight = run_preflight(
            api, lease_name, namespace, pod_label=pod_label, timeout=timeout
        )
        error = report.preflight.error()
        if error is not None:
            report.problems.append(str(error))
        warning = report.preflight.warning()
        if warning is not None:
            report.warnings.append(warning[0].upper() + warning[1:] + ".")
        # 4. The Lease.
        try:
            report.lease = lease_from_api(api, lease_name, namespace, timeout=timeout, clock=clock)
        except NotFoundError as exc:
            report.lease_error = str(exc)
            report.warnings.append(
                f"Lease {namespace}/{lease_name} does not exist yet; the first candidate "
                "creates it."
            )
        except ForbiddenError as exc:
            report.lease_error = str(exc)
            if error is None:  # else the RBAC finding above already says it
                report.problems.append(f"The Lease cannot be read: {exc}.")
        except ApiError as exc:
            report.lease_error = str(exc)
            report.problems.append(f"The Lease cannot be read: {exc}.")
        else:
            lease = report.lease
            if lease.held and lease.expired:
                report.problems.append(
                    f"Lease {namespace}/{lease_name} is held by {lease.holder!r} but was not "
                    f"renewed for {lease.renewed_ago or 0:.0f} s (lease duration "
                    f"{lease.lease_duration_seconds} s): that candidate stopped or cannot reach "
                    "the API server, and no other candidate took over. Check that candidates "
                    "are running (kubectl get pods) and their logs."
                )
    finally:
        connection.close()
    return report
