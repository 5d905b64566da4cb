"""Drain, then release: leader-only work ends before leadership does, end to end.

Two candidates on one Lease through the embedded API server. The leader's work — a
``run_while_leader`` function and a ``leader.lost`` receiver — needs time to finish after its
term ends; the next leader must not start before both returned (graceful stop, resign), and a
drain that outlasts ``drain_timeout`` must leave the Lease to expire instead of releasing it.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from leader_election import LeaderElectionModule, Term, leader_elected, leader_lost
from leader_election.events import LeaderElectedEvent, LeaderLostEvent
from leader_election.state import LostReason, State
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import Factory

WORK_AFTER_STOP = 0.4  # seconds a job needs to finish its batch once its term ended


class Timeline:
    """Monotonic times of what happened, by name, recorded from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.times: dict[str, list[float]] = {}

    def mark(self, what: str) -> None:
        with self._lock:
            self.times.setdefault(what, []).append(time.monotonic())

    def first(self, what: str) -> float:
        with self._lock:
            return self.times[what][0]

    def has(self, what: str) -> bool:
        with self._lock:
            return what in self.times


def slow_job(timeline: Timeline, name: str, seconds: float = WORK_AFTER_STOP) -> Any:
    def job(term: Term) -> None:
        timeline.mark(f"{name} job started")
        term.wait()
        threading.Event().wait(seconds)  # the batch in hand
        timeline.mark(f"{name} job returned")

    job.__name__ = f"{name}_job"
    return job


def lease_holder(server: LeaseAPIServer) -> str | None:
    lease = server.get_object("leases", "default", "test-lease")
    return None if lease is None else lease["spec"].get("holderIdentity")


def test_a_graceful_handover_starts_the_next_work_after_the_old_work_returned(
    candidate: Factory,
) -> None:
    timeline = Timeline()
    a = candidate("a")
    b = candidate("b")
    a.run_while_leader(slow_job(timeline, "a"))
    b.run_while_leader(slow_job(timeline, "b"))

    def slow_lost_receiver(sender: Any, event: LeaderLostEvent) -> None:
        threading.Event().wait(0.3)  # a Nest-style handler that stops its work
        timeline.mark("a lost receiver returned")

    def b_elected(sender: Any, event: LeaderElectedEvent) -> None:
        timeline.mark("b elected")

    with (
        leader_lost.connected_to(slow_lost_receiver, sender=a),
        leader_elected.connected_to(b_elected, sender=b),
    ):
        a.start()
        assert a.wait_for_leadership(10)
        b.start()
        wait_for(lambda: b.leader_identity == "a", 10, what="b to see a lead")
        wait_for(lambda: timeline.has("a job started"), 5, what="a's job to start")
        stop_called = time.monotonic()
        a.stop()
        stop_returned = time.monotonic()
        wait_for(lambda: timeline.has("b job started"), 10, what="b's job to start")
        wait_for(lambda: timeline.has("b elected"), 10, what="b's leader.elected")
    assert a.state is State.STOPPED
    old_work_done = max(
        timeline.first("a job returned"), timeline.first("a lost receiver returned")
    )
    assert timeline.first("b elected") > old_work_done
    assert timeline.first("b job started") > old_work_done
    # stop() returned once the work returned and the Lease was released, not before.
    assert stop_returned >= old_work_done >= stop_called + WORK_AFTER_STOP
    # The release came after the work: the takeover is one round trip, not an expiry.
    assert timeline.first("b job started") - old_work_done < 0.5


def test_the_lease_is_renewed_during_the_drain(candidate: Factory, server: LeaseAPIServer) -> None:
    timeline = Timeline()
    a = candidate("a")
    b = candidate("b")
    a.run_while_leader(slow_job(timeline, "a", seconds=1.5))  # longer than the lease (1 s)
    a.start()
    assert a.wait_for_leadership(10)
    b.start()
    wait_for(lambda: b.leader_identity == "a", 10, what="b to see a lead")
    stopper = threading.Thread(target=a.stop, name="test-stopper")
    stopper.start()
    wait_for(lambda: a.state is State.DRAINING, 5, what="a to drain")
    assert not a.is_leader
    # Past the lease duration, b still has not taken over: a keeps renewing while it drains.
    threading.Event().wait(1.2)
    assert lease_holder(server) == "a" and not b.is_leader
    stopper.join(10)
    assert not stopper.is_alive()
    assert timeline.has("a job returned")
    assert b.wait_for_leadership(5)


def test_a_drain_past_drain_timeout_is_not_released_and_names_the_function(
    candidate: Factory, server: LeaseAPIServer, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = threading.Event()
    timeline = Timeline()

    def stubborn(term: Term) -> None:
        term.wait()
        stuck.wait(10)  # ignores its stop event until the test lets it go

    a = candidate("a", drain_timeout=300)
    b = candidate("b")
    a.run_while_leader(stubborn)

    def b_elected(sender: Any, event: LeaderElectedEvent) -> None:
        timeline.mark("b elected")

    try:
        with leader_elected.connected_to(b_elected, sender=b):
            a.start()
            assert a.wait_for_leadership(10)
            b.start()
            wait_for(lambda: b.leader_identity == "a", 10, what="b to see a lead")
            with caplog.at_level(logging.ERROR, logger="leader_election"):
                a.stop()
            stopped = time.monotonic()
            assert lease_holder(server) == "a", "released while the work was still running"
            assert "stubborn" in caplog.text and "not released" in caplog.text
            wait_for(lambda: timeline.has("b elected"), 10, what="b to take over on expiry")
        # b waited for the Lease to expire: a full lease duration after a's last renewal,
        # which was at most one renewal interval before the drain was abandoned.
        assert timeline.first("b elected") - stopped > 1.0 - 0.2 - 0.1
    finally:
        stuck.set()
        wait_for(lambda: not [t for t in threading.enumerate() if "stubborn" in t.name], 5)


def test_work_still_running_when_another_may_lead_is_an_overrun(
    candidate: Factory, server: LeaseAPIServer, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = threading.Event()

    def overrunning(term: Term) -> None:
        term.wait()
        stuck.wait(10)

    a = candidate("a")
    a.run_while_leader(overrunning)
    a.start()
    try:
        assert a.wait_for_leadership(10)
        assert a.healthy() and a.work_overruns == 0
        with (
            caplog.at_level(logging.ERROR, logger="leader_election"),
            server.faults.blackhole(user="a"),
        ):
            wait_for(lambda: not a.is_leader, 5, what="a to step down at its deadline")
            assert a.healthy(), "within the takeover margin the work may still finish"
            wait_for(lambda: a.work_overruns == 1, 5, what="the overrun to be counted")
            assert not a.healthy()
        assert "overrunning" in caplog.text
    finally:
        stuck.set()
    wait_for(a.healthy, 5, what="health to recover once the work returned")


def test_resign_hands_leadership_to_another_candidate(candidate: Factory) -> None:
    timeline = Timeline()
    a = candidate("a")
    b = candidate("b")
    a.run_while_leader(slow_job(timeline, "a"))
    b.run_while_leader(slow_job(timeline, "b"))
    a.start()
    assert a.wait_for_leadership(10)
    token = a.fencing_token
    b.start()
    wait_for(lambda: b.leader_identity == "a", 10, what="b to see a lead")
    assert not b.resign(), "a follower has nothing to resign"
    assert a.resign()
    assert timeline.has("a job returned")  # resign() returned after the drain and release
    assert b.wait_for_leadership(5)
    assert b.fencing_token is not None and token is not None and b.fencing_token > token
    wait_for(lambda: timeline.has("b job started"), 5, what="b's job to start")
    assert timeline.first("b job started") > timeline.first("a job returned")
    assert a.state is State.FOLLOWING and not a.is_leader
    # b leaves: a competes again and takes over.
    b.stop()
    assert a.wait_for_leadership(5)


def test_a_lone_candidate_that_resigned_leads_again_after_one_lease_duration(
    candidate: Factory,
) -> None:
    a = candidate("a")
    a.start()
    assert a.wait_for_leadership(10)
    resigned = time.monotonic()
    assert a.resign()
    assert not a.is_leader
    assert a.wait_for_leadership(5)
    assert time.monotonic() - resigned >= 1.0  # the sit-out: one lease duration


def test_resign_from_the_job_itself_does_not_deadlock(candidate: Factory) -> None:
    a = candidate("a")
    b = candidate("b")
    results: list[bool] = []

    go = threading.Event()

    def quitter(term: Term) -> None:
        go.wait(10)
        if not results:
            results.append(term.election.resign())  # at once: the drain waits for us

    a.run_while_leader(quitter)
    a.start()
    assert a.wait_for_leadership(10)
    b.start()
    wait_for(lambda: b.leader_identity == "a", 10, what="b to see a lead")
    go.set()
    assert b.wait_for_leadership(10)
    assert results == [True]


def test_resign_from_a_receiver_does_not_deadlock(candidate: Factory) -> None:
    a = candidate("a")
    b = candidate("b")
    results: list[bool] = []
    go = threading.Event()

    def resign_once(sender: LeaderElectionModule, event: LeaderElectedEvent) -> None:
        go.wait(10)
        if not results:
            results.append(sender.resign())

    with leader_elected.connected_to(resign_once, sender=a):
        a.start()
        assert a.wait_for_leadership(10)
        b.start()
        wait_for(lambda: b.leader_identity == "a", 10, what="b to see a lead")
        go.set()
        wait_for(lambda: results, 10, what="a's receiver to resign")
        assert b.wait_for_leadership(10)
    assert results == [True]
    assert not a.is_leader


def test_the_job_receives_its_term(candidate: Factory) -> None:
    seen: list[Term] = []
    a = candidate("a")

    @a.run_while_leader
    def job(term: Term) -> None:
        seen.append(term)
        term.wait()

    a.start()
    assert a.wait_for_leadership(10)
    wait_for(lambda: seen, 5, what="the job to start")
    term = seen[0]
    assert isinstance(term, threading.Event) and not term.is_set()
    assert term.fencing_token == a.fencing_token
    assert term.election is a
    assert (term.lease_name, term.namespace, term.identity) == ("test-lease", "default", "a")
    a.stop()
    assert term.is_set() and term.ended


def test_the_lost_event_of_a_resign_says_so(candidate: Factory) -> None:
    reasons: list[LostReason] = []
    a = candidate("a")

    def lost(sender: Any, event: LeaderLostEvent) -> None:
        reasons.append(event.reason)

    with leader_lost.connected_to(lost, sender=a):
        a.start()
        assert a.wait_for_leadership(10)
        a.resign()
        wait_for(lambda: reasons, 5, what="leader.lost")
        a.stop()
    assert reasons[0] is LostReason.RESIGNED


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from leader_election import LeaderElectionModule

    election = LeaderElectionModule.for_root(
        lease_name="test-lease", kubeconfig=sys.argv[1], identity="script",
        renewal_interval=200, lease_duration=1000,
    )

    @election.run_while_leader
    def consumer(term):
        print("job started", time.monotonic(), flush=True)
        term.wait()
        threading.Event().wait(0.5)  # finish the batch in hand
        print("job returned", time.monotonic(), flush=True)

    election.start()
    while True:
        time.sleep(0.1)  # until SIGTERM
    """
)


@pytest.mark.processes
def test_sigterm_drains_a_slow_job_before_the_release(
    server: LeaseAPIServer, candidate: Factory, tmp_path: Path
) -> None:
    script = tmp_path / "script.py"
    script.write_text(SIGTERM_SCRIPT)
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", user="script")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    timeline = Timeline()
    b = candidate("b")

    def b_elected(sender: Any, event: LeaderElectedEvent) -> None:
        timeline.mark("b elected")

    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("job started"), line + (proc.stderr.read() if proc.stderr else "")
        with leader_elected.connected_to(b_elected, sender=b):
            b.start()
            wait_for(lambda: b.leader_identity == "script", 10, what="b to see the script lead")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
            wait_for(lambda: timeline.has("b elected"), 10, what="b to take over")
        returned = float(out.split("job returned")[1].split()[0])
        assert proc.returncode == -signal.SIGTERM, err
        assert timeline.first("b elected") > returned
        assert timeline.first("b elected") - returned < 0.5, "a release, not an expiry"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
