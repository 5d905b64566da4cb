"""The elector thread: runs the state machine (``state.py``) against a Lease.

One named thread per module. It waits on a single wake-up event — set by the watch thread,
by ``stop()`` and by nothing else — until the machine's next wake-up time, feeds every
observation to ``state.step`` and carries out the actions: at most one API request at a time,
whose outcome is fed back before anything else, and events handed to a callback that must not
block (the module queues them for the dispatcher thread).

``is_leader`` is computed from the published deadline on the monotonic clock at the moment it
is asked, so it turns false at the renew deadline even if this thread is stuck in a request.
"""

from __future__ import annotations

import collections
import logging
import math
import random
import threading
from collections.abc import Callable

from leader_election.clock import Clock
from leader_election.errors import ApiError
from leader_election.lock import LeaseLock
from leader_election.options import LeaderElectionOptions
from leader_election.record import MAX_TRANSITIONS
from leader_election.state import (
    Acquired,
    Action,
    Changed,
    DrainAbandoned,
    Drained,
    Emit,
    Failure,
    Get,
    LeaseRead,
    Lost,
    LostReason,
    Machine,
    Observation,
    Op,
    Policy,
    Put,
    RequestFailed,
    ResignRequested,
    Started,
    State,
    StopRequested,
    TimerFired,
    WriteSucceeded,
    step,
)
from leader_election.watcher import LeaseWatcher

__all__ = ["Elector", "policy_for"]

logger = logging.getLogger(__name__)

# Upper bound of one wait, so the loop re-checks its state even when nothing is scheduled.
_MAX_WAIT = 60.0
_NOT_LEADING = (-math.inf, -1)

EventCallback = Callable[[Acquired | Lost | Changed | DrainAbandoned], None]
RequestCallback = Callable[[Op, float, Failure | None], None]
"""Called after every request with its op, its duration (s) and its failure (None: success)."""


def _ignore_request(op: Op, seconds: float, failure: Failure | None) -> None:
    return None


def policy_for(options: LeaderElectionOptions) -> Policy:
    """The state machine's policy (seconds) for a module's options."""
    return Policy.of(options.identity, options.timing, release_on_stop=options.release_on_stop)


class Elector:
    """Drives one candidate's state machine on a named thread, with its watch thread."""

    def __init__(
        self,
        options: LeaderElectionOptions,
        lock: LeaseLock,
        on_event: EventCallback,
        *,
        thread_name: str,
        on_request: RequestCallback = _ignore_request,
    ) -> None:
        self._options = options
        self._lock = lock
        self._on_event = on_event
        self._on_request = on_request
        self._clock: Clock = options.clock
        self._level = logging.DEBUG if options.log_at_level == "debug" else logging.INFO
        self._machine = Machine(policy_for(options))
        self._inbox: collections.deque[Observation] = collections.deque()
        self._wake = threading.Event()
        # (leading until, fencing token), replaced as one tuple so that a reader on another
        # thread never pairs a new term's deadline with the previous term's token.
        self._term: tuple[float, int] = _NOT_LEADING
        self._random = random.Random()  # noqa: S311 - jitter, not security
        self._last_error: ApiError | None = None
        self._reported_error = ""
        self.first_round = threading.Event()
        """Set once the first round is over: leading, a live holder observed, or a fatal
        error (``first_round_error``)."""
        self.first_round_error: ApiError | None = None
        """A forbidden / missing-namespace answer before the first round was decided."""
        # Notified after every step, so callers can wait for a state (resign) without polling.
        self._stepped = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._watcher = LeaseWatcher(
            lock,
            self.post,
            name=f"{thread_name}-watch",
            identity=options.identity,
            connect_timeout=options.timing.follower_timeout,
            idle_timeout=options.timing.watch_idle_timeout,
        )

    # -- public surface (any thread) -------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._watcher.start()

    def post(self, observation: Observation) -> None:
        """Hand an observation to the elector thread and wake it."""
        self._inbox.append(observation)
        self._wake.set()

    def request_stop(self) -> None:
        self.post(StopRequested())

    def request_resign(self) -> None:
        self.post(ResignRequested())

    def drained(self, token: int) -> None:
        """The work of the term with this fencing token has returned: release may go on."""
        self.post(Drained(token))

    def join(self, timeout: float) -> bool:
        """Wait for the elector (release included) and the watch thread to end."""
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        watch_stopped = self._watcher.stop(max(timeout, 1.0) if stopped else 1.0)
        return stopped and watch_stopped

    @property
    def is_leader(self) -> bool:
        return self._clock.monotonic() < self._term[0]

    @property
    def fencing_token(self) -> int | None:
        """The current term's token while leader (judged now), else None."""
        until, token = self._term
        return token if self._clock.monotonic() < until else None

    def wait_for(self, predicate: Callable[[Machine], bool], timeout: float) -> bool:
        """Wait until ``predicate(machine)`` holds (True), the thread ended, or ``timeout``."""
        with self._stepped:
            return self._stepped.wait_for(
                lambda: predicate(self._machine) or not self._thread.is_alive(), timeout
            ) and predicate(self._machine)

    @property
    def machine(self) -> Machine:
        return self._machine

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def last_error(self) -> ApiError | None:
        return self._last_error

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._process(Started())
            while not self._is_stopped():
                wait = self._machine.wake_at - self._clock.monotonic()
                if wait > 0 and not self._inbox:
                    self._wake.wait(min(wait, _MAX_WAIT))
                self._wake.clear()
                while self._inbox and not self._is_stopped():
                    self._process(self._inbox.popleft())
                if not self._is_stopped() and self._clock.monotonic() >= self._machine.wake_at:
                    self._process(TimerFired())
        except BaseException:
            logger.exception(
                "lease %s (%s): the elector thread failed; this candidate stops competing",
                self._lock.description,
                self._options.identity,
            )
            if self._machine.state is State.LEADING:
                self._term = _NOT_LEADING
                self._on_event(Lost(LostReason.RENEW_FAILED, self._machine.token))
            raise
        finally:
            self._term = _NOT_LEADING
            self.first_round.set()
            with self._stepped:
                self._stepped.notify_all()

    def _is_stopped(self) -> bool:
        return self._machine.state is State.STOPPED

    def _process(self, observation: Observation | None) -> None:
        """Step the machine; run its actions; feed a request's outcome straight back."""
        while observation is not None:
            before = self._machine
            machine, actions = step(
                before,
                observation,
                now=self._clock.monotonic(),
                wall=self._clock.now(),
                jitter=self._random.random(),
            )
            self._machine = machine
            # Publish before any event goes out: receivers of leader.lost must see
            # is_leader false, receivers of leader.elected must see it true.
            leading = machine.state is State.LEADING
            self._term = (machine.deadline, machine.token) if leading else _NOT_LEADING
            self._log_transition(before, machine, actions)
            if machine.decided and not self.first_round.is_set():
                self.first_round.set()
            with self._stepped:
                self._stepped.notify_all()
            observation = None
            for action in actions:
                if isinstance(action, Emit):
                    self._on_event(action.event)
                else:
                    observation = self._execute(action)

    def _execute(self, action: Action) -> Observation:
        assert isinstance(action, Get | Put)
        sent_at = self._clock.monotonic()
        outcome = self._request(action, sent_at)
        failure = outcome.failure if isinstance(outcome, RequestFailed) else None
        try:
            self._on_request(action.op, self._clock.monotonic() - sent_at, failure)
        except Exception:
            logger.exception("lease %s: a request observer raised", self._lock.description)
        return outcome

    def _request(self, action: Get | Put, sent_at: float) -> Observation:
        try:
            if isinstance(action, Get):
                return LeaseRead(self._lock.get(action.timeout))
            if action.base is None:
                lease = self._lock.create(action.record, action.timeout)
            else:
                lease = self._lock.replace(action.base, action.record, action.timeout)
        except ApiError as exc:
            failure = exc.failure
            self._report_failure(action.op, failure, exc)
            return RequestFailed(action.op, failure, sent_at, retry_after=exc.retry_after)
        self._last_error = None
        self._reported_error = ""
        if action.op is Op.RENEW:
            logger.debug(
                "lease %s (%s): renewed (took %.3f s)",
                self._lock.description,
                self._options.identity,
                self._clock.monotonic() - sent_at,
            )
        return WriteSucceeded(action.op, lease, sent_at)

    # -- logging ---------------------------------------------------------------------------
    def _report_failure(self, op: Op, failure: Failure, exc: ApiError) -> None:
        self._last_error = exc
        lease, identity = self._lock.description, self._options.identity
        if failure is Failure.CONFLICT:
            logger.debug("lease %s (%s): %s lost a race: %s", lease, identity, op.value, exc)
            return
        fatal = exc.fatal
        if fatal and not self.first_round.is_set():
            self.first_round_error = exc
            self.first_round.set()
        machine = self._machine
        if op is Op.RENEW or (op is Op.GET and machine.state in (State.LEADING, State.DRAINING)):
            left = machine.deadline - self._clock.monotonic()
            logger.warning(
                "lease %s (%s): renewing failed (%s); retrying, %.2f s left before stepping down%s",
                lease,
                identity,
                exc,
                max(left, 0.0),
                f" (the server asks to wait {exc.retry_after:g} s)" if exc.retry_after else "",
            )
            return
        if op is Op.RELEASE:
            logger.warning(
                "lease %s (%s): releasing failed (%s); the others take over when it expires",
                lease,
                identity,
                exc,
            )
            return
        message = str(exc)
        if message != self._reported_error:
            self._reported_error = message
            (logger.error if fatal else logger.warning)(
                "lease %s (%s): %s failed: %s", lease, identity, op.value, exc
            )
        else:
            logger.debug("lease %s (%s): %s failed again: %s", lease, identity, op.value, exc)

    def _log_transition(self, before: Machine, after: Machine, actions: tuple[Action, ...]) -> None:
        lease, identity = self._lock.description, self._options.identity
        for action in actions:
            if not isinstance(action, Emit):
                continue
            event = action.event
            if isinstance(event, Acquired):
                if event.token == 0 and before.max_transitions == MAX_TRANSITIONS:
                    logger.warning(
                        "lease %s (%s): leaseTransitions reached its int32 maximum %d; the "
                        "fencing token wraps to 0 (tokens compare modulo 2**31, see "
                        "docs/failure-semantics.md)",
                        lease,
                        identity,
                        MAX_TRANSITIONS,
                    )
                logger.log(
                    self._level,
                    "lease %s: %s became leader (fencing token %d)",
                    lease,
                    identity,
                    event.token,
                )
            elif isinstance(event, Lost):
                unexpected = event.reason in (
                    LostReason.RENEW_FAILED,
                    LostReason.TAKEN_OVER,
                    LostReason.LEASE_DELETED,
                )
                logger.log(
                    logging.ERROR if unexpected else self._level,
                    "lease %s: %s stopped leading: %s",
                    lease,
                    identity,
                    event.reason.value,
                )
            elif isinstance(event, Changed) and event.holder != identity:
                logger.log(
                    self._level,
                    "lease %s (%s): leader is now %s",
                    lease,
                    identity,
                    event.holder if event.holder is not None else "nobody",
                )
        if before.state is not after.state and after.state in (State.STOPPED, State.FOLLOWING):
            logger.debug(
                "lease %s (%s): %s -> %s",
                lease,
                identity,
                before.state.value,
                after.state.value,
            )
