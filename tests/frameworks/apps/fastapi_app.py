"""The FastAPI application the ASGI server tests run (uvicorn --workers, gunicorn's uvicorn
workers, with and without ``--preload``).

The election is created at import time from ``$TEST_LEADER_ELECTION`` (JSON options) and runs
through ``leader_election_lifespan``. Its leader-only job is a coroutine: while its term runs
it appends ``monotonic pid fencing_token phase`` lines to ``$TEST_SAMPLES_FILE`` every 20 ms,
and once the term ended it needs 200 ms more (still sampling) before it returns, so a test can
see that the Lease is released only after it finished. A coroutine ``leader.changed``
receiver appends ``pid identity`` to ``$TEST_CANDIDATES_FILE`` once per process whose
election started. ``time.monotonic()`` is the system-wide monotonic clock on Linux, so the
test compares these samples with its own clock and with the API server's request log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from typing import Any

from fastapi import FastAPI

from leader_election import LeaderChangedEvent, LeaderElectionModule, leader_changed
from leader_election.aio import AsyncTerm
from leader_election.asgi import health_app, leader_election_lifespan

logging.basicConfig(level=logging.INFO, format="%(process)d %(threadName)s %(name)s %(message)s")

SAMPLE_EVERY = 0.02  # seconds
FINISH_AFTER_TERM = 0.2  # seconds the job needs once its term ended

election = LeaderElectionModule.for_root(**json.loads(os.environ["TEST_LEADER_ELECTION"]))
_recorded: set[int] = set()


def _append(variable: str, line: str) -> None:
    # One write(2) with O_APPEND per line: lines of several processes never interleave.
    fd = os.open(os.environ[variable], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def sample(term: AsyncTerm, phase: str) -> None:
    _append(
        "TEST_SAMPLES_FILE", f"{time.monotonic():.6f} {os.getpid()} {term.fencing_token} {phase}\n"
    )


@election.run_while_leader
async def leader_job(term: AsyncTerm) -> None:
    """Works while the term runs, then takes FINISH_AFTER_TERM to wind down."""
    while not term.is_set():
        sample(term, "work")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(term.wait(), SAMPLE_EVERY)
    finish = time.monotonic() + FINISH_AFTER_TERM
    while time.monotonic() < finish:
        sample(term, "finishing")
        await asyncio.sleep(SAMPLE_EVERY)
    sample(term, "done")


@leader_changed.connect_via(election)
async def _record_candidate(sender: Any, event: LeaderChangedEvent) -> None:
    # Every started candidate observes a holder (or none) first thing: one line per process.
    if os.getpid() not in _recorded:
        _recorded.add(os.getpid())
        _append("TEST_CANDIDATES_FILE", f"{os.getpid()} {event.identity}\n")


app = FastAPI(lifespan=leader_election_lifespan(election))
app.mount("/healthz/leader-election", health_app(election))


@app.get("/whoami")
async def whoami() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "identity": election.identity,
        "leader": election.is_leader,
        "state": election.state.value,
    }
