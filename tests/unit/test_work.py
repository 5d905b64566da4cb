"""work.py: terms, job runs and the drain, without an election (the runtime's part)."""

from __future__ import annotations

import threading

from leader_election.clock import SystemClock
from leader_election.testing import wait_for
from leader_election.work import LOST_DELIVERY, LeaderWork, Term


def term(token: int) -> Term:
    return Term(election=None, fencing_token=token, lease_name="x", namespace="d", identity="me")


def test_a_run_still_stopping_finishes_before_the_next_terms_run_begins() -> None:
    drained: list[int] = []
    work = LeaderWork("test-work", SystemClock(), on_drained=drained.append)
    release_first = threading.Event()
    runs: list[tuple[str, int]] = []

    def job(t: Term) -> None:
        runs.append(("start", t.fencing_token))
        t.wait()
        if t.fencing_token == 1:
            release_first.wait(10)  # the batch in hand outlives the term
        runs.append(("end", t.fencing_token))

    work.add(job, "job")
    first = term(1)
    work.begin(first)
    wait_for(lambda: runs == [("start", 1)], 5, what="the first run")
    assert work.end(also_pending=(LOST_DELIVERY,)) is first
    work.finished(first, LOST_DELIVERY)
    work.begin(term(2))  # re-elected while the first run still stops
    assert runs == [("start", 1)], "two runs of one function at once"
    assert not work.drained()
    release_first.set()
    wait_for(lambda: ("start", 2) in runs, 5, what="the second run")
    assert runs[:3] == [("start", 1), ("end", 1), ("start", 2)]
    second = work.end()
    assert second is not None and second.fencing_token == 2
    assert work.wait_drained(5)
    assert drained == [2]  # the first term's drain was never reported: it was no longer current
    work.join(SystemClock().monotonic() + 5)


def test_a_term_is_drained_when_its_functions_and_lost_delivery_returned() -> None:
    drained: list[int] = []
    work = LeaderWork("test-work", SystemClock(), on_drained=drained.append)
    work.add(lambda t: t.wait(), "waiter")
    current = term(3)
    work.begin(current)
    wait_for(lambda: work.running() == ["waiter"], 5, what="the run")
    work.end(also_pending=(LOST_DELIVERY,))
    wait_for(lambda: work.running() == [LOST_DELIVERY], 5, what="the function to return")
    assert drained == []
    work.finished(current, LOST_DELIVERY)
    assert drained == [3]
    work.join(SystemClock().monotonic() + 5)


def test_term_end_callbacks_run_once_even_when_added_late() -> None:
    calls: list[str] = []
    t = term(1)
    t.on_end(lambda: calls.append("early"))
    t.set()
    t.on_end(lambda: calls.append("late"))
    t.set()
    assert calls == ["early", "late"]
    assert t.ended
