"""The leader-only job of the chaos suite and the benchmarks: work that shows in a log.

A real ``run_while_leader`` job does not return the instant its stop event is set: it finishes
the unit of work in hand first. ``WorkLog.run(stop_event, token)`` is such a job, for one
leadership term:

1. it writes a sample at once, then one every ``period`` seconds while ``stop_event`` is unset;
2. once the event is set it keeps working for a random stop time in ``[stop_min, stop_max]``
   seconds (still writing samples);
3. it writes a last sample and returns.

So the samples of one run span exactly the time the job was running: from its start to its
return, stop time included. Each line is ``monotonic-time identity token run``: ``token`` is
the fencing token the term started with (``-`` for a client without one) and ``run`` numbers
the job's runs in this process (1, 2, ...), so two terms that carry the same token (after a
hand edit of ``leaseTransitions``) stay two work terms. A group candidate runs one job per
Lease and names it: ``run(..., lease=NAME)`` appends ``lease=NAME``, so the checker judges
each Lease's work on its own. Every process on a Linux machine shares ``CLOCK_MONOTONIC``, so
the logs of all candidates merge (``harness.checker``).
"""

from __future__ import annotations

import itertools
import random
import threading
import time

__all__ = ["WorkLog"]


class WorkLog:
    """Runs the work job and appends its samples to ``path`` (one file per process)."""

    def __init__(
        self,
        path: str,
        identity: str,
        *,
        stop_min: float = 0.0,
        stop_max: float = 0.5,
        period: float = 0.002,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= stop_min <= stop_max:
            raise ValueError(f"stop time [{stop_min}, {stop_max}] s: need 0 <= min <= max")
        self.path = path
        self.identity = identity
        self.stop_min = stop_min
        self.stop_max = stop_max
        self.period = period
        self._lock = threading.Lock()
        # Stop times from a seeded generator, so a chaos seed replays them; not security.
        self._random = random.Random(seed)
        self._runs = itertools.count(1)

    def _stop_time(self) -> float:
        with self._lock:
            return self._random.uniform(self.stop_min, self.stop_max)

    def run(
        self, stop_event: threading.Event, token: int | None, *, lease: str | None = None
    ) -> None:
        """One term's work; returns ``stop_min``-``stop_max`` seconds after ``stop_event``.

        ``lease``: the Lease the term is of, written on every sample (a group candidate)."""
        with self._lock:
            run = next(self._runs)
        label = "-" if token is None else str(token)
        tail = "" if lease is None else f" lease={lease}"
        # Line-buffered appends: each sample reaches the file as one write, so a SIGKILL
        # loses at most the line being written (the checker drops a torn last line).
        with open(self.path, "a", buffering=1, encoding="utf-8") as log:

            def sample() -> None:
                log.write(f"{time.monotonic():.6f} {self.identity} {label} {run}{tail}\n")

            sample()
            while not stop_event.wait(self.period):
                sample()
            # 2. finishing the work in hand: the stop event does not end the work at once.
            until = time.monotonic() + self._stop_time()
            while (left := until - time.monotonic()) > 0:
                sample()
                time.sleep(min(self.period, left))
            sample()
