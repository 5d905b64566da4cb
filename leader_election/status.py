"""One read of a Lease, reported as an operator wants to see it (``leader-election status``).

The connection is found exactly as the library finds it (``connection.py``: ``--kubeconfig``,
in-cluster, ``KUBECONFIG``, ``~/.kube/config``). A single read cannot judge expiry the way
candidates do (by when they saw the record change, on their own monotonic clock); the report
compares ``renewTime + leaseDurationSeconds`` with this machine's wall clock instead, as
``kubectl`` users do by eye, and says so.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from leader_election.apirequest import send
from leader_election.clock import Clock, SystemClock
from leader_election.connection import resolve_connection
from leader_election.errors import ApiError, ConfigurationError, ForbiddenError, NotFoundError
from leader_election.options import LeaderElectionOptions
from leader_election.record import format_micro_time, record_from_lease
from leader_election.transport import api_error, lease_path

__all__ = ["DEFAULT_TIMEOUT", "LeaseStatus", "lease_from_api", "no_cluster_error", "read_status"]

DEFAULT_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseStatus:
    """What one read of a Lease shows. Ages are seconds before ``observed_at`` (wall clock)."""

    namespace: str
    name: str
    holder: str
    """``holderIdentity``; ``""`` when nobody holds the Lease (released or never acquired)."""
    acquire_time: datetime.datetime | None
    renew_time: datetime.datetime | None
    lease_duration_seconds: int
    lease_transitions: int
    observed_at: datetime.datetime

    @property
    def held(self) -> bool:
        return self.holder != ""

    @property
    def acquired_ago(self) -> float | None:
        return _age(self.acquire_time, self.observed_at)

    @property
    def renewed_ago(self) -> float | None:
        return _age(self.renew_time, self.observed_at)

    @property
    def expired(self) -> bool:
        """True when nobody holds the Lease, or its holder has not renewed within the lease
        duration (by this machine's clock): any candidate may take it."""
        renewed = self.renewed_ago
        if not self.held or renewed is None or self.lease_duration_seconds <= 0:
            return True
        return renewed > self.lease_duration_seconds

    def to_json(self) -> dict[str, Any]:
        """The report as ``-o json`` prints it (times in RFC 3339, durations in seconds)."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "holder": self.holder or None,
            "held": self.held,
            "acquire_time": _iso(self.acquire_time),
            "renew_time": _iso(self.renew_time),
            "acquired_ago_seconds": _round(self.acquired_ago),
            "renewed_ago_seconds": _round(self.renewed_ago),
            "lease_duration_seconds": self.lease_duration_seconds,
            "lease_transitions": self.lease_transitions,
            "expired": self.expired,
            "observed_at": _iso(self.observed_at),
        }

    def to_text(self) -> str:
        """The report for people, one field a line."""
        if not self.held:
            state = "free: nobody holds it (released, or never acquired)"
        elif self.expired:
            state = "expired: the holder stopped renewing; the next candidate may take it"
        else:
            renewed = self.renewed_ago or 0.0
            state = f"held, expires in {self.lease_duration_seconds - renewed:.1f} s unless renewed"
        rows = [
            ("Lease", f"{self.namespace}/{self.name}"),
            ("Holder", self.holder or "<none>"),
            ("Acquired", _when(self.acquire_time, self.acquired_ago)),
            ("Renewed", _when(self.renew_time, self.renewed_ago)),
            ("Lease duration", f"{self.lease_duration_seconds} s"),
            ("Transitions", str(self.lease_transitions)),
            ("State", state),
        ]
        width = max(len(label) for label, _ in rows) + 1
        lines = [f"{label + ':':<{width}} {value}" for label, value in rows]
        lines.append("(ages and expiry by this machine's clock; candidates judge expiry by")
        lines.append(" when they saw the Lease change, so clock skew does not affect them)")
        return "\n".join(lines) + "\n"


def _age(when: datetime.datetime | None, now: datetime.datetime) -> float | None:
    return None if when is None else (now - when).total_seconds()


def _iso(when: datetime.datetime | None) -> str | None:
    return None if when is None else format_micro_time(when)


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _when(when: datetime.datetime | None, ago: float | None) -> str:
    if when is None or ago is None:
        return "<never>"
    relative = f"{ago:.1f} s ago" if ago >= 0 else f"{-ago:.1f} s in the future (clock skew)"
    return f"{format_micro_time(when)} ({relative})"


def _rbac_fix(namespace: str, name: str) -> str:
    return (
        f"grant get on it: leader-election rbac --lease {name} -n {namespace} "
        "--service-account SA | kubectl apply -f -"
    )


def lease_from_api(
    api_client: Any,
    lease_name: str,
    namespace: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock | None = None,
) -> LeaseStatus:
    """GET the Lease through ``api_client`` once and return its ``LeaseStatus``.

    Raises ``NotFoundError`` (the API server has no such Lease), ``ApiError`` (status 0: no
    answer, with the real cause and time; a 404 that is not a Kubernetes ``Status``: not a
    Kubernetes API server) and the other ``ApiError`` leaves (``ForbiddenError`` with the fix).
    """
    what = f'leases.coordination.k8s.io "{lease_name}" in namespace "{namespace}"'
    host = str(api_client.configuration.host)
    reply = send(
        api_client,
        "GET",
        lease_path(namespace, lease_name),
        verb="get",
        what=what,
        timeout=timeout,
        raise_for_status=False,
    )
    if reply.status == 404 and not reply.is_status:
        # kube-apiserver answers every 404 with a Status object; anything else is some other
        # HTTP server (a wrong port, a proxy, an ingress) at the address in the configuration.
        snippet = " ".join(reply.data[:200].decode("utf-8", "replace").split())[:60]
        raise ApiError(
            f"get {what}: {host} answered 404 without a Kubernetes Status body "
            f"({snippet!r}): it is not a Kubernetes API server; check the server address "
            "(kubectl config view --minify)",
            status=404,
            reason="NotKubernetes",
            verb="get",
        )
    if reply.status == 404:
        raise NotFoundError(
            f"Lease {namespace}/{lease_name} not found: no candidate has run yet, it was "
            "deleted, or the namespace or name is wrong "
            f"(kubectl get leases -n {namespace} lists those that exist)",
            status=404,
            reason="NotFound",
            body=reply.json(),
            verb="get",
        )
    if reply.status == 403:
        error = api_error(reply.status, reply.data, verb="get", what=what)
        raise ForbiddenError(
            f"{error}. Fix: {_rbac_fix(namespace, lease_name)}",
            status=403,
            reason=error.reason,
            body=error.body,
            verb="get",
        )
    if not 200 <= reply.status < 300:
        raise api_error(reply.status, reply.data, verb="get", what=what)
    obj = reply.json()
    if obj.get("kind") != "Lease":
        raise ApiError(
            f"get {what}: {host} answered {reply.status} with something that is not a Lease: "
            "it is not a Kubernetes API server, or not the one you meant",
            status=reply.status,
            reason="NotKubernetes",
            verb="get",
        )
    record = record_from_lease(obj)
    return LeaseStatus(
        namespace=namespace,
        name=lease_name,
        holder=record.holder_identity,
        acquire_time=record.acquire_time,
        renew_time=record.renew_time,
        lease_duration_seconds=record.lease_duration_seconds,
        lease_transitions=record.lease_transitions,
        observed_at=(clock or SystemClock()).now(),
    )


def no_cluster_error() -> ConfigurationError:
    """What the commands say when no cluster configuration exists."""
    return ConfigurationError(
        "no Kubernetes cluster found (no --kubeconfig, in-cluster environment, KUBECONFIG "
        "or ~/.kube/config): there is no Lease to show",
        option="kubeconfig",
        value=None,
    )


def read_status(
    lease_name: str,
    namespace: str = "default",
    *,
    kubeconfig: str | None = None,
    api_client: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock | None = None,
) -> LeaseStatus:
    """Read the Lease once and return its ``LeaseStatus``.

    Raises ``ConfigurationError`` (invalid names, no cluster found, unreadable kubeconfig),
    ``NotFoundError`` (no such Lease) and other ``ApiError`` leaves (``ForbiddenError`` names
    the missing verb; status 0 names why no answer came).
    """
    options = LeaderElectionOptions(
        lease_name=lease_name, namespace=namespace, kubeconfig=kubeconfig, api_client=api_client
    )
    connection = resolve_connection(options)
    if connection is None:
        raise no_cluster_error()
    try:
        return lease_from_api(
            connection.api_client, lease_name, namespace, timeout=timeout, clock=clock
        )
    finally:
        connection.close()
