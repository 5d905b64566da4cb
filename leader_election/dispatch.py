"""The dispatcher: one thread per module that delivers events to signal receivers, in order.

Receivers run here, never on the elector thread, so a slow receiver cannot delay a renewal.
blinker's ``send()`` stops at the first receiver that raises; we call receivers one by one
instead, log the one that raised and go on, so a failing receiver never kills the election or
starves the others.
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import blinker

__all__ = ["Dispatcher"]

logger = logging.getLogger(__name__)

_STOP = object()


class Dispatcher:
    """Delivers ``(signal, event)`` pairs from a queue, in order, on a named thread."""

    def __init__(self, name: str, sender: Any) -> None:
        self._sender = sender
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.current_receiver: str | None = None
        """The receiver being called now (its qualified name), for diagnostics."""
        self.loop_bridge: Any = None
        """The ``aio.LoopBridge`` that awaits coroutine receivers, when started from a loop."""

    def start(self) -> None:
        self._thread.start()

    def put(
        self, signal: blinker.Signal, event: Any, *, after: Callable[[], None] | None = None
    ) -> None:
        """Queue ``event`` for the receivers of ``signal``; returns at once. ``after`` is
        called on the dispatcher thread once every receiver has returned."""
        self._queue.put((signal, event, after))

    def is_current_thread(self) -> bool:
        """True when called from a receiver (on the dispatcher thread itself)."""
        return threading.current_thread() is self._thread

    def request_stop(self) -> None:
        """End the thread after the queued events, without waiting (usable from a receiver)."""
        self._queue.put(_STOP)

    def stop(self, timeout: float) -> bool:
        """Deliver what is queued, then end the thread. False if it did not end in time."""
        if not self._thread.is_alive():
            return True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning(
                "%s: a receiver is still running after %.1f s; leaving the dispatcher thread "
                "to finish on its own",
                self._thread.name,
                timeout,
            )
            return False
        return True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            signal, event, after = item
            try:
                self._deliver(signal, event)
            finally:
                if after is not None:
                    after()

    def _await(self, result: Any, receiver: Any) -> None:
        """A coroutine receiver: await it on the module's loop; this thread waits for it, so
        order and the drain hold for coroutine receivers as for plain ones."""
        what = f"receiver {self.current_receiver}"
        bridge = self.loop_bridge
        if bridge is None:
            close = getattr(result, "close", None)
            if callable(close):
                close()
            logger.error(
                "%s: %s is a coroutine function, but the module was not started from a "
                "running event loop (use `async with election:`); it was not run",
                self._thread.name,
                what,
            )
            return
        bridge.await_from_thread(result, what)

    def _deliver(self, signal: blinker.Signal, event: Any) -> None:
        for receiver in list(signal.receivers_for(self._sender)):
            started = time.monotonic()
            self.current_receiver = getattr(receiver, "__qualname__", repr(receiver))
            try:
                result = receiver(self._sender, event=event)
                if inspect.isawaitable(result):
                    self._await(result, receiver)
            except Exception:
                logger.exception(
                    "%s: receiver %r of %r raised; the election goes on",
                    self._thread.name,
                    receiver,
                    getattr(signal, "name", signal),
                )
            elapsed = time.monotonic() - started
            if elapsed > 1.0:
                logger.warning(
                    "%s: receiver %r of %r took %.1f s; later events waited for it",
                    self._thread.name,
                    receiver,
                    getattr(signal, "name", signal),
                    elapsed,
                )
        self.current_receiver = None
