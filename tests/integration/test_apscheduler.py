"""``leader_election.apscheduler`` in one process against the embedded server: a scheduler
tied before or after ``start()`` runs jobs only in a term, jobs read their term's fencing
token, the end of a term pauses it and waits for the running jobs before the release, and
``AsyncIOScheduler`` works the same way."""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
import time
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED

from leader_election import ConfigurationError, MisuseError
from leader_election.apscheduler import (
    current_term,
    fencing_token,
    schedule_while_leader,
)
from leader_election.errors import MissingExtraError
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import Factory


def holder(server: LeaseAPIServer) -> str | None:
    lease = server.get_object("leases", "default", "test-lease")
    return None if lease is None else str(lease["spec"].get("holderIdentity") or "")


class Recorder:
    """A job: records (start, end, token) of each run; each run takes ``seconds``."""

    def __init__(self, scheduler: Any, seconds: float = 0.0) -> None:
        self.scheduler = scheduler
        self.seconds = seconds
        self.runs: list[tuple[float, float, int | None]] = []
        self.started = threading.Event()

    def __call__(self) -> None:
        start = time.monotonic()
        token = fencing_token(self.scheduler)
        self.started.set()
        time.sleep(self.seconds)
        self.runs.append((start, time.monotonic(), token))


@pytest.mark.parametrize("tie", ["before-start", "after-start"])
def test_jobs_run_only_while_leading(candidate: Factory, tie: str) -> None:
    a = candidate("a")
    scheduler = BackgroundScheduler()
    job = Recorder(scheduler)
    scheduler.add_job(job, "interval", seconds=0.1)
    try:
        if tie == "before-start":
            schedule_while_leader(a, scheduler)
            scheduler.start()
        else:
            scheduler.start()
            schedule_while_leader(a, scheduler)
        assert scheduler.state == STATE_PAUSED
        assert fencing_token(scheduler) is None
        # Nothing runs before the election: wait a few intervals for a run that must not come.
        assert not job.started.wait(0.35)
        a.start()
        wait_for(lambda: len(job.runs) >= 3, 10, what="three runs in the term")
        assert {token for _, _, token in job.runs} == {a.fencing_token}
        a.stop()
        assert scheduler.state == STATE_PAUSED
        assert current_term(scheduler) is None
        job.started.clear()
        assert not job.started.wait(0.35), "a job ran after the term ended"
    finally:
        scheduler.shutdown()


def test_the_release_waits_for_the_job_in_progress(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    a = candidate("a")
    scheduler = BackgroundScheduler()
    job = Recorder(scheduler, seconds=0.5)
    scheduler.add_job(job, "interval", seconds=0.1)
    schedule_while_leader(a, scheduler)
    scheduler.start()
    try:
        a.start()
        assert job.started.wait(10)
        stop_called = time.monotonic()
        a.stop()
        stopped = time.monotonic()
        # The run in progress returned before stop() did, the Lease released after it.
        assert len(job.runs) == 1
        assert stop_called <= job.runs[0][1] <= stopped
        assert job.runs[0][2] == 0, "the draining run saw its term's token"
        assert holder(server) == ""
    finally:
        scheduler.shutdown()


def test_a_second_tie_is_refused_and_arguments_are_checked(candidate: Factory) -> None:
    a, b = candidate("a"), candidate("b")
    scheduler = BackgroundScheduler()
    schedule_while_leader(a, scheduler)
    with pytest.raises(MisuseError, match="already scheduled while"):
        schedule_while_leader(b, scheduler)
    with pytest.raises(MisuseError, match="already scheduled while"):
        schedule_while_leader(a, scheduler)
    with pytest.raises(ConfigurationError, match="expected an APScheduler 3 scheduler"):
        schedule_while_leader(a, object())
    with pytest.raises(ConfigurationError, match="expected a LeaderElectionModule"):
        schedule_while_leader(object(), BackgroundScheduler())  # type: ignore[arg-type]


@pytest.mark.parametrize("entered", ["async-with", "start-from-a-thread"])
def test_an_asyncio_scheduler_runs_coroutine_jobs_while_leading(
    candidate: Factory, server: LeaseAPIServer, entered: str
) -> None:
    a = candidate("a")
    runs: list[tuple[float, float, int | None]] = []

    async def main() -> tuple[float, float]:
        scheduler = AsyncIOScheduler()
        started = asyncio.Event()

        async def job() -> None:
            start = time.monotonic()
            started.set()
            await asyncio.sleep(0.3)
            runs.append((start, time.monotonic(), fencing_token(scheduler)))

        scheduler.add_job(job, "interval", seconds=0.1)
        schedule_while_leader(a, scheduler)
        scheduler.start()
        loop = asyncio.get_running_loop()
        try:
            if entered == "async-with":
                async with a:
                    await asyncio.wait_for(started.wait(), 10)
                    stop_called = time.monotonic()
                return stop_called, time.monotonic()
            await loop.run_in_executor(None, a.start)
            await asyncio.wait_for(started.wait(), 10)
            stop_called = time.monotonic()
            await loop.run_in_executor(None, a.stop)
            return stop_called, time.monotonic()
        finally:
            scheduler.shutdown(wait=False)

    stop_called, stopped = asyncio.run(main())
    assert runs, "the coroutine job ran"
    assert stop_called <= runs[-1][1] <= stopped, "the stop waited for the coroutine job"
    assert {token for _, _, token in runs} == {0}
    assert holder(server) == ""


def test_missing_apscheduler_fails_with_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apscheduler.events", None)
    monkeypatch.delitem(sys.modules, "leader_election.apscheduler", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'leader-election\[apscheduler\]'"):
        importlib.import_module("leader_election.apscheduler")


def test_resign_hands_the_schedule_to_the_other_candidate_without_overlap(
    candidate: Factory,
) -> None:
    a, b = candidate("a"), candidate("b")
    schedulers = {"a": BackgroundScheduler(), "b": BackgroundScheduler()}
    jobs = {name: Recorder(scheduler, seconds=0.15) for name, scheduler in schedulers.items()}
    try:
        for module in (a, b):
            scheduler = schedulers[module.identity]
            scheduler.add_job(jobs[module.identity], "interval", seconds=0.2)
            schedule_while_leader(module, scheduler)
            scheduler.start()
        a.start()
        assert a.wait_for_leadership(10)
        b.start()
        assert jobs["a"].started.wait(10)
        # Resign while a run is most likely in progress: it finishes before b leads.
        assert a.resign()
        wait_for(lambda: len(jobs["b"].runs) >= 2, 10, what="two runs on b")
        assert not a.is_leader
        a_runs, b_runs = jobs["a"].runs, jobs["b"].runs
        assert max(end for _, end, _ in a_runs) <= min(start for start, _, _ in b_runs)
        assert {token for _, _, token in a_runs} == {0}
        assert {token for _, _, token in b_runs} == {1}
    finally:
        for scheduler in schedulers.values():
            scheduler.shutdown()


def test_a_scheduler_started_during_a_term_starts_resumed(candidate: Factory) -> None:
    a = candidate("a")
    scheduler = BackgroundScheduler()
    job = Recorder(scheduler)
    scheduler.add_job(job, "interval", seconds=0.1)
    schedule_while_leader(a, scheduler)
    try:
        a.start()
        assert a.wait_for_leadership(10)
        scheduler.start(paused=False)
        wait_for(lambda: len(job.runs) >= 2, 10, what="runs of a scheduler started while leading")
        assert {token for _, _, token in job.runs} == {0}
    finally:
        a.stop()
        scheduler.shutdown()


def test_a_job_past_drain_timeout_leaves_the_lease_to_expire(
    candidate: Factory, server: LeaseAPIServer
) -> None:
    a = candidate("a", drain_timeout=300)
    scheduler = BackgroundScheduler()
    job = Recorder(scheduler, seconds=0.8)
    scheduler.add_job(job, "interval", seconds=0.1)
    schedule_while_leader(a, scheduler)
    scheduler.start()
    try:
        a.start()
        assert job.started.wait(10)
        a.stop()
        # The tie kept waiting for the run: the election gave up releasing.
        assert holder(server) == "a"
        wait_for(lambda: job.runs, 5, what="the long run to finish")
        wait_for(lambda: current_term(scheduler) is None, 5, what="the tie to stop waiting")
    finally:
        scheduler.shutdown()
