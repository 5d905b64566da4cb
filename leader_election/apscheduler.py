"""APScheduler 3 integration: a scheduler whose jobs run only while its election leads.

::

    from apscheduler.schedulers.background import BackgroundScheduler
    from leader_election.apscheduler import fencing_token, schedule_while_leader

    scheduler = BackgroundScheduler()
    scheduler.add_job(report, "interval", minutes=5)
    schedule_while_leader(election, scheduler)   # before or after scheduler.start()
    scheduler.start()                            # starts paused; resumed when elected
    election.start()

Every pod runs the same scheduler with the same jobs; only the leader's is *resumed*. The tie
is one ``run_while_leader`` function per election term (``LeaderSchedule._lead``):

1. wait until the previous term's jobs have returned (a lost term may still be draining);
2. resume the scheduler (``scheduler.resume()``): due jobs run;
3. wait for the term to end (``stop()``, SIGTERM, ``resign()``, a lost renewal);
4. pause the scheduler, then wait until a job submission already past the pause check has
   finished (APScheduler submits due jobs under its job-store lock);
5. wait until the jobs already running have returned, then return — so the election releases
   the Lease only after them (drain, then release). Past ``drain_timeout`` the election gives
   up releasing (the Lease expires) and counts an overrun; this function stops waiting one
   ``lease_duration`` later, when another candidate may be leading anyway.

Works the same for ``BackgroundScheduler`` and ``AsyncIOScheduler`` (and the other APScheduler 3
schedulers): ``pause()``/``resume()`` are safe from another thread (an ``AsyncIOScheduler``
wakes up through ``call_soon_threadsafe``), so the tie needs no event loop of the election's
(``async with election`` is not required).

Jobs read their term's fencing token with ``fencing_token(scheduler)`` — not a context
variable, which APScheduler's pool threads do not inherit, and not an injected job keyword
argument, which would be stored with the job (a persistent job store would keep a stale
token) and change every job's signature. During the drain the election's own
``fencing_token`` is already ``None``; ``fencing_token(scheduler)`` still names the term the
running jobs were started in.

What a job due while leadership moves does is APScheduler's ``misfire_grace_time`` and
``coalesce`` (see docs/schedulers.md). Needs APScheduler 3: ``pip install
'leader-election[apscheduler]'``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from leader_election import serving

try:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.schedulers import SchedulerNotRunningError
    from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
except ImportError as exc:  # pragma: no cover - exercised by a test that hides apscheduler
    raise serving.missing_extra(
        "leader_election.apscheduler", "APScheduler", "apscheduler"
    ) from exc

from leader_election.errors import ConfigurationError, MisuseError
from leader_election.module import LeaderElectionModule
from leader_election.work import Term

__all__ = ["LeaderSchedule", "binding", "current_term", "fencing_token", "schedule_while_leader"]

logger = logging.getLogger(__name__)

# Re-check the running jobs this often while draining, besides the wake-up of each finished
# job: an executor-level failure (a broken process pool) decrements without an event.
_DRAIN_POLL = 0.1

_bindings: weakref.WeakKeyDictionary[Any, LeaderSchedule] = weakref.WeakKeyDictionary()
_bindings_lock = threading.Lock()
_numbers = itertools.count(1)


def schedule_while_leader(election: LeaderElectionModule, scheduler: Any) -> LeaderSchedule:
    """Run ``scheduler``'s jobs only while ``election`` leads; returns the ``LeaderSchedule``.

    Call it before or after ``scheduler.start()`` and before or after ``election.start()``.
    A scheduler not started yet will start paused whatever ``start()`` is given; a running
    one is paused at once (jobs due in between run on every pod: tie it before starting it).
    From then on the election owns ``pause()``/``resume()``: do not call them yourself.

    Raises ``ConfigurationError`` when ``election`` is not a ``LeaderElectionModule`` or
    ``scheduler`` not an APScheduler 3 scheduler, and ``MisuseError`` when ``scheduler`` is
    already tied to an election.
    """
    if not isinstance(election, LeaderElectionModule):
        raise ConfigurationError(
            f"schedule_while_leader(election={election!r}): expected a LeaderElectionModule "
            "(LeaderElectionModule.for_root(...))",
            option="election",
            value=election,
        )
    if not isinstance(scheduler, BaseScheduler):
        raise ConfigurationError(
            f"schedule_while_leader(scheduler={scheduler!r}): expected an APScheduler 3 "
            "scheduler (BackgroundScheduler, AsyncIOScheduler, ...)",
            option="scheduler",
            value=scheduler,
        )
    with _bindings_lock:
        existing = _bindings.get(scheduler)
        if existing is not None:
            raise MisuseError(
                f"{scheduler!r} is already scheduled while {existing.election!r} leads; "
                "schedule_while_leader ties a scheduler to one election, once: keep the "
                "LeaderSchedule it returned (or leader_election.apscheduler.binding(scheduler))"
            )
        binding = LeaderSchedule(election, scheduler)
        _bindings[scheduler] = binding
    binding._attach()
    return binding


def binding(scheduler: Any) -> LeaderSchedule | None:
    """The ``LeaderSchedule`` of ``scheduler``, or ``None`` if it is not tied to an election."""
    with _bindings_lock:
        return _bindings.get(scheduler)


def current_term(scheduler: Any) -> Term | None:
    """The term whose jobs ``scheduler`` runs now (also while they drain), else ``None``."""
    found = binding(scheduler)
    return found.term if found is not None else None


def fencing_token(scheduler: Any) -> int | None:
    """The fencing token of ``current_term(scheduler)``: pass it to what a job writes to, so
    that a stale leader's writes can be refused. ``None`` outside a term."""
    term = current_term(scheduler)
    return term.fencing_token if term is not None else None


class LeaderSchedule:
    """The tie of one APScheduler scheduler to one election (``schedule_while_leader``)."""

    def __init__(self, election: LeaderElectionModule, scheduler: Any) -> None:
        self.election = election
        """The ``LeaderElectionModule`` whose terms resume the scheduler."""
        self.scheduler = scheduler
        """The APScheduler scheduler."""
        self.label = f"apscheduler-{next(_numbers)}"
        """The name of the ``run_while_leader`` function (in thread names and overruns)."""
        # Notified when the term changes, a job finishes, or the scheduler starts.
        self._cond = threading.Condition()
        self._term: Term | None = None
        self._leading = False
        self._draining = False

    # -- what jobs and callers read ---------------------------------------------------------
    @property
    def term(self) -> Term | None:
        """The term the scheduler was resumed in, until its jobs have drained."""
        with self._cond:
            return self._term

    @property
    def fencing_token(self) -> int | None:
        term = self.term
        return term.fencing_token if term is not None else None

    def running_jobs(self) -> int:
        """How many job runs are executing now (all executors)."""
        total = 0
        # APScheduler 3 counts running instances per job in each executor under its lock
        # (BaseExecutor._instances): the one exact count, decremented when a run returns.
        for executor in list(getattr(self.scheduler, "_executors", {}).values()):
            lock = getattr(executor, "_lock", None)
            if lock is None:  # not started
                continue
            with lock:
                total += sum(executor._instances.values())
        return total

    # -- wiring ----------------------------------------------------------------------------
    def _attach(self) -> None:
        scheduler = self.scheduler
        scheduler.add_listener(
            self._on_job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        )
        if scheduler.state == STATE_STOPPED:
            original: Callable[..., None] = scheduler.start

            def start(*args: Any, paused: bool = False, **kwargs: Any) -> None:
                # Always paused: only a term resumes it (the argument is the election's now).
                original(*args, paused=True, **kwargs)
                self._resume_if_leading()

            scheduler.start = start
        else:
            self._pause()
        self.election.run_while_leader(self._lead, name=self.label)

    def _on_job_event(self, event: object) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- one term --------------------------------------------------------------------------
    def _lead(self, term: Term) -> None:
        """``run_while_leader`` function: the steps of the module docstring."""
        timing = self.election.options.timing
        # 1. The previous term's jobs first: this process never runs two terms' jobs at once.
        with self._cond:
            while self._draining and not term.is_set():
                self._cond.wait(_DRAIN_POLL)
            if term.is_set():
                return
            self._term = term
            self._leading = True
        # 2. Resume (a scheduler not started yet is resumed by its start()).
        logger.info(
            "%s: %s leads (fencing token %d): resuming %s",
            _lease(term),
            term.identity,
            term.fencing_token,
            type(self.scheduler).__name__,
        )
        self._resume_if_leading()
        # 3. Until the term ends.
        term.wait()
        # 4. Pause; let a submission already past the pause check finish.
        with self._cond:
            self._leading = False
            self._draining = True
        try:
            self._pause()
            with self.scheduler._jobstores_lock:
                pass
            # 5. Drain the running jobs.
            clock = self.election.options.clock
            started = clock.monotonic()
            limit = started + timing.drain_timeout + timing.lease_duration
            with self._cond:
                while (running := self.running_jobs()) and clock.monotonic() < limit:
                    self._cond.wait(min(_DRAIN_POLL, max(limit - clock.monotonic(), 0.0)))
            if running:
                logger.error(
                    "%s: %d job run(s) of the term with fencing token %d still running %.1f s "
                    "after it ended; giving up waiting (another candidate may lead by now)",
                    _lease(term),
                    running,
                    term.fencing_token,
                    clock.monotonic() - started,
                )
            else:
                logger.info(
                    "%s: %s paused; its jobs of fencing token %d drained in %.3f s",
                    _lease(term),
                    type(self.scheduler).__name__,
                    term.fencing_token,
                    clock.monotonic() - started,
                )
        finally:
            with self._cond:
                self._draining = False
                if self._term is term:
                    self._term = None
                self._cond.notify_all()

    def _resume_if_leading(self) -> None:
        with self._cond:
            if not self._leading:
                return
            try:
                # Under the condition: a term that ends meanwhile pauses only after this.
                self.scheduler.resume()
            except SchedulerNotRunningError:
                pass  # not started yet: its start() resumes it; or shut down: nothing to run
            except Exception:
                logger.exception("resuming %r failed", self.scheduler)

    def _pause(self) -> None:
        with self._cond:
            try:
                self.scheduler.pause()
            except SchedulerNotRunningError:
                pass  # shut down (or never started): nothing runs new jobs
            except Exception:
                logger.exception("pausing %r failed", self.scheduler)

    def __repr__(self) -> str:
        return f"<LeaderSchedule {type(self.scheduler).__name__} term={self.term!r}>"


def _lease(term: Term) -> str:
    return f"lease {term.namespace}/{term.lease_name}"
