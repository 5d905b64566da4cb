"""``LeaseLock``: the narrow interface between the election and one Lease object.

Get, create, replace with the last seen ``resourceVersion``, and watch — nothing else, like
client-go's ``resourcelock.LeaseLock``. Errors are made actionable here: a 403 names the verb
and points to ``rbac/``, a create in a missing namespace says so.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from leader_election.errors import ApiError, ForbiddenError, NotFoundError
from leader_election.record import (
    LeaseRecord,
    ObservedLease,
    new_lease_body,
    observe,
    updated_lease_body,
)
from leader_election.transport import Transport, WatchStream, lease_path

__all__ = ["RBAC_HINT", "RBAC_VERBS", "LeaseLock", "rbac_hint"]

# The verbs rbac/role.yaml grants; the library sends no other request.
RBAC_VERBS = ("get", "update", "watch", "create")

RBAC_HINT = (
    "grant a Role with get, update and watch on this Lease by name and create on leases in "
    "API group coordination.k8s.io, bound to the pod's ServiceAccount: `leader-election rbac "
    "--lease NAME -n NAMESPACE | kubectl apply -f -` prints one (the same manifests ship in "
    "the package, leader_election/manifests/, a copy of the project's rbac/)"
)


def rbac_hint(verb: str, namespace: str, name: str) -> str:
    """What to do about a 403 on ``verb``: names the verb, the Lease and ``rbac/``."""
    if verb == "create":
        scope = "(create cannot be limited to one name: give it a rule without resourceNames)"
    else:
        scope = f"(if the rule has resourceNames, they must include {name!r})"
    return (
        f"the credentials in use lack the RBAC verb {verb!r} on leases in API group "
        f"coordination.k8s.io in namespace {namespace!r}: {RBAC_HINT}, or add {verb!r} to "
        f"your own Role {scope}"
    )


def _actionable(exc: ApiError, verb: str, lock: LeaseLock) -> ApiError:
    if isinstance(exc, ForbiddenError):
        message = f"{exc}. Fix: {rbac_hint(verb, lock.namespace, lock.name)}"
        return ForbiddenError(
            message, status=exc.status, reason=exc.reason, body=exc.body, verb=verb
        )
    if isinstance(exc, NotFoundError) and verb == "create":
        details = (exc.body or {}).get("details") or {}
        if isinstance(details, dict) and details.get("kind") == "namespaces":
            message = (
                f"{exc}. The namespace {lock.namespace!r} does not exist: create it "
                f"(kubectl create namespace {lock.namespace}) or set namespace= to an "
                "existing one"
            )
            return NotFoundError(
                message, status=exc.status, reason=exc.reason, body=exc.body, verb=verb
            )
    return exc


@dataclasses.dataclass(eq=False)
class LeaseLock:
    """One Lease, addressed by namespace and name, through a ``Transport``."""

    transport: Transport
    namespace: str
    name: str
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Labels every create and replace puts on the Lease (a group's, so its watch with a
    label selector sees it); labels already there are kept."""

    def _labelled(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.labels:
            return body
        metadata = dict(body.get("metadata") or {})
        labels = dict(metadata.get("labels") or {})
        if all(labels.get(key) == value for key, value in self.labels.items()):
            return body
        labels.update(self.labels)
        metadata["labels"] = labels
        body = copy.copy(body)
        body["metadata"] = metadata
        return body

    @property
    def description(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def what(self) -> str:
        return f'leases.coordination.k8s.io "{self.name}" in namespace "{self.namespace}"'

    def get(self, timeout: float) -> ObservedLease | None:
        """Read the Lease; ``None`` when it does not exist."""
        try:
            obj = self.transport.request(
                "GET",
                lease_path(self.namespace, self.name),
                verb="get",
                what=self.what,
                timeout=timeout,
            )
        except NotFoundError as exc:
            if exc.body is None or exc.body.get("kind") != "Status":
                raise ApiError(
                    f"{exc}: the answer is not a Kubernetes Status, so the server at this "
                    "address is not a Kubernetes API server (check the kubeconfig's server)",
                    status=exc.status,
                    body=exc.body,
                    verb="get",
                ) from exc
            return None
        except ApiError as exc:
            raise _actionable(exc, "get", self) from exc
        return observe(obj)

    def create(self, record: LeaseRecord, timeout: float) -> ObservedLease:
        """Create the Lease holding ``record``; ``ConflictError`` if it already exists."""
        try:
            obj = self.transport.request(
                "POST",
                lease_path(self.namespace),
                verb="create",
                what=self.what,
                timeout=timeout,
                body=self._labelled(new_lease_body(self.name, self.namespace, record)),
            )
        except ApiError as exc:
            raise _actionable(exc, "create", self) from exc
        return observe(obj)

    def replace(self, base: ObservedLease, record: LeaseRecord, timeout: float) -> ObservedLease:
        """Replace the Lease last seen as ``base`` with ``record``.

        The body carries ``base``'s resourceVersion: ``ConflictError`` if anyone wrote since,
        ``NotFoundError`` if the Lease was deleted.
        """
        try:
            obj = self.transport.request(
                "PUT",
                lease_path(self.namespace, self.name),
                verb="update",
                what=self.what,
                timeout=timeout,
                body=self._labelled(updated_lease_body(base, record)),
            )
        except ApiError as exc:
            raise _actionable(exc, "update", self) from exc
        return observe(obj)

    def watch(
        self,
        resource_version: str,
        *,
        timeout_seconds: int,
        connect_timeout: float,
        idle_timeout: float | None = None,
    ) -> WatchStream:
        """Watch this one Lease (field selector) from ``resource_version`` ("" = now).

        ``idle_timeout`` (seconds) bounds the wait for the answer and for each read after it:
        a connection silent that long is given up (default: ``timeout_seconds`` + 30)."""
        query = {
            "watch": "true",
            "fieldSelector": f"metadata.name={self.name}",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if resource_version:
            query["resourceVersion"] = resource_version
        try:
            return self.transport.watch(
                lease_path(self.namespace),
                query,
                what=self.what,
                connect_timeout=connect_timeout,
                # The server ends the stream after timeoutSeconds; a silent connection longer
                # than that is dead. The elector asks for less: a half-open connection (a
                # partition) would otherwise be trusted for minutes.
                read_timeout=idle_timeout if idle_timeout is not None else timeout_seconds + 30.0,
            )
        except ApiError as exc:
            raise _actionable(exc, "watch", self) from exc
