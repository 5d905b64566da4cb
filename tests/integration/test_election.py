"""Elections against the embedded Lease API server, through the real kubernetes client.

Timings come from conftest.FAST: renew every 200 ms, step down after 600 ms without a
successful renewal, Lease duration 1 s.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from kubernetes import client

from leader_election import (
    LeaderElectedEvent,
    LeaderLostEvent,
    LostReason,
    SkewedClock,
    State,
    leader_changed,
    leader_elected,
    leader_lost,
)
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import Factory, LeadershipSampler, current_leaders, one_leader


def lease_of(server: LeaseAPIServer, name: str = "test-lease") -> dict[str, Any]:
    obj = server.get_object("leases", "default", name)
    assert obj is not None
    return dict(obj)


def test_one_candidate_among_several_leads(candidate: Factory, server: LeaseAPIServer) -> None:
    modules = [candidate() for _ in range(5)]
    with LeadershipSampler(modules) as sampler:
        for module in modules:
            module.start()
        leader = wait_for(lambda: one_leader(modules), what="exactly one leader")
        spec = lease_of(server)["spec"]
        assert spec["holderIdentity"] == leader.identity
        assert spec["leaseDurationSeconds"] == 1
        wait_for(
            lambda: all(m.leader_identity == leader.identity for m in modules),
            what="every candidate to observe the leader",
        )
    assert sampler.overlaps == []


def test_handover_after_stop_takes_well_under_a_second(candidate: Factory) -> None:
    modules = [candidate() for _ in range(3)]
    for module in modules:
        module.start()
    leader = wait_for(lambda: one_leader(modules), what="a first leader")
    followers = [m for m in modules if m is not leader]
    elected = threading.Event()

    def on_elected(sender: Any, *, event: LeaderElectedEvent) -> None:
        elected.set()

    with LeadershipSampler(modules) as sampler:
        for follower in followers:
            leader_elected.connect(on_elected, sender=follower)
        try:
            started = time.monotonic()
            leader.stop()
            assert elected.wait(5), "no follower was elected after the leader stopped"
            handover = time.monotonic() - started
        finally:
            for follower in followers:
                leader_elected.disconnect(on_elected, sender=follower)
    assert handover < 0.5, f"handover took {handover:.3f} s"
    assert sampler.overlaps == []


def test_events_alternate_and_carry_the_nest_payload(candidate: Factory) -> None:
    seen: list[Any] = []
    first, second = candidate("first"), candidate("second")

    def record(sender: Any, *, event: Any) -> None:
        seen.append((sender.identity, event))

    receivers = [(sig, record) for sig in (leader_elected, leader_lost, leader_changed)]
    for sig, fn in receivers:
        sig.connect(fn)
    try:
        first.start()
        wait_for(lambda: first.is_leader, what="first to lead")
        second.start()
        wait_for(lambda: second.leader_identity == "first", what="second to see first lead")
        first.stop()
        wait_for(lambda: second.is_leader, what="second to take over")
        second.stop()
    finally:
        for sig, fn in receivers:
            sig.disconnect(fn)
    elected = [(who, e) for who, e in seen if isinstance(e, LeaderElectedEvent)]
    lost = [(who, e) for who, e in seen if isinstance(e, LeaderLostEvent)]
    assert [who for who, _ in elected] == ["first", "second"]
    assert [(who, e.reason) for who, e in lost] == [
        ("first", LostReason.RELEASED),
        ("second", LostReason.RELEASED),
    ]
    first_term, second_term = elected[0][1], elected[1][1]
    assert first_term.lease_name == "test-lease"
    assert first_term.namespace == "default"
    assert second_term.fencing_token > first_term.fencing_token
    changes = [e.leader for who, e in seen if who == "second" and hasattr(e, "leader")]
    assert changes[:3] == ["first", None, "second"]


def test_the_leader_renews_without_reading_and_followers_only_watch(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    leader, follower = candidate("leader"), candidate("follower")
    leader.start()
    wait_for(lambda: leader.is_leader, what="leader to lead")
    follower.start()
    wait_for(lambda: follower.leader_identity == "leader", what="follower to observe")

    def only_watching() -> bool:
        # The follower's watch is open and nothing else of it is in flight: a request that
        # finished before clear() is not counted, one still running would be.
        in_flight = server.requests.in_flight(user="follower")
        return bool(in_flight) and all(e.verb == "watch" for e in in_flight)

    wait_for(only_watching, what="the follower to only watch (its watch open, no other request)")
    server.requests.clear()
    window_start = time.monotonic()
    wait_for(lambda: time.monotonic() - window_start >= 2.0, 5, what="a 2 s window")
    elapsed = time.monotonic() - window_start
    leader_writes = server.requests.count(user="leader", verb="update")
    leader_reads = server.requests.count(user="leader", verb="get")
    follower_requests = [
        e
        for e in server.requests.entries()
        if e.user == "follower" and e.verb != "watch" and e.resource == "leases"
    ]
    assert leader_writes <= elapsed / 0.2 + 1
    assert leader_writes >= elapsed / 0.2 - 2
    assert leader_reads == 0
    assert follower_requests == []


def test_a_lease_deleted_under_the_leader_ends_its_term(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    lost: list[LeaderLostEvent] = []
    a, b = candidate("a"), candidate("b")
    for module in (a, b):
        module.start()
    leader = wait_for(lambda: one_leader([a, b]), what="a leader")
    token = leader.fencing_token
    assert token is not None

    def on_lost(sender: Any, *, event: LeaderLostEvent) -> None:
        lost.append(event)

    with leader_lost.connected_to(on_lost, sender=leader):
        client.CoordinationV1Api(server.api_client()).delete_namespaced_lease(
            "test-lease", "default"
        )
        wait_for(lambda: lost, what="leader.lost after the deletion")
    assert lost[0].reason is LostReason.LEASE_DELETED
    new_leader = wait_for(lambda: one_leader([a, b]), what="a leader of the new Lease")
    assert new_leader.fencing_token is not None
    assert new_leader.fencing_token > token  # fencing tokens survive the deletion


def test_a_holder_written_by_hand_takes_the_lease_over(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    lost: list[LeaderLostEvent] = []
    leader = candidate("leader")
    leader.start()
    wait_for(lambda: leader.is_leader, what="leader to lead")
    with leader_lost.connected_to(lambda s, event: lost.append(event), sender=leader):
        client.CoordinationV1Api(server.api_client()).patch_namespaced_lease(
            "test-lease", "default", {"spec": {"holderIdentity": "an-operator"}}
        )
        wait_for(lambda: lost, 5, what="leader.lost after the takeover")
    assert lost[0].reason is LostReason.TAKEN_OVER
    assert not leader.is_leader
    assert leader.leader_identity == "an-operator"


def test_a_storm_of_metadata_edits_does_not_dethrone_the_leader(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    """Fifty label edits a second while the leader renews five times a second."""
    leader = candidate("leader")
    leader.start()
    wait_for(lambda: leader.is_leader, what="leader to lead")
    api = client.CoordinationV1Api(server.api_client())
    lost: list[Any] = []
    pause = threading.Event()
    with leader_lost.connected_to(lambda s, event: lost.append(event), sender=leader):
        deadline = time.monotonic() + 3.0
        n = 0
        while time.monotonic() < deadline:
            n += 1
            api.patch_namespaced_lease(
                "test-lease", "default", {"metadata": {"labels": {"edit": str(n)}}}
            )
            pause.wait(0.02)
        assert leader.is_leader
    assert lost == []
    assert n >= 100
    # Renewals kept landing: the watch hands the leader each edited object as its next base
    # (the record is unchanged), and a renewal that still conflicts re-reads and retries.
    assert server.requests.count(user="leader", verb="update", code=200) >= 3.0 / 0.2 - 2


def test_a_blackholed_leader_steps_down_before_anyone_takes_over(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    modules = [candidate(f"c{i}") for i in range(3)]
    for module in modules:
        module.start()
    leader = wait_for(lambda: one_leader(modules), what="a first leader")
    lost: list[LeaderLostEvent] = []
    with (
        LeadershipSampler(modules) as sampler,
        leader_lost.connected_to(lambda s, event: lost.append(event), sender=leader),
    ):
        cut = server.faults.blackhole(user=leader.identity)
        try:
            new_leader = wait_for(
                lambda: next((m for m in current_leaders(modules) if m is not leader), None),
                10,
                what="another candidate to take over",
            )
            assert not leader.is_leader
            wait_for(lambda: lost, 5, what="the partitioned leader's leader.lost")
        finally:
            cut.remove()
    assert lost[0].reason is LostReason.RENEW_FAILED
    assert sampler.overlaps == []
    assert new_leader.fencing_token is not None
    # Healed, the old leader keeps competing: it follows, and leads again when allowed.
    wait_for(lambda: leader.leader_identity == new_leader.identity, 5, what="it to follow")
    assert leader.state is State.FOLLOWING
    for module in modules:
        if module is not leader:
            module.stop()
    wait_for(lambda: leader.is_leader, 5, what="the healed candidate to lead again")


def test_server_errors_are_retried_until_they_stop(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    modules = [candidate(f"c{i}") for i in range(2)]
    outage = server.faults.error(503)
    try:
        for module in modules:
            module.start()
        wait_for(
            lambda: server.requests.count(code=503, resource="leases") >= 6,
            10,
            what="retries during the outage",
        )
        assert current_leaders(modules) == []
        assert all(m.last_error is not None and m.last_error.status == 503 for m in modules)
    finally:
        outage.remove()
    wait_for(lambda: one_leader(modules), 10, what="a leader once the API answers again")


def test_a_receiver_that_blocks_never_delays_renewals(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    release = threading.Event()
    blocked = threading.Event()

    def stuck(sender: Any, *, event: Any) -> None:
        blocked.set()
        release.wait(10)

    leader = candidate("leader")
    leader_elected.connect(stuck, sender=leader)
    try:
        leader.start()
        assert blocked.wait(5)
        server.requests.clear()
        wait_for(
            lambda: server.requests.count(user="leader", verb="update", code=200) >= 5,
            5,
            what="renewals while a receiver blocks",
        )
        assert leader.is_leader
    finally:
        release.set()
        leader_elected.disconnect(stuck, sender=leader)


def test_skewed_wall_clocks_change_nothing(candidate: Factory, server: LeaseAPIServer) -> None:
    # The leader's wall clock is an hour behind: its renewTime looks an hour stale to others.
    leader = candidate("behind", clock=SkewedClock(-3600))
    ahead = candidate("ahead", clock=SkewedClock(+3600))
    leader.start()
    wait_for(lambda: leader.is_leader, what="the skewed leader to lead")
    ahead.start()
    with LeadershipSampler([leader, ahead]) as sampler:
        wait_for(lambda: ahead.leader_identity == "behind", what="the follower to observe")
        started = time.monotonic()
        wait_for(lambda: time.monotonic() - started > 2.5, 5, what="2.5 lease durations")
        assert leader.is_leader
        assert not ahead.is_leader
    assert sampler.overlaps == []
    assert sampler.leaders_seen == {"behind"}


def test_await_leadership_returns_once_the_first_round_is_decided(candidate: Factory) -> None:
    first = candidate("first", await_leadership=True)
    first.start()
    assert first.is_leader  # decided: it leads
    second = candidate("second", await_leadership=True)
    second.start()
    assert second.state is State.FOLLOWING  # decided: someone else leads
    assert second.leader_identity == "first"


def test_a_missing_namespace_is_reported_as_such(candidate: Factory) -> None:
    from leader_election import NotFoundError

    module = candidate("x", namespace="no-such-namespace", await_leadership=True)
    with pytest.raises(NotFoundError, match="namespace 'no-such-namespace' does not exist"):
        module.start()


def test_modules_of_different_leases_in_one_process_are_independent(
    candidate: Factory,
) -> None:
    jobs = candidate("jobs-runner", lease_name="jobs")
    reports = candidate("reports-runner", lease_name="reports")
    mine: list[str] = []
    with leader_elected.connected_to(
        lambda sender, event: mine.append(event.lease_name), sender=reports
    ):
        jobs.start()
        reports.start()
        wait_for(lambda: jobs.is_leader and reports.is_leader, what="both to lead their Lease")
        wait_for(lambda: mine, what="the reports module's elected event")
        jobs.stop()
        assert reports.is_leader
    assert mine == ["reports"]
