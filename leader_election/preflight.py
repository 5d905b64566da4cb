"""RBAC preflight: ask the API server, verb by verb, whether this identity may do what leader
election will do, before it tries.

One ``SelfSubjectAccessReview`` (``authorization.k8s.io/v1``, which every authenticated user
may create) per permission a configuration needs:

=========  ========================  ======================  =====================
resource   verbs                     when                    required
=========  ========================  ======================  =====================
leases     get, update, watch        always (on the Lease)   yes
leases     create                    always (any name)       yes
pods       get, patch                ``leader_pod_label``    yes, when configured
events     create                    event recording         no (a warning)
=========  ========================  ======================  =====================

``create`` is asked without a name: Kubernetes authorizes a create before it reads the body, so
a Role cannot restrict it by ``resourceNames``. ``watch`` is asked with the Lease's name, as the
library's watch carries ``fieldSelector=metadata.name=NAME``.

``run_preflight`` returns a ``PreflightReport`` (one ``PermissionCheck`` per verb: allowed,
denied or unknown); ``PreflightReport.error()`` turns the missing required verbs into one
``ForbiddenError`` naming each and the fix, ``PreflightReport.warning()`` the optional ones into
one sentence. Nothing here retries or sleeps; each review is bounded by ``timeout``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leader_election.apirequest import send
from leader_election.errors import ApiError, ForbiddenError

__all__ = [
    "Permission",
    "PermissionCheck",
    "PreflightReport",
    "Verdict",
    "check_permissions",
    "required_permissions",
    "run_preflight",
]

REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


class Verdict(enum.Enum):
    """What the API server said about one permission."""

    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"  # the review itself failed: no answer, not served, not allowed to ask


@dataclass(frozen=True, slots=True)
class Permission:
    """One verb on one resource that a configuration needs."""

    verb: str
    resource: str
    group: str
    namespace: str
    name: str = ""  # "" for a request without a name (create)
    required: bool = True
    why: str = ""

    def __str__(self) -> str:
        target = f"{self.resource}/{self.name}" if self.name else self.resource
        group = f".{self.group}" if self.group else ""
        return f"{self.verb} {target}{group} in namespace {self.namespace}"

    def attributes(self) -> dict[str, str]:
        """The review's ``resourceAttributes``."""
        attrs = {
            "namespace": self.namespace,
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
        }
        if self.name:
            attrs["name"] = self.name
        return attrs


@dataclass(frozen=True, slots=True)
class PermissionCheck:
    """A permission and the verdict on it; ``reason`` is the server's reason or the error."""

    permission: Permission
    verdict: Verdict
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        p = self.permission
        return {
            "verb": p.verb,
            "resource": p.resource,
            "group": p.group,
            "namespace": p.namespace,
            "name": p.name or None,
            "required": p.required,
            "why": p.why,
            "verdict": self.verdict.value,
            "reason": self.reason or None,
        }


def required_permissions(
    lease_name: str,
    namespace: str,
    *,
    pod_label: bool = False,
    events: bool = True,
) -> tuple[Permission, ...]:
    """The permissions leader election on ``namespace/lease_name`` needs.

    ``pod_label``: the leader labels its Pod (``leader_pod_label``), so ``get`` and ``patch`` on
    pods are required. ``events``: also ask about ``create`` on events (optional: a warning).
    """
    group = "coordination.k8s.io"
    permissions = [
        Permission("get", "leases", group, namespace, lease_name, why="read the Lease"),
        Permission("create", "leases", group, namespace, why="the first candidate creates it"),
        Permission("update", "leases", group, namespace, lease_name, why="acquire, renew, release"),
        Permission(
            "watch", "leases", group, namespace, lease_name, why="followers see a release at once"
        ),
    ]
    if pod_label:
        permissions += [
            Permission("get", "pods", "", namespace, why="read a Pod's leader label"),
            Permission("patch", "pods", "", namespace, why="set and clear the leader label"),
        ]
    if events:
        permissions.append(
            Permission(
                "create", "events", "", namespace, required=False, why="record leadership events"
            )
        )
    return tuple(permissions)


def _check_one(api_client: Any, permission: Permission, timeout: float) -> PermissionCheck:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": permission.attributes()},
    }
    try:
        reply = send(
            api_client,
            "POST",
            REVIEW_PATH,
            verb="create",
            what="selfsubjectaccessreviews.authorization.k8s.io",
            timeout=timeout,
            body=body,
        )
    except ApiError as exc:
        return PermissionCheck(permission, Verdict.UNKNOWN, str(exc))
    status = reply.json().get("status")
    if not isinstance(status, dict):
        return PermissionCheck(permission, Verdict.UNKNOWN, "the review came back without status")
    reason = str(status.get("reason") or status.get("evaluationError") or "")
    if status.get("allowed") is True:
        return PermissionCheck(permission, Verdict.ALLOWED, reason)
    return PermissionCheck(permission, Verdict.DENIED, reason)


def check_permissions(
    api_client: Any, permissions: Sequence[Permission], *, timeout: float
) -> tuple[PermissionCheck, ...]:
    """One review per permission, in order; never raises for an API error (``UNKNOWN``)."""
    return tuple(_check_one(api_client, permission, timeout) for permission in permissions)


@dataclass(frozen=True, slots=True)
class PreflightReport:
    """The verdict on every permission a configuration needs."""

    lease_name: str
    namespace: str
    checks: tuple[PermissionCheck, ...]
    pod_label: bool = False

    @property
    def missing_required(self) -> tuple[Permission, ...]:
        return tuple(
            c.permission
            for c in self.checks
            if c.permission.required and c.verdict is Verdict.DENIED
        )

    @property
    def missing_optional(self) -> tuple[Permission, ...]:
        return tuple(
            c.permission
            for c in self.checks
            if not c.permission.required and c.verdict is Verdict.DENIED
        )

    @property
    def unknown(self) -> tuple[PermissionCheck, ...]:
        return tuple(c for c in self.checks if c.verdict is Verdict.UNKNOWN)

    @property
    def ok(self) -> bool:
        """No required permission is denied or unknown."""
        return not self.missing_required and not any(c.permission.required for c in self.unknown)

    def fix(self) -> str:
        """How to grant what is missing."""
        flags = " --pod-label" if self.pod_label else ""
        return (
            "Grant it with: leader-election rbac "
            f"--lease {self.lease_name} -n {self.namespace}{flags} --service-account SA "
            "| kubectl apply -f -  (SA: the Pod's serviceAccountName; the same manifests ship "
            "in the package: python -m leader_election rbac --help)"
        )

    def error(self) -> ForbiddenError | None:
        """One ``ForbiddenError`` naming every missing required verb, or None."""
        missing = self.missing_required
        if not missing:
            return None
        listed = "; ".join(f"{p} ({p.why})" for p in missing)
        verbs = ", ".join(sorted({p.verb for p in missing}))
        return ForbiddenError(
            f"RBAC denies {len(missing)} verb(s) leader election on Lease "
            f"{self.namespace}/{self.lease_name} needs: {listed}. {self.fix()}",
            status=403,
            reason="Forbidden",
            verb=verbs,
        )

    def warning(self) -> str | None:
        """One sentence about the optional verbs denied or any verb that could not be asked."""
        parts = []
        if self.missing_optional:
            listed = "; ".join(f"{p} ({p.why})" for p in self.missing_optional)
            parts.append(f"optional permission(s) denied, that feature stays off: {listed}")
        if self.unknown:
            first = self.unknown[0]
            parts.append(
                f"{len(self.unknown)} permission(s) could not be checked "
                f"(SelfSubjectAccessReview failed: {first.reason})"
            )
        return "; ".join(parts) if parts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
            "missing_required": [str(p) for p in self.missing_required],
            "missing_optional": [str(p) for p in self.missing_optional],
        }


def run_preflight(
    api_client: Any,
    lease_name: str,
    namespace: str,
    *,
    pod_label: bool = False,
    events: bool = True,
    timeout: float = 5.0,
) -> PreflightReport:
    """Review every permission ``required_permissions`` lists; never raises for API errors.

    ``timeout`` (seconds) bounds each review. Call ``report.error()`` to fail fast on a
    missing required verb and log ``report.warning()``.
    """
    permissions = required_permissions(lease_name, namespace, pod_label=pod_label, events=events)
    checks = check_permissions(api_client, permissions, timeout=timeout)
    return PreflightReport(lease_name, namespace, checks, pod_label=pod_label)
