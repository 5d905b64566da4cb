"""Time, injected: a monotonic clock for every deadline, UTC wall time only for the wire.

Lease expiry is judged by when *this process* last saw the record change, on its monotonic
clock; the ``acquireTime``/``renewTime`` written to the Lease are informational. The clock is a
parameter so tests and the chaos suite can skew the wall clock (or stop time) without touching
the machine's.
"""

from __future__ import annotations

import datetime
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SkewedClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What the election engine needs from time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; used for every deadline."""
        ...

    def now(self) -> datetime.datetime:
        """The current UTC wall time (timezone-aware); written to the Lease only."""
        ...


class SystemClock:
    """The machine's clocks: ``time.monotonic()`` and the UTC wall clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.timezone.utc)


class SkewedClock(SystemClock):
    """The machine's clocks with the wall clock shifted by ``offset`` seconds.

    For tests of clock skew: the monotonic clock is left alone, as skew never affects it.
    """

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> datetime.datetime:
        return super().now() + datetime.timedelta(seconds=self.offset)
