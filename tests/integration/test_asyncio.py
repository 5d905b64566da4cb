"""The asyncio face, end to end: ``async with``, coroutine jobs and receivers, the lifespan.

Each test runs its own event loop with ``asyncio.run`` against the embedded API server; the
engine's threads do the I/O, the loop only ever receives callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
import time
from typing import Any

import pytest

from leader_election import leader_elected, leader_lost
from leader_election.aio import AsyncTerm
from leader_election.asgi import health_app, health_route, leader_election_lifespan
from leader_election.events import LeaderElectedEvent, LeaderLostEvent
from leader_election.state import State
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import Factory


def test_async_with_starts_and_stops_without_blocking_the_loop(candidate: Factory) -> None:
    a = candidate("a")
    ticks: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    async def main() -> tuple[bool, State]:
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        async with a:
            led = await a.wait_for_leadership_async(10)
        state = a.state
        stop.set()
        await task
        return led, state

    led, state = asyncio.run(main())
    assert led and state is State.STOPPED
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert max(gaps) < 0.5, "the loop was blocked while the election started or stopped"


def test_wait_for_leadership_async_times_out_for_a_follower(candidate: Factory) -> None:
    a = candidate("a")
    b = candidate("b")
    a.start()
    assert a.wait_for_leadership(10)

    async def main() -> tuple[bool, bool, float]:
        async with b:
            started = time.monotonic()
            waited = await b.wait_for_leadership_async(0.3)
            elapsed = time.monotonic() - started
            immediate = await b.wait_for_leadership_async(0)
        return waited, immediate, elapsed

    waited, immediate, elapsed = asyncio.run(main())
    assert not waited and not immediate
    assert 0.25 <= elapsed < 2.0


def test_wait_for_leadership_async_is_woken_by_the_election(candidate: Factory) -> None:
    a = candidate("a")
    b = candidate("b")
    a.start()
    assert a.wait_for_leadership(10)

    async def main() -> bool:
        async with b:
            waiter = asyncio.create_task(b.wait_for_leadership_async(10))
            await asyncio.sleep(0.05)
            await asyncio.get_running_loop().run_in_executor(None, a.stop)
            return await waiter

    assert asyncio.run(main())


def test_a_coroutine_job_runs_on_the_loop_and_drains_before_the_release(
    candidate: Factory,
) -> None:
    a = candidate("a")
    b = candidate("b")
    marks: dict[str, float] = {}
    seen: list[Any] = []

    async def consumer(stop: AsyncTerm) -> None:
        seen.append((threading.current_thread(), stop.fencing_token, stop.election))
        marks["a job started"] = time.monotonic()
        await stop.wait()
        await asyncio.sleep(0.3)  # the batch in hand
        marks["a job returned"] = time.monotonic()

    a.run_while_leader(consumer)

    def b_elected(sender: Any, event: LeaderElectedEvent) -> None:
        marks.setdefault("b elected", time.monotonic())

    async def main() -> threading.Thread:
        async with a:
            assert await a.wait_for_leadership_async(10)
            await asyncio.get_running_loop().run_in_executor(None, b.start)
            while "a job started" not in marks or b.leader_identity != "a":
                await asyncio.sleep(0.01)
            token = a.fencing_token
        assert seen[0][1] == token and seen[0][2] is a
        return threading.current_thread()

    with leader_elected.connected_to(b_elected, sender=b):
        loop_thread = asyncio.run(main())
        wait_for(lambda: "b elected" in marks, 10, what="b to take over")
    assert seen[0][0] is loop_thread
    assert marks["b elected"] > marks["a job returned"]


def test_a_coroutine_job_that_ignores_its_stop_is_cancelled_within_the_drain(
    candidate: Factory, server: LeaseAPIServer, caplog: pytest.LogCaptureFixture
) -> None:
    a = candidate("a", drain_timeout=500)
    cancelled = []

    async def stubborn(stop: AsyncTerm) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(time.monotonic())
            raise

    a.run_while_leader(stubborn)

    async def main() -> float:
        async with a:
            assert await a.wait_for_leadership_async(10)
            await asyncio.sleep(0.05)
            return time.monotonic()

    with caplog.at_level(logging.ERROR, logger="leader_election"):
        stopping = asyncio.run(main())
    assert cancelled and 0.3 < cancelled[0] - stopping < 0.5 + 0.2
    assert "stubborn" in caplog.text and "cancelled" in caplog.text
    lease = server.get_object("leases", "default", "test-lease")
    assert lease is not None and not lease["spec"].get("holderIdentity"), "released after it"


def test_coroutine_receivers_are_awaited_on_the_loop_and_drained(candidate: Factory) -> None:
    a = candidate("a")
    b = candidate("b")
    marks: dict[str, Any] = {}

    async def on_elected(sender: Any, event: LeaderElectedEvent) -> None:
        marks["elected on"] = threading.current_thread()

    async def on_lost(sender: Any, event: LeaderLostEvent) -> None:
        await asyncio.sleep(0.3)  # Nest-style: stop the work in the lost handler
        marks["lost returned"] = time.monotonic()

    def b_elected(sender: Any, event: LeaderElectedEvent) -> None:
        marks.setdefault("b elected", time.monotonic())

    async def main() -> threading.Thread:
        async with a:
            assert await a.wait_for_leadership_async(10)
            await asyncio.get_running_loop().run_in_executor(None, b.start)
            while b.leader_identity != "a" or "elected on" not in marks:
                await asyncio.sleep(0.01)
        return threading.current_thread()

    with (
        leader_elected.connected_to(on_elected, sender=a),
        leader_lost.connected_to(on_lost, sender=a),
        leader_elected.connected_to(b_elected, sender=b),
    ):
        loop_thread = asyncio.run(main())
        wait_for(lambda: "b elected" in marks, 10, what="b to take over")
    assert marks["elected on"] is loop_thread
    assert marks["b elected"] > marks["lost returned"]


def test_a_coroutine_receiver_without_a_loop_is_reported_not_run(
    candidate: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    a = candidate("a")
    ran = []

    async def on_elected(sender: Any, event: LeaderElectedEvent) -> None:
        ran.append(True)

    with (
        caplog.at_level(logging.ERROR, logger="leader_election"),
        leader_elected.connected_to(on_elected, sender=a),
    ):
        a.start()
        assert a.wait_for_leadership(10)
        wait_for(lambda: "async with election" in caplog.text, 5, what="the error")
        a.stop()
    assert not ran


def test_a_loop_closed_while_the_module_runs_leaves_a_clean_stop(candidate: Factory) -> None:
    a = candidate("a")

    async def job(stop: AsyncTerm) -> None:
        await stop.wait()

    a.run_while_leader(job)

    async def main() -> None:
        await a.__aenter__()  # never exited: asyncio.run closes the loop under the module
        assert await a.wait_for_leadership_async(10)

    asyncio.run(main())
    started = time.monotonic()
    a.stop()
    assert time.monotonic() - started < 5
    assert a.state is State.STOPPED


@pytest.mark.parametrize("caller", ["a coroutine on the loop", "the coroutine job itself"])
def test_a_blocking_stop_on_the_loop_returns_at_once_and_releases_after_the_job(
    candidate: Factory, server: LeaseAPIServer, caplog: pytest.LogCaptureFixture, caller: str
) -> None:
    # The job runs on the loop: a stop() that waited there for the drain would wait for
    # itself (until drain_timeout, then leave the Lease to expire).
    a = candidate("a", drain_timeout=3000)
    marks: dict[str, float] = {}

    leading = asyncio.Event()  # set once main saw leadership: the job stops only then

    async def job(term: AsyncTerm) -> None:
        if caller == "the coroutine job itself":
            await leading.wait()
            started = time.monotonic()
            a.stop()
            marks["stop returned after"] = time.monotonic() - started
        await term.wait()
        await asyncio.sleep(0.2)  # the batch in hand
        marks["job returned"] = time.monotonic()

    a.run_while_leader(job)

    def released() -> bool:
        lease = server.get_object("leases", "default", "test-lease")
        return lease is not None and not lease["spec"].get("holderIdentity")

    async def main() -> None:
        await a.__aenter__()
        assert await a.wait_for_leadership_async(10)
        leading.set()
        if caller == "a coroutine on the loop":
            started = time.monotonic()
            a.stop()
            marks["stop returned after"] = time.monotonic() - started
        deadline = time.monotonic() + 5
        while not released() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        marks["released by"] = time.monotonic()

    with caplog.at_level(logging.ERROR, logger="leader_election"):
        asyncio.run(main())
        wait_for(lambda: a.state is State.STOPPED, 5, what="the stop to complete")
    assert marks["stop returned after"] < 0.1
    assert released(), caplog.text
    assert marks["job returned"] <= marks["released by"]
    # Nothing of ours complained (asyncio may log about an earlier test's garbage).
    assert not [r for r in caplog.records if r.name.startswith("leader_election")], caplog.text


def test_a_job_cancelled_by_its_closing_loop_is_not_blamed_for_ignoring_its_stop(
    candidate: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    a = candidate("a")
    running = asyncio.Event()

    async def job(stop: AsyncTerm) -> None:
        running.set()
        await stop.wait()

    a.run_while_leader(job)

    async def main() -> None:
        await a.__aenter__()  # never exited: asyncio.run cancels the job as it ends
        await asyncio.wait_for(running.wait(), 10)

    with caplog.at_level(logging.WARNING, logger="leader_election"):
        asyncio.run(main())
        a.stop()
    assert "ignored its stop event" not in caplog.text
    assert "job-job: cancelled by its event loop" in caplog.text


async def call_asgi(app: Any, path: str, method: str = "GET") -> tuple[int, bytes]:
    """One HTTP request through an ASGI app, without a server or a client library."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def test_the_lifespan_runs_the_election_around_the_app(candidate: Factory) -> None:
    from starlette.applications import Starlette

    a = candidate("a")
    order: list[str] = []

    @contextlib.asynccontextmanager
    async def own(app: Any) -> Any:
        order.append(f"own up, election {a.state.value}")
        yield {"db": "pool"}
        order.append(f"own down, election {a.state.value}")

    lifespan = leader_election_lifespan(a, lifespan=own)
    app = Starlette(routes=[health_route(a, "/healthz/leader-election")], lifespan=lifespan)

    async def main() -> None:
        async with lifespan(app) as state:
            assert state == {"db": "pool"}
            assert await a.wait_for_leadership_async(10)
            status, body = await call_asgi(app, "/healthz/leader-election")
            assert status == 200
            report = json.loads(body)
            assert report["leader"] is True and report["identity"] == "a"
            assert await call_asgi(health_app(a), "/") == (200, body)
            status, _ = await call_asgi(health_app(a), "/", method="POST")
            assert status == 405

    asyncio.run(main())
    assert order == ["own up, election stopped", "own down, election stopped"]
    assert a.state is State.STOPPED
