"""The asyncio face: the event loop a module's coroutine work and receivers run on.

The engine stays threaded and synchronous. A module started from a running event loop
(``async with election``, or ``start()`` inside a coroutine) remembers that loop in a
``LoopBridge``; coroutine ``run_while_leader`` functions then run as tasks on it, coroutine
receivers are awaited on it, and ``wait_for_leadership_async`` is woken from it. Threads hand
work to the loop with ``call_soon_threadsafe`` / ``run_coroutine_threadsafe`` and never block
it. Only this module imports ``asyncio``, and only code that already holds a coroutine or a
loop imports this module, so ``import leader_election`` never loads asyncio.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from leader_election.work import Term

__all__ = ["AsyncTerm", "LoopBridge", "running_loop"]

logger = logging.getLogger(__name__)

# How often a thread waiting on the loop checks that the loop still runs.
_POLL = 0.5


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, without importing asyncio if nobody did."""
    if "asyncio" not in sys.modules:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class AsyncTerm(asyncio.Event):
    """One leadership term as a coroutine sees it: an ``asyncio.Event`` set when the term
    ends, with the same ``fencing_token``, ``lease_name``, ``namespace``, ``identity`` and
    ``election`` as ``Term``."""

    def __init__(self, term: Term) -> None:
        super().__init__()
        self.term = term
        self.fencing_token = term.fencing_token
        self.lease_name = term.lease_name
        self.namespace = term.namespace
        self.identity = term.identity
        self.election = term.election

    @property
    def ended(self) -> bool:
        return self.is_set()


class LoopBridge:
    """Hands work from the engine's threads to one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self.loop = loop
        self._name = name
        self._lock = threading.Lock()
        # done() callbacks of coroutine jobs not finished yet (see abandon_if_closed).
        self._unfinished: dict[int, tuple[Callable[[], None], Any]] = {}
        self._next = 0

    def abandon_if_closed(self) -> None:
        """If the loop has closed, count its unfinished coroutine jobs as finished: a task
        scheduled on a loop that closed before running it will never report back."""
        if not self.loop.is_closed():
            return
        with self._lock:
            unfinished, self._unfinished = list(self._unfinished.values()), {}
        for done, coroutine in unfinished:
            logger.error(
                "%s: the event loop closed while a leader-only coroutine was pending", self._name
            )
            coroutine.close()  # it may never have started: no "never awaited" warning
            done()

    def call(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Schedule ``fn(*args)`` on the loop; False (and logged once) if the loop closed."""
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            logger.error("%s: the event loop is closed; %r not run", self._name, fn)
            return False
        return True

    def await_from_thread(self, awaitable: Awaitable[Any], what: str) -> None:
        """Run ``awaitable`` on the loop and wait for it on this (non-loop) thread.

        Returns when it finished, raised (logged) or the loop closed under it.
        """
        try:
            future = asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), self.loop)
        except RuntimeError:
            _close(awaitable)
            logger.error("%s: the event loop is closed; %s not awaited", self._name, what)
            return
        while True:
            try:
                future.result(_POLL)
                return
            except concurrent.futures.TimeoutError:
                if self.loop.is_closed():
                    logger.error("%s: the event loop closed while %s ran", self._name, what)
                    return
            except (Exception, concurrent.futures.CancelledError):
                logger.exception("%s: %s raised", self._name, what)
                return

    def start_job(
        self,
        fn: Callable[[AsyncTerm], Awaitable[Any]],
        term: Term,
        label: str,
        bound: float,
        done: Callable[[], None],
    ) -> None:
        """Run ``fn(async_term)`` as a task for ``term``; cancel it ``bound`` seconds after the
        term ended if it has not returned; ``done()`` once it finished in any way."""
        async_term = AsyncTerm(term)
        # Set on the loop when *we* cancel the job for ignoring its term's end; any other
        # cancellation comes from its loop (asyncio.run ending, a server shutting down).
        overran = False

        def finished(_: object = None) -> None:
            with self._lock:
                entry = self._unfinished.pop(key, None)
            if entry is not None:
                entry[0]()

        async def run() -> None:
            try:
                await fn(async_term)
            except asyncio.CancelledError:
                if overran:
                    logger.error(
                        "%s-job-%s: cancelled %.1f s after its term ended (it ignored its stop "
                        "event)",
                        self._name,
                        label,
                        bound,
                    )
                else:
                    logger.warning(
                        "%s-job-%s: cancelled by its event loop (shutting down) while it ran",
                        self._name,
                        label,
                    )
            except Exception:
                logger.exception("%s-job-%s: the leader-only coroutine raised", self._name, label)

        coroutine = run()
        with self._lock:
            key = self._next
            self._next += 1
            self._unfinished[key] = (done, coroutine)
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        except RuntimeError:
            coroutine.close()
            logger.error("%s: the event loop is closed; %s not started", self._name, label)
            finished()
            return
        future.add_done_callback(finished)

        def cancel_overrun() -> None:
            nonlocal overran
            if not future.done():
                overran = True
                future.cancel()

        def on_end() -> None:
            async_term.set()
            timer = self.loop.call_later(bound, cancel_overrun)
            # Done callbacks run on the loop (the task's result is copied there).
            future.add_done_callback(lambda _: timer.cancel())

        def schedule_end() -> None:
            if not future.done():  # a job that already returned needs no stop
                self.call(on_end)

        term.on_end(schedule_end)


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _close(awaitable: Awaitable[Any]) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()  # no "never awaited" warning for a coroutine we could not run
