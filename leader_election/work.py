"""Leader-only work: the ``Term`` a job sees, the job threads, and the drain of a term.

A term begins when this candidate becomes leader and ends when it stops being leader. Each
``run_while_leader`` function runs on its own thread for the term and receives the ``Term``:
a ``threading.Event`` that is set when the term ends, carrying the fencing token. The term is
*drained* when every function of the term and the ``leader.lost`` delivery have returned; the
elector releases the Lease only then (``state.py``, rule 7). Work still running at the first
moment another candidate may lead is an *overrun*: logged, counted, and reported by
``healthy()``.
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
from collections.abc import Callable
from typing import Any, Protocol

from leader_election.clock import Clock

__all__ = ["LOST_DELIVERY", "LeaderWork", "Term"]

logger = logging.getLogger(__name__)

LOST_DELIVERY = "leader.lost receivers"
"""The pending item that stands for the delivery of a term's ``leader.lost``."""


class Term(threading.Event):
    """One leadership term as leader-only work sees it.

    Behaves as the stop event (``wait()``, ``is_set()``): it is set when the term ends — the
    function should then finish what it has in hand and return. Also carries what the work
    needs to know about its term: ``fencing_token`` (pass it to the systems you write to, so
    they can refuse a stale leader), ``lease_name``, ``namespace``, ``identity`` and the
    ``election`` (the ``LeaderElectionModule``).
    """

    def __init__(
        self,
        *,
        election: Any,
        fencing_token: int,
        lease_name: str,
        namespace: str,
        identity: str,
    ) -> None:
        super().__init__()
        self.election = election
        self.fencing_token = fencing_token
        self.lease_name = lease_name
        self.namespace = namespace
        self.identity = identity
        self._on_end: list[Callable[[], None]] = []
        self._on_end_lock = threading.Lock()
        self.reason: Any = None
        """Why the term ended (a ``LostReason``), once it has; ``None`` while it runs."""

    def set(self) -> None:
        """End the term (the library does this; leader-only work only reads it)."""
        with self._on_end_lock:
            callbacks, self._on_end = self._on_end, []
            super().set()
        for callback in callbacks:
            try:
                callback()
            except Exception:
                logger.exception("a callback at the end of %r raised", self)

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the term ends (at once if it has ended)."""
        with self._on_end_lock:
            if not self.is_set():
                self._on_end.append(callback)
                return
        callback()

    @property
    def ended(self) -> bool:
        """True once the term is over (the same as ``is_set()``)."""
        return self.is_set()

    def __repr__(self) -> str:
        state = "ended" if self.is_set() else "current"
        return (
            f"<Term {self.namespace}/{self.lease_name} fencing_token={self.fencing_token} {state}>"
        )


JobFunction = Callable[[Term], Any]


class Cancellable(Protocol):
    """A scheduled call that may be called off."""

    def cancel(self) -> None: ...


Schedule = Callable[[float, Callable[[], None]], Cancellable]
"""``schedule(delay_seconds, callback)``: call ``callback`` once after the delay."""


class _Job:
    """A registered ``run_while_leader`` function and its thread of the current term."""

    def __init__(self, fn: JobFunction, label: str, thread_name: str) -> None:
        self.fn = fn
        self.label = label
        self.thread_name = thread_name
        # Every run not known to have returned: a run of an earlier term may still be
        # stopping when the next term begins (re-elected after a loss).
        self.threads: list[threading.Thread] = []
        # A coroutine function runs as a task on the module's event loop (aio.py).
        self.is_async = inspect.iscoroutinefunction(fn)


class LeaderWork:
    """Runs the jobs of each term and tells when a term is drained.

    ``on_drained(token)`` is called (from whichever thread finished last) once the term with
    that fencing token has ended and everything pending for it has returned.
    """

    def __init__(
        self,
        prefix: str,
        clock: Clock,
        on_drained: Callable[[int], None] | None = None,
        *,
        cancel_after: float = 10.0,
    ) -> None:
        self._prefix = prefix
        self._cancel_after = cancel_after
        self.loop_bridge: Any = None
        """The ``aio.LoopBridge`` coroutine functions run on, when started from a loop."""
        self._clock = clock
        self._on_drained = on_drained
        self._jobs: list[_Job] = []
        self._cond = threading.Condition()
        self._term: Term | None = None
        self._pending: dict[str, int] = {}
        self._ended = False
        self._claim_ends_at = math.inf
        self._overrun_reported = False
        self._timer: threading.Timer | Cancellable | None = None
        self._cancelled: list[threading.Thread] = []
        self.schedule: Schedule | None = None
        """Runs the overrun check ``(delay s, callback) -> handle with cancel()``; by default
        a ``threading.Timer`` per term (a group runs them on its elector thread instead, so
        losing many Leases at once starts no thread)."""
        self.overruns = 0
        """How many terms had work still running when another candidate could lead."""
        self.on_overrun: Callable[[list[str]], None] | None = None

    # -- registration ----------------------------------------------------------------------
    def add(self, fn: JobFunction, label: str) -> None:
        """Register a function; it starts at once if a term is running."""
        job = _Job(fn, label, f"{self._prefix}-job-{label}")
        with self._cond:
            self._jobs.append(job)
            if self._term is not None and not self._ended:
                self._start(job, self._term)

    def specs(self) -> list[tuple[JobFunction, str]]:
        """The registered functions, to register again in a forked child."""
        with self._cond:
            return [(job.fn, job.label) for job in self._jobs]

    # -- terms -----------------------------------------------------------------------------
    def begin(self, term: Term, *, start_jobs: bool = True) -> None:
        """A term began: start every function on its own thread (unless the term is
        already over by the time it is known, ``start_jobs=False``)."""
        with self._cond:
            self._cancel_timer()
            self._term = term
            self._pending = {}
            self._ended = False
            self._claim_ends_at = math.inf
            self._overrun_reported = False
            if start_jobs:
                for job in self._jobs:
                    self._start(job, term)

    def end(self, *, also_pending: tuple[str, ...] = (), reason: Any = None) -> Term | None:
        """The current term ended: set its stop event and return it; ``also_pending`` must
        return (``finished``) before it is drained (the ``leader.lost`` delivery)."""
        with self._cond:
            term = self._term
            if term is None or self._ended:
                return None
            self._ended = True
            for item in also_pending:
                self._pending[item] = self._pending.get(item, 0) + 1
            term.reason = reason
            term.set()
        self._check_drained()
        return term

    def finished(self, term: Term, item: str) -> None:
        """``item`` of ``term`` returned."""
        with self._cond:
            if term is not self._term:
                return
            count = self._pending.get(item, 0) - 1
            if count > 0:
                self._pending[item] = count
            else:
                self._pending.pop(item, None)
        self._check_drained()

    def running(self) -> list[str]:
        """What of the latest term has not returned yet (function names)."""
        with self._cond:
            return sorted(self._pending)

    def drained(self) -> bool:
        with self._cond:
            return self._term is None or (self._ended and not self._pending)

    def wait_drained(self, timeout: float) -> bool:
        """Wait until the latest term is drained (True) or ``timeout`` seconds pass."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._term is None or (self._ended and not self._pending),
                max(timeout, 0.0),
            )

    def is_work_thread(self) -> bool:
        """True on a thread of a ``run_while_leader`` function of this module."""
        current = threading.current_thread()
        with self._cond:
            return any(current in job.threads for job in self._jobs)

    # -- overruns --------------------------------------------------------------------------
    def watch_overrun(self, token: int, claim_ends_at: float) -> None:
        """Another candidate may lead from ``claim_ends_at`` (monotonic): report the work of
        this term still running then."""
        if not math.isfinite(claim_ends_at):
            return
        with self._cond:
            term = self._term
            if term is None or term.fencing_token != token:
                return
            self._claim_ends_at = claim_ends_at
            if self._ended and not self._pending:
                return
            self._cancel_timer()
            delay = max(claim_ends_at - self._clock.monotonic(), 0.0)
            if self.schedule is not None:
                self._timer = self.schedule(delay, lambda: self._check_overrun(token))
                return
            timer = threading.Timer(delay, self._check_overrun, args=(token,))
            timer.name = f"{self._prefix}-overrun"
            timer.daemon = True
            self._timer = timer
            timer.start()

    def overrunning(self) -> bool:
        """True while work of an ended term runs past the moment another may lead."""
        with self._cond:
            return (
                self._ended
                and bool(self._pending)
                and self._clock.monotonic() >= self._claim_ends_at
            )

    def _check_overrun(self, token: int) -> None:
        with self._cond:
            term = self._term
            if (
                term is None
                or term.fencing_token != token
                or not self._pending
                or self._overrun_reported
            ):
                return
            self._overrun_reported = True
            self.overruns += 1
            names = sorted(self._pending)
        logger.error(
            "%s: %s still running after the term with fencing token %d ended; another "
            "candidate may lead now, so this work overlaps with the next leader's. Make it "
            "return when its stop event is set.",
            self._prefix,
            ", ".join(names),
            token,
        )
        callback = self.on_overrun
        if callback is not None:
            try:
                callback(names)
            except Exception:
                logger.exception("%s: an overrun observer raised", self._prefix)

    # -- shutdown --------------------------------------------------------------------------
    def join(self, deadline: float) -> None:
        """Set every stop event, then wait for the job threads until ``deadline`` (monotonic)."""
        with self._cond:
            if self._term is not None:
                self._term.set()
            threads = [thread for job in self._jobs for thread in job.threads]
        current = threading.current_thread()
        for thread in threads:
            if thread is current or not thread.is_alive():
                continue
            thread.join(max(deadline - self._clock.monotonic(), 0.1))
            if thread.is_alive():
                logger.warning("%s did not return after its stop event was set", thread.name)
        # The overrun check stays armed while the functions return: then it is cancelled,
        # and its thread (and those cancelled before) joined.
        with self._cond:
            self._cancel_timer()
            timers, self._cancelled = self._cancelled, []
        for timer in timers:
            if timer is not current:
                timer.join(1.0)

    # -- internals -------------------------------------------------------------------------
    def _start(self, job: _Job, term: Term) -> None:
        if job.is_async:
            bridge = self.loop_bridge
            if bridge is None:
                logger.error(
                    "%s: %s is a coroutine function, but the module was not started from a "
                    "running event loop: use `async with election:` (or call start() inside a "
                    "coroutine) so it has a loop to run on",
                    self._prefix,
                    job.label,
                )
                return
            self._pending[job.label] = self._pending.get(job.label, 0) + 1
            bridge.start_job(
                job.fn,
                term,
                job.label,
                self._cancel_after,
                lambda: self.finished(term, job.label),
            )
            return
        self._pending[job.label] = self._pending.get(job.label, 0) + 1
        job.threads = [thread for thread in job.threads if thread.is_alive()]
        previous = job.threads[-1] if job.threads else None
        thread = threading.Thread(
            target=self._run, args=(job, term, previous), name=job.thread_name, daemon=True
        )
        job.threads.append(thread)
        thread.start()

    def _run(self, job: _Job, term: Term, previous: threading.Thread | None) -> None:
        try:
            # Never two runs of one function at once, even within this process: a run of an
            # earlier term that is still stopping finishes before this term's run begins.
            while previous is not None and previous.is_alive() and not term.is_set():
                previous.join(0.05)
            if not term.is_set():
                job.fn(term)
        except Exception:
            logger.exception("%s: the leader-only function raised", job.thread_name)
        finally:
            self.finished(term, job.label)

    def _check_drained(self) -> None:
        with self._cond:
            if not self._ended or self._pending or self._term is None:
                return
            token = self._term.fencing_token
            self._cancel_timer()
            self._cond.notify_all()
        if self._on_drained is not None:
            self._on_drained(token)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            if isinstance(self._timer, threading.Thread):
                # Cancelled, it ends at once, but join() must still see it end.
                self._cancelled = [t for t in self._cancelled if t.is_alive()]
                self._cancelled.append(self._timer)
            self._timer = None
