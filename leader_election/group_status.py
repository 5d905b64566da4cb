"""One read of a group's Leases (``leader-election status --group NAME``): who holds which.

A single LIST of the namespace's Leases labelled ``leader-election.group=<group>`` — the
group's Leases and its members' heartbeats — each reported as ``status.LeaseStatus`` (ages
and expiry by this machine's wall clock, as ``status.py`` explains). Needs the ``list`` verb,
which a running group does not: this is an operator's tool.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from leader_election.clock import Clock, SystemClock
from leader_election.connection import resolve_connection
from leader_election.errors import ConfigurationError
from leader_election.multiplex import GROUP_LABEL, MEMBER_LABEL
from leader_election.options import LeaderElectionOptions
from leader_election.record import record_from_lease
from leader_election.status import DEFAULT_TIMEOUT, LeaseStatus
from leader_election.transport import Transport, lease_path

__all__ = ["GroupStatus", "read_group_status"]


@dataclasses.dataclass(frozen=True, slots=True)
class GroupStatus:
    """The group's Leases and its members' heartbeats, as one read saw them."""

    namespace: str
    group_name: str
    leases: tuple[LeaseStatus, ...]
    members: tuple[LeaseStatus, ...]

    @property
    def live_members(self) -> tuple[str, ...]:
        """Identities whose heartbeat is held and not expired (by this machine's clock)."""
        return tuple(sorted(m.holder for m in self.members if m.held and not m.expired))

    def held_by(self) -> dict[str, list[str]]:
        """Holder identity -> the Leases it holds (unexpired), ``""`` for free/expired ones."""
        result: dict[str, list[str]] = {}
        for lease in self.leases:
            holder = lease.holder if lease.held and not lease.expired else ""
            result.setdefault(holder, []).append(lease.name)
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "group": self.group_name,
            "live_members": list(self.live_members),
            "leases": [lease.to_json() for lease in self.leases],
            "members": [member.to_json() for member in self.members],
        }

    def to_text(self) -> str:
        lines = [
            f"Group {self.namespace}/{self.group_name}: {len(self.leases)} Leases, "
            f"{len(self.live_members)} live members"
        ]
        held = self.held_by()
        for member in self.live_members:
            names = held.get(member, [])
            lines.append(f"  {member}: {len(names)} ({', '.join(names)})")
        for holder, names in sorted(held.items()):
            if holder and holder not in self.live_members:
                lines.append(f"  {holder} (no live heartbeat): {len(names)} ({', '.join(names)})")
        if "" in held:
            lines.append(f"  free or expired: {len(held[''])} ({', '.join(held[''])})")
        lines.append("(ages and expiry by this machine's clock)")
        return "\n".join(lines) + "\n"


def read_group_status(
    group_name: str,
    namespace: str = "default",
    *,
    kubeconfig: str | None = None,
    api_client: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock | None = None,
) -> GroupStatus:
    """List the group's labelled Leases once and return its ``GroupStatus``.

    Raises ``ConfigurationError`` (invalid names, no cluster found) and ``ApiError`` leaves
    (``ForbiddenError``: the credentials lack ``list`` on leases).
    """
    options = LeaderElectionOptions(
        lease_name=group_name, namespace=namespace, kubeconfig=kubeconfig, api_client=api_client
    )
    connection = resolve_connection(options)
    if connection is None:
        raise ConfigurationError(
            "no Kubernetes cluster found (no --kubeconfig, in-cluster environment, KUBECONFIG "
            "or ~/.kube/config)",
            option="kubeconfig",
            value=kubeconfig,
        )
    try:
        answer = Transport(connection.api_client).request(
            "GET",
            lease_path(namespace),
            verb="list",
            what=f'leases.coordination.k8s.io of group "{group_name}" in namespace "{namespace}"',
            timeout=timeout,
            query={"labelSelector": f"{GROUP_LABEL}={group_name}"},
        )
    finally:
        connection.close()
    observed_at = (clock or SystemClock()).now()
    leases: list[LeaseStatus] = []
    members: list[LeaseStatus] = []
    items = answer.get("items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        metadata = item.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        labels = metadata.get("labels")
        labels = labels if isinstance(labels, Mapping) else {}
        record = record_from_lease(item)
        lease = LeaseStatus(
            namespace=namespace,
            name=str(metadata.get("name", "")),
            holder=record.holder_identity,
            acquire_time=record.acquire_time,
            renew_time=record.renew_time,
            lease_duration_seconds=record.lease_duration_seconds,
            lease_transitions=record.lease_transitions,
            observed_at=observed_at,
        )
        (members if labels.get(MEMBER_LABEL) == group_name else leases).append(lease)
    return GroupStatus(
        namespace,
        group_name,
        tuple(sorted(leases, key=lambda s: s.name)),
        tuple(sorted(members, key=lambda s: s.name)),
    )
