"""The balance of a group's Leases: pure, table-driven, no threads or clock."""

from __future__ import annotations

import datetime
import math

import pytest

from leader_election.balance import Membership, assign, member_lease_name, share
from leader_election.record import LeaseRecord

UTC_ = datetime.timezone.utc
LEASES = [f"work-{i}" for i in range(12)]


@pytest.mark.parametrize(
    ("leases", "members", "expected"), [(12, 3, 4), (12, 5, 3), (1, 3, 1), (1000, 2, 500)]
)
def test_share_is_the_ceiling(leases: int, members: int, expected: int) -> None:
    assert share(leases, members) == expected


@pytest.mark.parametrize("members", [1, 2, 3, 4, 5, 7, 12, 13])
def test_every_lease_is_assigned_once_and_nobody_gets_more_than_its_share(members: int) -> None:
    people = [f"member-{i}" for i in range(members)]
    assignment = assign(LEASES, people)
    counts = [len(held) for held in assignment.values()]
    assert sum(counts) == len(LEASES)
    assert max(counts) <= math.ceil(len(LEASES) / members)
    assert frozenset().union(*assignment.values()) == frozenset(LEASES)


def test_the_same_membership_gives_the_same_assignment_in_any_order() -> None:
    people = ["a", "b", "c"]
    assert assign(LEASES, people) == assign(reversed(LEASES), reversed(people))


def test_a_member_joining_moves_only_about_its_share() -> None:
    leases = [f"work-{i}" for i in range(300)]
    before = assign(leases, ["a", "b", "c"])
    after = assign(leases, ["a", "b", "c", "d"])
    moved = sum(len(before[m] - after[m]) for m in "abc")
    assert len(after["d"]) == 75
    assert moved <= 75 + 30  # the newcomer's share, plus a little for the caps


def test_heartbeat_names_are_short_and_stable() -> None:
    assert member_lease_name("work", "pod-1_abcd") == member_lease_name("work", "pod-1_abcd")
    assert member_lease_name("work", "x" * 253).startswith("work-member-")
    assert len(member_lease_name("work", "x" * 253)) == len("work-member-") + 10


def test_a_member_is_alive_until_its_heartbeat_expires_by_local_observation() -> None:
    members = Membership()
    beat = LeaseRecord(holder_identity="a", lease_duration_seconds=2)
    members.observe("g-member-1", beat, now=10.0)
    assert members.alive(11.9) == {"a"}
    members.observe("g-member-1", beat, now=11.0)  # unchanged: no new sign of life
    assert members.alive(12.0) == frozenset()
    assert members.next_expiry(10.0) == 12.0


def test_a_released_or_deleted_heartbeat_means_the_member_left() -> None:
    members = Membership()
    members.observe("g-member-1", LeaseRecord("a", 2), now=0.0)
    members.observe("g-member-2", LeaseRecord("b", 2), now=0.0)
    members.observe("g-member-1", LeaseRecord("", 1), now=0.5)
    members.observe("g-member-2", None, now=0.5)
    assert members.alive(0.6) == frozenset()


def test_a_member_is_confirmed_once_its_heartbeat_was_seen_to_change() -> None:
    members = Membership()
    members.observe("g-member-1", LeaseRecord("a", 2), now=0.0)
    assert members.alive(0.1) == {"a"}
    assert members.confirmed(0.1) == frozenset()  # found, not yet seen renewing
    renewed = LeaseRecord("a", 2, renew_time=datetime.datetime(2026, 1, 1, tzinfo=UTC_))
    members.observe("g-member-1", renewed, now=0.5)
    assert members.confirmed(0.6) == {"a"}
    assert members.confirmed(2.6) == frozenset()  # expired: neither alive nor confirmed


def test_a_heartbeat_found_stale_by_the_wall_clock_counts_only_that_long() -> None:
    wall = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC_)
    members = Membership()
    # Renewed 5 s ago with a 2 s duration: a dead member's, found by a newcomer.
    dead = LeaseRecord("c", 2, renew_time=wall - datetime.timedelta(seconds=5))
    members.observe("g-member-c", dead, now=100.0, wall=wall)
    # Renewed 0.5 s ago: alive for 1.5 s more by the hint.
    live = LeaseRecord("a", 2, renew_time=wall - datetime.timedelta(seconds=0.5))
    members.observe("g-member-a", live, now=100.0, wall=wall)
    # Renewed "in the future" (a clock ahead): never longer than the local rule.
    ahead = LeaseRecord("b", 2, renew_time=wall + datetime.timedelta(hours=1))
    members.observe("g-member-b", ahead, now=100.0, wall=wall)
    assert members.alive(100.0) == {"a", "b"}
    assert members.alive(101.6) == {"b"}
    assert members.alive(102.0) == frozenset()
    # A change is a sign of life: from then on the local rule alone.
    members.observe("g-member-c", LeaseRecord("c", 2, renew_time=wall), now=103.0, wall=wall)
    assert members.alive(104.9) == {"c"}
