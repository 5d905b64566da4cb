"""Waiting on a condition with a deadline: the only way tests here wait.

Never sleep-then-assert: poll a predicate until a monotonic deadline and, when it does not
hold in time, fail with what was awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["WaitTimeout", "wait_for"]

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """``wait_for`` gave up: the predicate did not hold before the deadline."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    *,
    what: str | None = None,
    interval: float = 0.005,
) -> T:
    """Poll ``predicate`` until it returns a truthy value and return that value.

    ``timeout`` and ``interval`` are in seconds, measured on ``time.monotonic()``. Raises
    ``WaitTimeout`` naming ``what`` (or the predicate's name) when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            name = what or getattr(predicate, "__name__", repr(predicate))
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {name}")
        # A bounded pause between polls; the deadline, not this sleep, decides the outcome.
        time.sleep(min(interval, remaining))
