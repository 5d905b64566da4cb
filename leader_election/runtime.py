"""``Runtime``: what one started ``LeaderElectionModule`` runs, created per start and per fork.

It owns the connection, the dispatcher thread, the elector (with its watch thread) — or, in
standalone mode, none — and the leader-only work (``work.py``). ``on_event`` is the one place
where an election event becomes, in this order: observer calls, woken waiters, started or
stopped work, and a queued blinker signal. ``stop`` runs drain-then-release (``state.py``,
rule 7) and joins every thread within a budget.

Threads: the elector and the watch (``elector.py``), the dispatcher (``dispatch.py``), one
thread per ``run_while_leader`` function and term (``work.py``); ``on_event`` runs on the
elector thread and never blocks.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from leader_election import process
from leader_election.announce import Announcer
from leader_election.connection import Connection
from leader_election.dispatch import Dispatcher
from leader_election.elector import Elector
from leader_election.events import (
    LeaderChangedEvent,
    LeaderElectedEvent,
    LeaderLostEvent,
    leader_changed,
    leader_elected,
    leader_lost,
)
from leader_election.lock import LeaseLock
from leader_election.options import LeaderElectionOptions
from leader_election.preflight import run_preflight
from leader_election.state import (
    Acquired,
    Changed,
    DrainAbandoned,
    Failure,
    Lost,
    LostReason,
    Machine,
    Op,
    State,
)
from leader_election.transport import Transport
from leader_election.work import LOST_DELIVERY, JobFunction, LeaderWork, Term

if TYPE_CHECKING:
    from leader_election.group import LeaderElectionGroup
    from leader_election.module import LeaderElectionModule

__all__ = ["Lifecycle", "Runtime"]

logger = logging.getLogger(__name__)


class Lifecycle(enum.Enum):
    """A module runs once: NEW → STARTED → STOPPED."""

    NEW = "new"
    STARTED = "started"
    STOPPED = "stopped"


Notify = Callable[..., None]


class Runtime:
    """The threads and state of one started module (see the module docstring)."""

    announces = True
    """Whether the leader labels its Pod and records Events (``announce.py``) itself."""

    def __init__(
        self,
        module: LeaderElectionModule | LeaderElectionGroup,
        options: LeaderElectionOptions,
        connection: Connection | None,
        notify: Notify,
        *,
        leading: threading.Condition,
        jobs: list[tuple[JobFunction, str]] = (),  # type: ignore[assignment]
        dispatcher: Dispatcher | None = None,
        loop: Any = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.module = module
        self.options = options
        self.timing = options.timing
        self.connection = connection
        self.standalone = connection is None
        self.pid = os.getpid()
        self.prefix = f"leader-election[{options.lease_description}]"
        self._notify = notify
        self._own_dispatcher = dispatcher is None
        self.dispatcher = dispatcher or Dispatcher(f"{self.prefix}-events", module)
        self.work = LeaderWork(
            self.prefix,
            options.clock,
            on_drained=self._drained,
            cancel_after=self.timing.coroutine_cancel_after,
        )
        self.work.on_overrun = lambda names: self._notify("on_overrun", names)
        bridge = _loop_bridge(loop, self.prefix)
        self.work.loop_bridge = self.dispatcher.loop_bridge = bridge
        self.loop = bridge.loop if bridge is not None else None
        self._wake = wake
        self.announcer = Announcer(self) if connection is not None and self.announces else None
        for fn, label in self.announcer.jobs() if self.announcer is not None else ():
            self.work.add(fn, label)
        for fn, label in jobs:
            self.work.add(fn, label)
        self._preflight: threading.Thread | None = None
        self.elector: Elector | None = None
        self.standalone_leading = False
        # The module's: notified on every elected/lost and at stop, so waiters never poll.
        self.leading = leading
        self._stop_thread: threading.Thread | None = None

    # -- what the facade reads -------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        if self.pid != os.getpid():
            return False
        if self.standalone:
            return self.standalone_leading
        elector = self.elector
        return elector is not None and elector.is_leader

    @property
    def machine(self) -> Machine | None:
        return self.elector.machine if self.elector is not None else None

    # -- start -----------------------------------------------------------------------------
    def start(self, *, preflight: bool = True) -> None:
        """Start the threads; ``preflight``: review RBAC on a thread of its own and log it."""
        if self._own_dispatcher:
            self.dispatcher.start()
        options = self.options
        if self.connection is None:
            logger.warning(
                "lease %s: no Kubernetes cluster found (no api_client, kubeconfig, in-cluster "
                "environment or ~/.kube/config); running standalone: %s assumes leadership",
                options.lease_description,
                options.identity,
            )
            self.standalone_leading = True
            self.on_event(Acquired(0, options.clock.monotonic()))
            self.on_event(Changed(options.identity))
            return
        if self.announcer is not None:
            self.announcer.start()
        if preflight:
            self._preflight = threading.Thread(
                target=self.preflight, name=f"{self.prefix}-preflight", daemon=True
            )
            self._preflight.start()
        lock = LeaseLock(
            Transport(self.connection.api_client),
            options.namespace,
            options.lease_name,
            dict(options.lease_labels or {}),
        )
        self.elector = Elector(
            options, lock, self.on_event, thread_name=self.prefix, on_request=self._on_request
        )
        self.elector.start()

    # -- the one place an election event becomes observers, waiters, work and signals -------
    def on_event(self, event: Acquired | Lost | Changed | DrainAbandoned) -> None:
        """Called on the elector thread (or by start/stop in standalone): never blocks."""
        options = self.options
        common = {
            "lease_name": options.lease_name,
            "namespace": options.namespace,
            "identity": options.identity,
        }
        if isinstance(event, Acquired):
            self._notify("on_leadership", True)
            self._wake_waiters()
            term = Term(
                election=self.module,
                fencing_token=event.token,
                lease_name=options.lease_name,
                namespace=options.namespace,
                identity=options.identity,
            )
            # A term may be over before it is known (a write answered after its deadline):
            # its leader.elected and leader.lost still go out, but no work starts.
            self.work.begin(term, start_jobs=self.is_leader)
            self.dispatcher.put(
                leader_elected,
                LeaderElectedEvent(
                    **common,
                    fencing_token=event.token,
                    standalone=self.standalone,
                    since=event.since,
                ),
            )
        elif isinstance(event, Lost):
            self._notify("on_leadership", False)
            self._wake_waiters()
            ended = self.work.end(also_pending=(LOST_DELIVERY,), reason=event.reason)
            after = None
            if ended is not None:
                self.work.watch_overrun(event.token, event.claim_ends_at)

                def after(term: Term = ended) -> None:
                    self.work.finished(term, LOST_DELIVERY)

            self.dispatcher.put(
                leader_lost,
                LeaderLostEvent(
                    **common,
                    reason=event.reason,
                    fencing_token=event.token,
                    standalone=self.standalone,
                ),
                after=after,
            )
        elif isinstance(event, DrainAbandoned):
            running = ", ".join(self.running_work())
            left = max(event.claim_ends_at - options.clock.monotonic(), 0.0)
            if event.reason is None:
                logger.error(
                    "lease %s (%s): %s still running %.1f s after leadership ended "
                    "(drain_timeout); the Lease is not released and expires in %.1f s",
                    options.lease_description,
                    options.identity,
                    running or "leader-only work",
                    self.timing.drain_timeout,
                    left,
                )
            elif running:
                logger.error(
                    "lease %s (%s): lost while draining (%s) with %s still running; another "
                    "candidate may lead in %.1f s",
                    options.lease_description,
                    options.identity,
                    event.reason.value,
                    running,
                    left,
                )
            self.work.watch_overrun(event.token, event.claim_ends_at)
        else:
            if self.announcer is not None and event.holder not in (None, options.identity):
                self.announcer.previous_holder = event.holder
            self.dispatcher.put(leader_changed, LeaderChangedEvent(**common, leader=event.holder))

    def preflight(self) -> None:
        """Ask the API server, verb by verb, whether this configuration may work (RBAC);
        log what is missing. ``start()`` raises it instead with ``await_leadership``."""
        assert self.connection is not None
        options = self.options
        report = run_preflight(
            self.connection.api_client,
            options.lease_name,
            options.namespace,
            pod_label=bool(options.leader_pod_label),
            events=options.record_events,
            timeout=self.timing.follower_timeout,
        )
        error = report.error()
        if error is not None:
            logger.error("lease %s: %s", options.lease_description, error)
        warning = report.warning()
        if warning is not None:
            logger.warning("lease %s: %s", options.lease_description, warning)

    def running_work(self) -> list[str]:
        """The functions of the latest term still running, receivers named as such."""
        names = []
        for item in self.work.running():
            if item == LOST_DELIVERY:
                receiver = self.dispatcher.current_receiver
                names.append(f"leader.lost receiver {receiver}" if receiver else item)
            else:
                names.append(item)
        return names

    def _drained(self, token: int) -> None:
        if self.elector is not None:
            self.elector.drained(token)

    def _wake_waiters(self) -> None:
        with self.leading:
            self.leading.notify_all()
        if self._wake is not None:
            self._wake()

    def _on_request(self, op: Op, seconds: float, failure: Failure | None) -> None:
        self._notify("on_request", op, seconds, failure)

    # -- resign / stop ---------------------------------------------------------------------
    def on_own_thread(self) -> bool:
        """True on the dispatcher thread (a receiver), a leader-only function's thread, or
        the thread running the module's event loop (where coroutine jobs and receivers run):
        a drain waits for work on these threads, so they must not wait for the drain."""
        return (
            self.dispatcher.is_current_thread() or self.work.is_work_thread() or self._on_own_loop()
        )

    def _on_own_loop(self) -> bool:
        if self.loop is None:
            return False
        from leader_election import aio  # noqa: PLC0415 - loaded already: there is a loop

        return aio.running_loop() is self.loop

    def resign(self, timeout: float) -> bool:
        elector = self.elector
        if elector is None or not elector.is_leader:
            return False
        before = elector.machine.sit_out_until
        elector.request_resign()
        if self.on_own_thread():
            # The drain waits for this very thread: it completes once the caller returns.
            return True
        # Done when the machine is a candidate again (a new sit-out began) or stopped.
        elector.wait_for(lambda m: m.state is State.STOPPED or m.sit_out_until != before, timeout)
        return True

    def stop(self, budget: float) -> None:
        """Drain, release, then end every thread within ``budget`` seconds."""
        self._wake_waiters()
        if self.on_own_thread():
            # Called by a receiver, a leader-only function or a coroutine on the module's
            # loop: the drain waits for the caller to return (for the loop to run the
            # coroutine work), so the rest of the stop runs on a thread of its own.
            if self._stop_thread is None:
                self._stop_thread = threading.Thread(
                    target=self._stop, args=(budget,), name=f"{self.prefix}-stop", daemon=True
                )
                self._stop_thread.start()
                process.finish_before_exit(self._stop_thread, budget)
            return
        self._stop(budget)

    def _stop(self, budget: float) -> None:
        clock = self.options.clock
        started = clock.monotonic()
        deadline = started + budget
        bridge = self.work.loop_bridge
        if bridge is not None:
            bridge.abandon_if_closed()
        if self.standalone:
            if self.standalone_leading:
                self.standalone_leading = False
                self.on_event(Lost(LostReason.STOPPED, 0))
        elif self.elector is not None:
            self.elector.request_stop()
            if not self.elector.join(budget):
                logger.warning("%s: the elector did not stop within %.1f s", self.prefix, budget)
        # The elector waits for the drain before it releases; without a release (standalone,
        # the Lease lost meanwhile) wait for the work here, within the same bound.
        drain_left = min(started + self.timing.drain_timeout, deadline) - clock.monotonic()
        if self.work.wait_drained(drain_left):
            self.work.join(deadline)  # every function returned: its thread is ending
        else:
            logger.error(
                "%s: %s still running after stop(); leaving it to finish on its own",
                self.prefix,
                ", ".join(self.running_work()) or "leader-only work",
            )
            self.work.join(clock.monotonic())
        if self._preflight is not None:
            self._preflight.join(max(deadline - clock.monotonic(), 0.1))
        if self.announcer is not None:
            self.announcer.join(deadline - clock.monotonic())
        self.dispatcher.stop(max(deadline - clock.monotonic(), 0.1))
        if self.connection is not None:
            self.connection.close()
        self._wake_waiters()


def _loop_bridge(loop: Any, prefix: str) -> Any:
    """A ``LoopBridge`` to ``loop``, or to the loop running in this thread; None without one.

    asyncio is imported only when it already is: a process without it has no loop.
    """
    if loop is None and "asyncio" not in sys.modules:
        return None
    from leader_election import aio  # noqa: PLC0415 - keeps asyncio out of plain imports

    loop = loop if loop is not None else aio.running_loop()
    return aio.LoopBridge(loop, prefix) if loop is not None else None


def job_label(fn: Any, name: str | None) -> str:
    """How a ``run_while_leader`` function is named in thread names and messages."""
    return name or getattr(fn, "__name__", None) or "job"
