"""Balance of a group's Leases over its live members: pure functions, no I/O, no clock reads.

Every member computes the same assignment from the same inputs — the group's Lease names
and the identities of the live members — so members agree without talking to each other:

- ``share(n, m)`` is ``ceil(n / m)``: no member is assigned more Leases than that;
- ``assign`` gives each Lease to the member that ranks highest for it by rendezvous
  (highest-random-weight) hashing among those with room left, Leases taken in a fixed order.
  The same membership always gives the same assignment (no flapping), and a member that
  joins or leaves moves only about ``n / m`` Leases, not all of them.

Membership (``Membership``) is judged as an election judges expiry (``state.py``, rule 1):
a member is alive while the heartbeat Lease it renews was last *seen to change* less than
its ``leaseDurationSeconds`` ago, by the local monotonic clock; a released heartbeat (empty
``holderIdentity``) means the member left. A heartbeat seen only as it was first found may
be a dead member's (found by a member that started after the death): it counts as alive no
longer than its ``renewTime`` plus ``leaseDurationSeconds`` on this member's wall clock says
either. That is only a hint — wall clocks may disagree — and only ever shortens the local
rule; it is used for balance, never to take a Lease. A live member is *confirmed* once its
heartbeat was seen to change: only then does it get Leases handed over (a new member's first
renewal comes after its settle, when it takes Leases).

What this cannot promise: members whose views differ (one saw a heartbeat that another did
not yet) disagree for up to one lease duration; each Lease still has at most one leader —
that is the election's guarantee, not the balance's.
"""

from __future__ import annotations

import datetime
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from leader_election.record import LeaseRecord

__all__ = ["Membership", "assign", "member_lease_name", "rank", "share"]


def share(leases: int, members: int) -> int:
    """The most Leases one of ``members`` live members is assigned: ``ceil(leases/members)``."""
    return math.ceil(leases / max(members, 1))


def _weight(lease: str, member: str) -> int:
    digest = hashlib.blake2b(f"{lease}\0{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rank(lease: str, members: Iterable[str]) -> list[str]:
    """``members`` in order of preference for ``lease`` (rendezvous hashing)."""
    return sorted(members, key=lambda member: (-_weight(lease, member), member))


def assign(leases: Iterable[str], members: Iterable[str]) -> dict[str, frozenset[str]]:
    """Member identity -> the Leases it should hold; every member gets at most ``share``.

    Deterministic: the Leases are taken in sorted order and each goes to its best-ranked
    member that still has room, so every member computing this gets the same answer.
    """
    names = sorted(set(leases))
    people = sorted(set(members))
    if not people:
        return {}
    cap = share(len(names), len(people))
    load: dict[str, list[str]] = {member: [] for member in people}
    for lease in names:
        for member in rank(lease, people):
            if len(load[member]) < cap:
                load[member].append(lease)
                break
    return {member: frozenset(held) for member, held in load.items()}


def member_lease_name(group_name: str, identity: str) -> str:
    """The heartbeat Lease of ``identity`` in ``group_name``: ``<group>-member-<hash>``."""
    digest = hashlib.blake2b(identity.encode(), digest_size=5).hexdigest()
    return f"{group_name}-member-{digest}"


@dataclass(frozen=True, slots=True)
class _Heartbeat:
    record: LeaseRecord
    observed_at: float
    changed: bool  # seen to change since first found: its member renews it
    expires_at: float  # monotonic: when the member counts as gone unless it changes


class Membership:
    """The heartbeat Leases seen, and who is alive by local observation (not thread-safe:
    the group's elector thread owns it)."""

    def __init__(self) -> None:
        self._seen: dict[str, _Heartbeat] = {}

    def observe(
        self,
        lease_name: str,
        record: LeaseRecord | None,
        now: float,
        wall: datetime.datetime | None = None,
    ) -> None:
        """A heartbeat Lease was seen (``None``: deleted) at ``now`` (monotonic seconds;
        ``wall``: this member's wall clock then, for the first-sighting hint)."""
        if record is None:
            self._seen.pop(lease_name, None)
            return
        previous = self._seen.get(lease_name)
        duration = float(record.lease_duration_seconds)
        if previous is None:
            left = duration
            if wall is not None and record.renew_time is not None:
                by_wall = (record.renew_time - wall).total_seconds() + duration
                left = min(left, max(by_wall, 0.0))
            self._seen[lease_name] = _Heartbeat(record, now, False, now + left)
        elif previous.record != record:
            # Expiry counts from when we saw it change, never from its renewTime (rule 1).
            self._seen[lease_name] = _Heartbeat(record, now, record.is_held, now + duration)

    def alive(self, now: float) -> frozenset[str]:
        """The identities whose heartbeat is held and not expired at ``now``."""
        return frozenset(
            beat.record.holder_identity
            for beat in self._seen.values()
            if beat.record.is_held and now < beat.expires_at
        )

    def confirmed(self, now: float) -> frozenset[str]:
        """The live members whose heartbeat was seen to change (see the module docstring)."""
        return frozenset(
            beat.record.holder_identity
            for beat in self._seen.values()
            if beat.changed and beat.record.is_held and now < beat.expires_at
        )

    def next_expiry(self, now: float) -> float:
        """When the next live member's heartbeat runs out unless it changes (``inf``: none)."""
        ends = [beat.expires_at for beat in self._seen.values() if beat.record.is_held]
        return min((end for end in ends if end > now), default=math.inf)

    def holders(self) -> Mapping[str, str]:
        """Heartbeat Lease name -> holder identity, as last seen."""
        return {name: beat.record.holder_identity for name, beat in self._seen.items()}
