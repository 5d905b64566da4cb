"""Issue #10: safety and liveness under hostile conditions, end to end.

Each test runs real candidates (``candidate`` fixture, conftest.FAST: renew every 200 ms,
renew deadline 600 ms, Lease 1 s) against the embedded server, injects a fault for some users
only, or edits the Lease by hand through the official client, and checks the two invariants:
never two leaders (``LeadershipSampler``), and fencing tokens that strictly increase from one
term to the next.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from leader_election import (
    LeaderElectedEvent,
    LeaderElectionModule,
    LeaderLostEvent,
    LostReason,
    leader_elected,
    leader_lost,
)
from leader_election.record import MAX_TRANSITIONS
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import Factory, LeadershipSampler, current_leaders, one_leader


class Terms:
    """Every leader.elected / leader.lost of some modules, in delivery order."""

    def __init__(self, modules: list[LeaderElectionModule]) -> None:
        self.modules = modules
        self.elected: list[tuple[str, int]] = []
        self.lost: list[tuple[str, LostReason]] = []
        self._lock = threading.Lock()

    def _on_elected(self, sender: Any, *, event: LeaderElectedEvent) -> None:
        with self._lock:
            self.elected.append((event.identity, event.fencing_token))

    def _on_lost(self, sender: Any, *, event: LeaderLostEvent) -> None:
        with self._lock:
            self.lost.append((event.identity, event.reason))

    @contextmanager
    def recording(self) -> Iterator[Terms]:
        for module in self.modules:
            leader_elected.connect(self._on_elected, sender=module)
            leader_lost.connect(self._on_lost, sender=module)
        try:
            yield self
        finally:
            for module in self.modules:
                leader_elected.disconnect(self._on_elected, sender=module)
                leader_lost.disconnect(self._on_lost, sender=module)

    @property
    def tokens(self) -> list[int]:
        with self._lock:
            return [token for _, token in self.elected]


class Presence:
    """Samples every 5 ms whether some module leads; ``fraction`` of samples with a leader."""

    def __init__(self, modules: list[LeaderElectionModule]) -> None:
        self.modules = modules
        self.samples = 0
        self.with_leader = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-leader-presence")

    def __enter__(self) -> Presence:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.samples += 1
            self.with_leader += any(m.is_leader for m in self.modules)

    @property
    def fraction(self) -> float:
        return self.with_leader / max(self.samples, 1)


def leases(server: LeaseAPIServer) -> Any:
    return client.CoordinationV1Api(server.api_client())


def transitions(server: LeaseAPIServer) -> int:
    obj = server.get_object("leases", "default", "test-lease")
    assert obj is not None
    return int(obj["spec"]["leaseTransitions"])


def strictly_increasing(values: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


# -- fencing tokens never go backwards -------------------------------------------------------
def test_a_token_lowered_under_the_leader_is_written_back_and_the_next_term_is_above_it(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    modules = [candidate("a"), candidate("b")]
    terms = Terms(modules)
    with terms.recording(), LeadershipSampler(modules) as sampler:
        for module in modules:
            module.start()
        # Three handovers: tokens 0, 1, 2, 3.
        for _ in range(3):
            leader = wait_for(lambda: one_leader(modules), 5, what="a leader")
            leader.resign()
            wait_for(lambda m=leader: one_leader(modules) not in (None, m), 5, what="a new term")
        leader = wait_for(lambda: one_leader(modules), 5, what="the leader of the last term")
        token = leader.fencing_token
        assert token == 3
        # A restored backup / a stale kubectl apply lowers the token under the leader.
        leases(server).patch_namespaced_lease(
            "test-lease", "default", {"spec": {"leaseTransitions": 0}}
        )
        wait_for(lambda: transitions(server) == token, 5, what="the leader to write 3 back")
        assert leader.is_leader and leader.fencing_token == token
        leader.resign()
        wait_for(lambda: len(terms.tokens) == 5, 5, what="the next term")
    assert terms.tokens == [0, 1, 2, 3, 4]
    assert sampler.overlaps == []


def test_the_int32_maximum_wraps_to_zero_and_elections_go_on(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    # A Lease left by a holder that is gone, at the largest leaseTransitions an int32 holds.
    leases(server).create_namespaced_lease(
        "default",
        {
            "metadata": {"name": "test-lease"},
            "spec": {
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "leaseTransitions": MAX_TRANSITIONS,
            },
        },
    )
    modules = [candidate("a"), candidate("b")]
    terms = Terms(modules)
    with terms.recording(), LeadershipSampler(modules) as sampler:
        modules[0].start()
        wait_for(lambda: modules[0].is_leader, 5, what="a to lead")
        modules[1].start()
        wait_for(lambda: modules[1].leader_identity == "a", 5, what="b to see a lead")
        modules[0].stop()
        wait_for(lambda: modules[1].is_leader, 5, what="b to lead after a")
        # is_leader turns true before leader.elected is delivered: wait for the event too.
        wait_for(lambda: len(terms.tokens) == 2, 5, what="b's leader.elected")
    assert terms.tokens == [0, 1]  # MAX_TRANSITIONS + 1 wraps to 0 (rule 5)
    assert transitions(server) == 1
    assert server.requests.count(code=400) == 0
    assert sampler.overlaps == []


# -- a hand edit that names a live follower ------------------------------------------------
def test_a_hand_edit_naming_a_live_follower_never_gives_two_leaders(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    a, b = candidate("a"), candidate("b")
    terms = Terms([a, b])
    with terms.recording(), LeadershipSampler([a, b]) as sampler:
        a.start()
        wait_for(lambda: a.is_leader, 5, what="a to lead")
        b.start()
        wait_for(lambda: b.leader_identity == "a", 5, what="b to follow a")
        edited = time.monotonic()
        leases(server).patch_namespaced_lease(
            "test-lease", "default", {"spec": {"holderIdentity": "b"}}
        )
        wait_for(lambda: b.is_leader, 5, what="b to lead once a's claim has run out")
        took = time.monotonic() - edited
        wait_for(lambda: ("a", LostReason.TAKEN_OVER) in terms.lost, 5, what="a's leader.lost")
        # is_leader turns true before leader.elected is delivered (by the dispatcher).
        wait_for(lambda: len(terms.tokens) == 2, 5, what="b's leader.elected")
    assert sampler.overlaps == []
    assert took >= 1.0  # the previous record's leaseDurationSeconds, from the edit (rule 9)
    assert terms.tokens == [0, 1]


# -- a slow API server ----------------------------------------------------------------------
def test_a_leader_slower_than_its_tolerance_gives_way_to_a_healthy_candidate(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    modules = [candidate(f"c{i}") for i in range(3)]
    terms = Terms(modules)
    with terms.recording(), LeadershipSampler(modules) as sampler:
        for module in modules:
            module.start()
        slow = wait_for(lambda: one_leader(modules), 5, what="a first leader")
        tolerance = slow.options.timing.latency_tolerance
        assert tolerance == 0.3  # min(0.6 / 2, 0.6 - 0.2)
        window = 6.0  # the issue measured 10 s: a leader 28% of the time, 9 lost terms
        with server.faults.latency(0.35, user=slow.identity), Presence(modules) as presence:
            began = time.monotonic()
            healthy = wait_for(
                lambda: next((m for m in current_leaders(modules) if m is not slow), None),
                5,
                what="a healthy candidate to take over",
            )
            # An observation window, not a hope: what happened in it is asserted below.
            threading.Event().wait(max(began + window - time.monotonic(), 0.0))
            assert healthy.is_leader
        renew_failed = [who for who, reason in terms.lost if reason is LostReason.RENEW_FAILED]
    assert renew_failed == [slow.identity]  # one term lost, then no flapping
    # The one gap: the slow leader's deadline (0.6 s) until its last, late renewal expires.
    assert presence.fraction > 0.7, f"a leader existed {presence.fraction:.0%} of the time"
    assert strictly_increasing(terms.tokens)
    assert sampler.overlaps == []


def test_a_leader_within_its_latency_tolerance_keeps_the_lease(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    modules = [candidate(f"c{i}") for i in range(2)]
    terms = Terms(modules)
    with terms.recording():
        for module in modules:
            module.start()
        leader = wait_for(lambda: one_leader(modules), 5, what="a leader")
        since = time.monotonic()
        with server.faults.latency(0.2, user=leader.identity):
            wait_for(
                lambda: (
                    server.requests.count(since=since, user=leader.identity, verb="update") >= 8
                ),
                10,
                what="eight slow renewals",
            )
        assert leader.is_leader
    assert terms.lost == []


# -- a stalled watch -----------------------------------------------------------------------
def test_a_release_is_seen_within_about_one_interval_when_every_watch_stalls(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    modules = [candidate(f"c{i}") for i in range(3)]
    for module in modules:
        module.start()
    leader = wait_for(lambda: one_leader(modules), 5, what="a first leader")
    followers = [m for m in modules if m is not leader]
    wait_for(
        lambda: all(m.leader_identity == leader.identity for m in followers),
        5,
        what="the followers to see the leader",
    )
    with LeadershipSampler(modules) as sampler, server.faults.blackhole(verb="watch"):
        stalled = time.monotonic()
        # The followers notice the silence and read the Lease instead.
        for follower in followers:
            wait_for(
                lambda f=follower: (
                    server.requests.count(since=stalled, user=f.identity, verb="get") >= 2
                ),
                5,
                what=f"{follower.identity} to poll",
            )
        started = time.monotonic()
        leader.stop()
        wait_for(lambda: one_leader(followers), 5, what="a follower to take over")
        handover = time.monotonic() - started
    assert sampler.overlaps == []
    # Expiry would take the 1 s lease duration; polling every 200 ms takes about one interval.
    assert handover < 0.6, f"handover took {handover:.3f} s"


# -- overload: 429 with Retry-After --------------------------------------------------------
def test_retry_after_is_obeyed_and_the_leader_never_waits_past_its_deadline(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    modules = [candidate(f"c{i}") for i in range(3)]
    terms = Terms(modules)
    with terms.recording(), LeadershipSampler(modules) as sampler:
        for module in modules:
            module.start()
        leader = wait_for(lambda: one_leader(modules), 5, what="a leader")
        wait_for(
            lambda: all(m.leader_identity == leader.identity for m in modules),
            5,
            what="everyone to see the leader",
        )
        since = time.monotonic()
        with server.faults.error(429, retry_after=5, verb="update"):
            wait_for(lambda: not leader.is_leader, 1.0, what="the leader to step down on time")
            stepped_down = time.monotonic() - since
            # An observation window of four seconds of 429s; its request count is asserted.
            threading.Event().wait(max(since + 4.0 - time.monotonic(), 0.0))
            updates = server.requests.count(since=since, verb="update")
        wait_for(lambda: one_leader(modules), 10, what="a leader once the 429s stop")
    # The leader gave up at its 600 ms deadline, not after the 5 s it was asked to wait.
    assert stepped_down <= 0.6 + 0.2
    # Before: about 50 updates in 4 s. Now: the leader's few retries within its deadline,
    # then everyone waits the 5 s it was told.
    assert updates <= 10, f"{updates} updates in 4 s of 429 with Retry-After: 5"
    assert strictly_increasing(terms.tokens)
    assert sampler.overlaps == []


def test_no_term_is_announced_when_every_acquisition_is_answered_after_its_deadline(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    """The server applies each write 0.7 s after it was sent; the deadline is 0.6 s."""
    lonely = candidate("lonely")
    terms = Terms([lonely])
    with terms.recording(), server.faults.latency(0.7, user="lonely"):
        since = time.monotonic()
        lonely.start()
        wait_for(
            lambda: (
                server.requests.count(since=since, user="lonely", verb="create", code=201)
                + server.requests.count(since=since, user="lonely", verb="update", code=200)
                >= 2
            ),
            10,
            what="two acquisitions applied by the server",
        )
        assert not lonely.is_leader
    # Before: leader.elected then leader.lost for each of these zero-length terms.
    assert terms.elected == [] and terms.lost == []
    wait_for(lambda: lonely.is_leader, 5, what="it to lead once the server is fast again")
