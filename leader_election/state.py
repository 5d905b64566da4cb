"""The election state machine: data plus one pure function, ``step``.

``step(machine, observation, now=..., wall=..., jitter=...)`` returns the next machine and the
actions to carry out (at most one API request, plus events to emit). It performs no I/O, reads
no clock and starts no thread: the elector thread (``elector.py``) executes the actions and
feeds their outcomes back as observations. That is what lets the model-based tests drive it
through any interleaving with a fake clock.

States, defined by what a caller may assume::

    STOPPED ──start──▶ FOLLOWING ◀──lost──┐ ◀─────────────── resigned, after a sit-out ─┐
                         │  ▲             │                                              │
                 acquired│  │ lost        │                                              │
                         ▼  │             │                                              │
                        LEADING ──────────┘                                              │
                         │ stop / resign                                                 │
                         ▼                                                               │
                       DRAINING ──drained──▶ RELEASING ──written or failed──▶ STOPPED ───┘
                         │ drain timed out, or the Lease lost meanwhile: no release
                         ▼
                       STOPPED (or FOLLOWING after a resign)

Semantics are client-go's (``tools/leaderelection``), with these rules:

1. Expiry is judged by when *we* last saw the record change (``observed_at``, monotonic) plus
   the record's ``leaseDurationSeconds`` — never by comparing ``renewTime`` with a local clock.
2. A leader is leader only until ``renewed_at + renew_deadline``, where ``renewed_at`` is the
   *send* time of its last successful write: the server applied that write after we sent it, so
   every other candidate saw the change later and waits at least ``lease_duration`` from then.
   Because ``renew_deadline < lease_duration``, we stop before anyone may start.
3. The leader renews with an optimistic replace of the object it last saw (no read first); a
   409 means someone else wrote, so it reads and decides again.
4. A watch event that contradicts the leader's view is only a hint (it may be stale): the
   leader answers it by renewing at once, and lets the write's outcome decide. A late echo of
   one of the leader's own writes (its ``resourceVersion`` is one we wrote) is no hint: under
   load the watch can trail the leader by a write, and renewing on each late echo would make
   the next echo late too — a renewal storm that never ends.
5. ``leaseTransitions`` is the fencing token of a term, and it never goes backwards. Every
   acquisition writes one more than the *latest value this candidate has seen*
   (``max_transitions``), not merely one more than the Lease now says: a value lowered by hand
   (a restored backup, a stale ``kubectl apply``) is never adopted. A leader writes its own
   token with every renewal and its release, so a lowered value is written back at once.
   At the int32 maximum (2147483647) the next token is 0: tokens are serial numbers modulo
   2**31 (RFC 1982; ``record.latest_transitions``), plain integer order until that wrap.
6. A Lease deleted under a live holder (by hand, by a namespace cleanup) is not created again
   until that holder's claim has run out: the holder keeps acting until its next renewal
   meets the 404, so a new Lease at once would give two leaders (client-go creates at once).
   When a read (not the watch) reports the deletion, the claim runs at least one lease
   duration from that read, even if our last view of it had run out: that view may be stale
   (a stalled watch, refused reads) and the holder may have renewed right up to the
   deletion. A watch reports a deletion only after every change before it. The holder itself
   re-creates at once, with the next fencing token. A candidate that never saw the Lease, or
   last saw it free, cannot know; the Role in ``rbac/`` grants no delete.
7. Drain, then release: a leader that stops or resigns ends its term for the work first
   (``Lost`` is emitted, ``is_leader`` turns false) and keeps renewing (``DRAINING``) until the
   work of the term has returned (``Drained``); only then does it release. Were it to release
   first, the next leader's work would start while ours still runs. A drain that outlasts
   ``drain_timeout`` is abandoned without a release: the Lease then expires, a full lease
   duration after our last renewal.
8. A candidate that resigned leaves a free Lease to the others for one lease duration
   (``sit_out_until``) before it competes for it again. So does a leader that lost its term
   by renew failure (plus up to a quarter lease duration of jitter), and a candidate whose
   acquisition was answered only after its renew deadline: it is too slow to lead now, and
   the server may still apply its late writes, so it must not keep the Lease fresh for
   itself while healthy candidates wait for it to expire.
9. A candidate named holder by a write it did not make (``kubectl edit`` putting a live
   follower's name in ``holderIdentity``) does not lead before the previous holder's claim
   has run out: that holder keeps acting until it notices, exactly as under rule 6. It waits
   ``leaseDurationSeconds`` of the previous record from when it observed the edit (every
   renewal of the previous holder was sent before the edit, so its term ends before that),
   or until it observes the Lease released. A candidate whose first look at the Lease names
   itself (a restart with a fixed identity) takes it at once, as client-go does.
10. A watch is trusted only while it speaks: a follower whose watch delivered nothing (no
    event, no bookmark) for ``watch_silence`` reads the Lease every renewal interval, as if
    it had no watch, so a stalled (half-open) watch delays a takeover by about one interval,
    not until expiry.
11. An answer that asks to wait (429 / 5xx with ``Retry-After``) is obeyed: a follower waits
    at least that long (plus jitter); a leader waits as long as its deadline allows and
    tries once more ``final_attempt`` before it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
from dataclasses import dataclass

from leader_election.errors import Failure
from leader_election.record import (
    LeaseRecord,
    ObservedLease,
    latest_transitions,
    next_transitions,
)
from leader_election.timing import Timing

__all__ = [
    "Acquired",
    "Action",
    "Changed",
    "DrainAbandoned",
    "Drained",
    "Emit",
    "Failure",
    "Get",
    "LeaseRead",
    "Lost",
    "LostReason",
    "Machine",
    "Observation",
    "Op",
    "Policy",
    "Put",
    "RequestFailed",
    "ResignRequested",
    "Started",
    "State",
    "StopRequested",
    "TimerFired",
    "WatchEvent",
    "WatchStatus",
    "WriteSucceeded",
    "step",
]


class State(enum.Enum):
    """Where a candidate is in the election."""

    STOPPED = "stopped"
    """Not competing. ``is_leader`` is false."""
    FOLLOWING = "following"
    """Competing without holding the Lease. ``is_leader`` is false."""
    LEADING = "leading"
    """Holding the Lease; ``is_leader`` is true until the renew deadline passes."""
    DRAINING = "draining"
    """Leadership given up for the work (``is_leader`` is false, ``leader.lost`` sent); still
    renewing the Lease until the work of the term has returned."""
    RELEASING = "releasing"
    """Stopping or resigning: the work has returned, the release write under way."""


class LostReason(str, enum.Enum):
    """Why a ``leader.lost`` event was sent."""

    RELEASED = "released"
    """``stop()`` ended the term, to release the Lease for the next candidate once the term's
    work has returned (drain, rule 7). The event goes out before the release, as it must: the
    drain waits for its receivers. Should the drain outlast ``drain_timeout``, the Lease is
    left to expire instead, and an error log says so."""
    STOPPED = "stopped"
    """We stopped without releasing (``release_on_stop=False``); others wait for expiry."""
    RENEW_FAILED = "renew_failed"
    """We could not renew within ``renew_deadline`` (API unreachable, too slow, forbidden)."""
    TAKEN_OVER = "taken_over"
    """Another candidate (or a person) wrote a different holder into the Lease."""
    LEASE_DELETED = "lease_deleted"
    """The Lease was deleted while we held it."""
    RESIGNED = "resigned"
    """We resigned (``resign()``): drained, released, and still a candidate."""


class Op(str, enum.Enum):
    """Which request an outcome belongs to."""

    GET = "get"
    CREATE = "create"
    ACQUIRE = "acquire"
    RENEW = "renew"
    RELEASE = "release"


# -- observations: what the elector tells the machine --------------------------------------
@dataclass(frozen=True, slots=True)
class Started:
    """``start()`` was called."""


@dataclass(frozen=True, slots=True)
class StopRequested:
    """``stop()`` was called (or a signal / interpreter exit asked for it)."""


@dataclass(frozen=True, slots=True)
class ResignRequested:
    """``resign()`` was called: give leadership up, stay a candidate."""


@dataclass(frozen=True, slots=True)
class Drained:
    """Every function and receiver of the term with fencing token ``token`` has returned."""

    token: int


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The wake-up time the machine asked for has come."""


@dataclass(frozen=True, slots=True)
class LeaseRead:
    """Our GET answered: the Lease, or ``None`` for 404."""

    lease: ObservedLease | None


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """The watch delivered the Lease (ADDED/MODIFIED) or its deletion (``None``)."""

    lease: ObservedLease | None


@dataclass(frozen=True, slots=True)
class WatchStatus:
    """The watch is (or is no longer) delivering events; when not, followers poll.

    ``healthy=True`` is also sent for a BOOKMARK: the watch is alive (rule 10)."""

    healthy: bool


@dataclass(frozen=True, slots=True)
class WriteSucceeded:
    """A create or replace succeeded; ``sent_at`` is when the request was sent (monotonic)."""

    op: Op
    lease: ObservedLease
    sent_at: float


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """A request failed; ``sent_at`` is when it was sent (monotonic); ``retry_after`` the
    seconds the server asked us to wait (``Retry-After``), 0 when it did not."""

    op: Op
    failure: Failure
    sent_at: float
    retry_after: float = 0.0


Observation = (
    Started
    | StopRequested
    | ResignRequested
    | Drained
    | TimerFired
    | LeaseRead
    | WatchEvent
    | WatchStatus
    | WriteSucceeded
    | RequestFailed
)


# -- actions: what the machine asks the elector to do ---------------------------------------
@dataclass(frozen=True, slots=True)
class Get:
    """Read the Lease, giving up after ``timeout`` seconds."""

    timeout: float
    op: Op = Op.GET


@dataclass(frozen=True, slots=True)
class Put:
    """Write ``record``: a create when ``base`` is ``None``, else a replace of ``base``."""

    op: Op
    record: LeaseRecord
    base: ObservedLease | None
    timeout: float


@dataclass(frozen=True, slots=True)
class Acquired:
    """Event: we became leader; ``token`` is ``leaseTransitions`` of our term, ``since`` the
    send time (monotonic) of the write that began it."""

    token: int
    since: float = dataclasses.field(default=math.nan, compare=False)


@dataclass(frozen=True, slots=True)
class Lost:
    """Event: we stopped being leader.

    ``claim_ends_at`` (monotonic) is the first moment another candidate may lead: our last
    successful renewal's send time plus the lease duration. A drain (stop, resign) keeps
    renewing, so it is ``inf`` then; ``DrainAbandoned`` gives the moment if the drain fails.
    """

    reason: LostReason
    token: int
    claim_ends_at: float = dataclasses.field(default=math.inf, compare=False)


@dataclass(frozen=True, slots=True)
class DrainAbandoned:
    """Event: the drain is over without the work having returned — it outlasted
    ``drain_timeout`` (``reason`` None), or the Lease was lost meanwhile (``reason``: renew
    failed, taken over, deleted). Another candidate may lead from ``claim_ends_at``
    (monotonic)."""

    token: int
    claim_ends_at: float
    reason: LostReason | None = None


@dataclass(frozen=True, slots=True)
class Changed:
    """Event: the observed holder changed (``None``: nobody holds the Lease)."""

    holder: str | None


@dataclass(frozen=True, slots=True)
class Emit:
    """Deliver an event to receivers (through the dispatcher thread)."""

    event: Acquired | Lost | Changed | DrainAbandoned


Action = Get | Put | Emit


@dataclass(frozen=True, slots=True)
class Policy:
    """The timing and behaviour a machine runs with; durations in seconds."""

    identity: str
    renewal_interval: float
    renew_deadline: float
    lease_duration_seconds: int
    release_on_stop: bool = True
    drain_timeout: float = 10.0
    timing: Timing = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        timing = Timing(
            renewal_interval=self.renewal_interval,
            renew_deadline=self.renew_deadline,
            lease_duration_seconds=self.lease_duration_seconds,
            drain_timeout=self.drain_timeout,
        )
        object.__setattr__(self, "timing", timing)

    @classmethod
    def of(cls, identity: str, timing: Timing, *, release_on_stop: bool = True) -> Policy:
        return cls(
            identity=identity,
            renewal_interval=timing.renewal_interval,
            renew_deadline=timing.renew_deadline,
            lease_duration_seconds=timing.lease_duration_seconds,
            release_on_stop=release_on_stop,
            drain_timeout=timing.drain_timeout,
        )


_NEVER = math.inf
_MIN_TIMEOUT = 0.01
_OWN_VERSIONS = 8
_SENT_RECORDS = 8


@dataclass(frozen=True, slots=True)
class Machine:
    """Everything the election knows. Immutable: ``step`` returns a new one.

    Times are seconds on the monotonic clock. ``wake_at`` is when the elector should send
    ``TimerFired`` if nothing else happens first (``inf``: wait for an event).
    """

    policy: Policy
    state: State = State.STOPPED
    observed: ObservedLease | None = None
    observed_at: float = 0.0
    lease_missing: bool = False
    known: bool = False  # we hold an answer about the Lease that no later 409 contradicted
    renewed_at: float = -math.inf
    renew_at: float = _NEVER
    token: int = -1
    max_transitions: int = -1
    failures: int = 0
    not_before: float = 0.0
    poll_at: float = _NEVER
    watch_healthy: bool = False
    reported_holder: str | None = None  # as client-go: nobody is reported until someone holds
    own_versions: tuple[str, ...] = ()  # resourceVersions of our latest writes (rule 4)
    drain_until: float = _NEVER  # DRAINING: when the drain is abandoned (rule 7)
    resigning: bool = False  # DRAINING / RELEASING: stay a candidate afterwards
    sit_out_until: float = -math.inf  # after a resign / renew failure: leave it to others (rule 8)
    hold_off_until: float = -math.inf  # named holder by someone else's write (rule 9)
    sent: tuple[LeaseRecord, ...] = ()  # records of our latest writes (rule 9)
    heard_at: float = -math.inf  # last sign of life of the watch (rule 10)
    deleted_at: float = -math.inf  # when a read found the Lease we saw deleted (rule 6)
    decided: bool = False
    wake_at: float = _NEVER

    @property
    def deadline(self) -> float:
        """While leading: the moment leadership ends unless renewed (monotonic seconds)."""
        return self.renewed_at + self.policy.renew_deadline

    def expiry(self) -> float:
        """When the observed holder's claim runs out, by our own observation of it."""
        if self.observed is None:
            return -math.inf
        duration = self.observed.record.lease_duration_seconds
        if duration <= 0:
            duration = self.policy.lease_duration_seconds
        return self.observed_at + duration

    def is_leader_at(self, now: float) -> bool:
        """True when leading and the renew deadline has not passed at ``now``."""
        return self.state is State.LEADING and now < self.deadline


def step(
    machine: Machine,
    observation: Observation,
    *,
    now: float,
    wall: datetime.datetime,
    jitter: float = 0.0,
) -> tuple[Machine, tuple[Action, ...]]:
    """Apply ``observation`` at monotonic time ``now``; return the new machine and its actions.

    ``wall`` is the UTC wall time written into the record; ``jitter`` in [0, 1) spreads
    retries and wake-ups (the elector passes ``random.random()``, tests pass constants).
    """
    t = _Transition(machine, now, wall, jitter)
    t.handle(observation)
    return t.finish()


class _Transition:
    """One application of ``step``: a mutable scratch copy, frozen again by ``finish``."""

    def __init__(
        self, machine: Machine, now: float, wall: datetime.datetime, jitter: float
    ) -> None:
        self.m = machine
        self.now = now
        self.wall = wall
        self.jitter = jitter
        self.actions: list[Action] = []

    # -- helpers -------------------------------------------------------------------------
    def update(self, **changes: object) -> None:
        self.m = dataclasses.replace(self.m, **changes)  # type: ignore[arg-type]

    def emit(self, event: Acquired | Lost | Changed | DrainAbandoned) -> None:
        self.actions.append(Emit(event))

    def put(self, action: Put) -> None:
        """Send a write, remembering its record: a Lease naming us with a record we never
        sent was written by someone else (rule 9)."""
        self.update(sent=(*self.m.sent, action.record)[-_SENT_RECORDS:])
        self.actions.append(action)

    def watching(self) -> bool:
        """The watch is connected and has spoken within ``watch_silence`` (rule 10)."""
        m = self.m
        return m.watch_healthy and self.now < m.heard_at + m.policy.timing.watch_silence

    def backoff(self, failures: int) -> float:
        policy = self.m.policy
        delay: float = policy.timing.backoff_base * 2.0 ** min(max(failures - 1, 0), 16)
        return min(delay, policy.renewal_interval) * (1 + 0.2 * self.jitter)

    def fail(self, retry_after: float = 0.0) -> None:
        m = self.m
        failures = m.failures + 1
        backoff = self.backoff(failures)
        not_before = self.now + max(backoff, retry_after * (1 + 0.2 * self.jitter))
        last_attempt = m.deadline - m.policy.timing.final_attempt
        if m.state in (State.LEADING, State.DRAINING) and not_before > last_attempt:
            # Never wait past the deadline: one more attempt while its answer may still come
            # in time (rule 11); past that point, the usual backoff until the deadline.
            not_before = last_attempt if last_attempt > self.now else self.now + backoff
        self.update(failures=failures, not_before=not_before)

    def observe(self, lease: ObservedLease | None, *, ours: bool = False) -> None:
        """Take in an authoritative view of the Lease (or its absence); ``ours``: the answer
        to our own write."""
        m = self.m
        if lease is None:
            self.update(lease_missing=True, known=True)
            return
        changes: dict[str, object] = {
            "observed": lease,
            "lease_missing": False,
            "known": True,
            "max_transitions": latest_transitions(
                m.max_transitions, lease.record.lease_transitions
            ),
        }
        record = lease.record
        previous = m.observed.record if m.observed is not None and not m.lease_missing else None
        if (
            m.state is State.FOLLOWING
            and not ours
            and record.holder_identity == m.policy.identity
            and record not in m.sent
            and previous is not None
            and previous.is_held
            and previous.holder_identity != m.policy.identity
        ):
            # Named holder by someone else's write while another held it (rule 9).
            duration = previous.lease_duration_seconds or m.policy.lease_duration_seconds
            changes["hold_off_until"] = max(m.hold_off_until, self.now + duration)
        if m.observed is None or m.lease_missing or lease.record != m.observed.record:
            changes["observed_at"] = self.now
        self.update(**changes)

    def report_holder(self) -> None:
        m = self.m
        holder: str | None = None
        if m.observed is not None and not m.lease_missing and m.observed.record.is_held:
            holder = m.observed.record.holder_identity
        if holder != m.reported_holder:
            self.update(reported_holder=holder)
            self.emit(Changed(holder))

    def claim_ends_at(self) -> float:
        """The first moment another candidate may lead, judged from our last renewal."""
        return self.m.renewed_at + self.m.policy.lease_duration_seconds

    def lose(self, reason: LostReason, *, state: State = State.FOLLOWING) -> None:
        if self.m.state is State.DRAINING:
            # leader.lost went out when the drain began; the Lease is gone now, so there is
            # nothing left to release (rule 7). The work still running may now overlap the
            # next leader's: say so, as an abandoned drain does.
            self.emit(DrainAbandoned(self.m.token, self.claim_ends_at(), reason))
            self.end_drain(release=False)
            return
        claim_ends_at = self.claim_ends_at()
        self.update(state=state, renew_at=_NEVER, renewed_at=-math.inf)
        if reason is LostReason.RENEW_FAILED and state is State.FOLLOWING:
            self.sit_out()
        self.emit(Lost(reason, self.m.token, claim_ends_at))

    def sit_out(self) -> None:
        """Too slow to lead: leave the Lease to the others for a while (rule 8)."""
        timing = self.m.policy.timing
        until = self.now + timing.sit_out + timing.sit_out_jitter * self.jitter
        self.update(sit_out_until=max(self.m.sit_out_until, until))

    def expire(self) -> None:
        m = self.m
        if m.state in (State.LEADING, State.DRAINING) and self.now >= m.deadline:
            self.lose(LostReason.RENEW_FAILED)
        elif m.state is State.DRAINING and self.now >= m.drain_until:
            self.emit(DrainAbandoned(m.token, self.claim_ends_at()))
            self.end_drain(release=False)

    def begin_drain(self, *, resigning: bool) -> None:
        """End the term for the work, keep renewing until ``Drained`` (rule 7)."""
        m = self.m
        if resigning:
            reason = LostReason.RESIGNED
        else:
            reason = LostReason.RELEASED if m.policy.release_on_stop else LostReason.STOPPED
        self.update(
            state=State.DRAINING,
            resigning=resigning,
            drain_until=self.now + m.policy.timing.drain_timeout,
        )
        self.emit(Lost(reason, m.token))

    def end_drain(self, *, release: bool) -> None:
        """The work has returned (``release``) or the drain is over without it."""
        m = self.m
        release = release and (m.resigning or m.policy.release_on_stop)
        self.update(drain_until=_NEVER, renew_at=_NEVER)
        if release:
            assert m.observed is not None
            self.update(state=State.RELEASING)
            record = LeaseRecord(
                holder_identity="",
                lease_duration_seconds=1,
                acquire_time=self.wall,
                renew_time=self.wall,
                lease_transitions=m.token,  # ours, even if lowered meanwhile (rule 5)
            )
            timeout = max(m.deadline - self.now, _MIN_TIMEOUT)
            self.put(Put(Op.RELEASE, record, m.observed, timeout))
            return
        self.update(renewed_at=-math.inf)
        self.after_term()

    def after_term(self) -> None:
        """Leave DRAINING / RELEASING: stopped, or a candidate again after a resign."""
        if self.m.resigning:
            self.update(
                state=State.FOLLOWING,
                resigning=False,
                known=False,
                sit_out_until=self.now + self.m.policy.timing.sit_out,
            )
        else:
            self.update(state=State.STOPPED)

    # -- observations ----------------------------------------------------------------------
    def handle(self, obs: Observation) -> None:
        if isinstance(obs, WriteSucceeded):
            # Apply a success before the deadline check: it was sent before the deadline, so
            # it extends the term from its send time even if the answer came late.
            self.written(obs)
            self.expire()
            return
        self.expire()
        if isinstance(obs, Started):
            if self.m.state is State.STOPPED:
                self.update(state=State.FOLLOWING, known=False, failures=0, not_before=0.0)
        elif isinstance(obs, StopRequested):
            self.stop()
        elif isinstance(obs, ResignRequested):
            if self.m.state is State.LEADING:
                self.begin_drain(resigning=True)
        elif isinstance(obs, Drained):
            if self.m.state is State.DRAINING and obs.token == self.m.token:
                self.end_drain(release=True)
        elif isinstance(obs, LeaseRead):
            self.read(obs.lease)
        elif isinstance(obs, WatchEvent):
            self.watched(obs.lease)
        elif isinstance(obs, WatchStatus):
            self.update(watch_healthy=obs.healthy)
            if obs.healthy:
                self.update(heard_at=self.now)
            if not obs.healthy and self.m.state is State.FOLLOWING:
                # Events may have been missed while the watch was down: read now.
                self.update(poll_at=min(self.m.poll_at, self.now))
        elif isinstance(obs, RequestFailed):
            self.failed(obs)
        # TimerFired carries no information: the decision below looks at the clock.

    def stop(self) -> None:
        m = self.m
        if m.state is State.LEADING:
            # Give up leadership for the work *before* the release write, and release only
            # once the work has returned: once the release lands, another candidate may
            # start at once, and our work must not still be running then (rule 7).
            self.begin_drain(resigning=False)
        elif m.state in (State.DRAINING, State.RELEASING):
            self.update(resigning=False)  # a stop during a resign: stop afterwards
        elif m.state is State.FOLLOWING:
            self.update(state=State.STOPPED)

    def recreated(self, lease: ObservedLease) -> bool:
        """The Lease under our name is not the one we wrote: it was deleted in between."""
        ours = self.m.observed
        return ours is not None and bool(ours.uid) and bool(lease.uid) and ours.uid != lease.uid

    def learned_deleted_by_read(self) -> None:
        """A read or write found the Lease gone: our view of it may be stale (rule 6). A
        watch that reports the deletion has first delivered every change before it."""
        if not self.m.lease_missing:
            self.update(deleted_at=self.now)

    def read(self, lease: ObservedLease | None) -> None:
        if self.m.state is State.STOPPED or self.m.state is State.RELEASING:
            return
        recreated = lease is not None and self.recreated(lease)
        if lease is None:
            self.learned_deleted_by_read()
        self.observe(lease)
        self.update(poll_at=self.now + self.m.policy.renewal_interval * (1 + 0.2 * self.jitter))
        if self.m.state in (State.LEADING, State.DRAINING):
            if lease is None or recreated:
                self.lose(LostReason.LEASE_DELETED)
            elif lease.record.holder_identity != self.m.policy.identity:
                self.lose(LostReason.TAKEN_OVER)
            else:
                # Still ours (a 409 came from someone editing metadata): renew on the new base.
                self.update(renew_at=self.now)
        self.report_holder()

    def watched(self, lease: ObservedLease | None) -> None:
        self.update(heard_at=self.now)
        m = self.m
        if m.state is State.FOLLOWING:
            self.observe(lease)
            self.report_holder()
        elif m.state in (State.LEADING, State.DRAINING) and m.observed is not None:
            if lease is not None and lease.record == m.observed.record:
                # Our own write echoed, or a metadata-only edit after it: a fresher base.
                self.update(observed=lease)
            elif lease is not None and lease.resource_version in m.own_versions:
                # A late echo of an earlier write of ours: nothing anyone else did (rule 4).
                return
            else:
                # Possibly stale; a write settles it either way (rule 4).
                self.update(renew_at=self.now)

    def written(self, obs: WriteSucceeded) -> None:
        m = self.m
        if obs.op is Op.RELEASE:
            self.update(observed=obs.lease, observed_at=self.now, renewed_at=-math.inf)
            self.after_term()
            return
        if m.state is State.STOPPED or m.state is State.RELEASING:
            return
        self.observe(obs.lease, ours=True)
        if m.state is State.FOLLOWING and self.now >= obs.sent_at + m.policy.renew_deadline:
            # Acquired, but the answer came after the term it opened had already ended: no
            # leader.elected for a term that is over; too slow to lead, so sit out (rule 8).
            self.update(failures=0, not_before=0.0)
            self.sit_out()
            self.report_holder()
            return
        # Versions are compared for equality only (they are opaque). A few suffice: an echo
        # trailing by more than that costs one extra renewal, not a storm.
        versions = m.own_versions if m.state in (State.LEADING, State.DRAINING) else ()
        self.update(
            failures=0,
            not_before=0.0,
            renewed_at=obs.sent_at,
            renew_at=obs.sent_at + m.policy.renewal_interval,
            own_versions=(*versions, obs.lease.resource_version)[-_OWN_VERSIONS:],
        )
        if m.state is State.FOLLOWING:
            token = obs.lease.record.lease_transitions
            self.update(state=State.LEADING, token=token, hold_off_until=-math.inf)
            self.emit(Acquired(token, obs.sent_at))
        self.report_holder()

    def failed(self, obs: RequestFailed) -> None:
        m = self.m
        if obs.op is Op.RELEASE:
            self.update(renewed_at=-math.inf)
            self.after_term()
            return
        if m.state is State.STOPPED or m.state is State.RELEASING:
            return
        if obs.failure is Failure.CONFLICT:
            # Someone wrote since we looked (or the name exists): read, then decide. Repeated
            # conflicts back off so a Lease that flips constantly cannot spin us.
            failures = m.failures + 1
            wait = self.backoff(failures) if failures > 1 else 0.0
            self.update(known=False, failures=failures, not_before=self.now + wait)
            return
        if obs.failure is Failure.NOT_FOUND and obs.op in (Op.ACQUIRE, Op.RENEW):
            self.learned_deleted_by_read()
            self.observe(None)
            if m.state in (State.LEADING, State.DRAINING):
                self.lose(LostReason.LEASE_DELETED)
            self.report_holder()
            return
        # NOT_FOUND on create (no namespace), FORBIDDEN, TRANSIENT: retry later. A leader
        # keeps retrying until its deadline; `expire` ends the term then.
        self.fail(obs.retry_after)

    # -- the decision --------------------------------------------------------------------
    def finish(self) -> tuple[Machine, tuple[Action, ...]]:
        if not any(isinstance(a, Get | Put) for a in self.actions):
            self.decide()
        return self.m, tuple(self.actions)

    def decide(self) -> None:
        """Pick the next request, or when to wake up; at most one request at a time."""
        m = self.m
        now = self.now
        if m.state in (State.LEADING, State.DRAINING):
            self.decide_leading()
        elif m.state is State.FOLLOWING:
            self.decide_following()
        else:
            self.update(wake_at=_NEVER)
            return
        m = self.m
        if not m.decided and (m.state is State.LEADING or self.held_by_other(now)):
            self.update(decided=True)

    def held_by_other(self, now: float) -> bool:
        """Another candidate's claim, as we last observed it, is still running at ``now``."""
        m = self.m
        return (
            m.state is State.FOLLOWING
            and m.known
            and not m.lease_missing
            and m.observed is not None
            and m.observed.record.is_held
            and m.observed.record.holder_identity != m.policy.identity
            and now < m.expiry()
        )

    def deleted_claim_ends(self) -> float:
        """With the Lease deleted: when the claim of the holder we last saw there has run out
        (rule 6); ``-inf`` when we saw it free, ours, or never."""
        m = self.m
        observed = m.observed
        if (
            m.state is not State.FOLLOWING
            or observed is None
            or not observed.record.is_held
            or observed.record.holder_identity == m.policy.identity
        ):
            return -math.inf
        duration = observed.record.lease_duration_seconds
        if duration <= 0:
            duration = m.policy.lease_duration_seconds
        return max(m.expiry(), m.deleted_at + duration)

    def free_or_ours(self, now: float) -> bool:
        """The observed Lease may be acquired by us now: nobody holds it, it names us, or
        its holder's claim has run out."""
        m = self.m
        if m.observed is None:
            return True
        record = m.observed.record
        return (
            not record.is_held or record.holder_identity == m.policy.identity or now >= (m.expiry())
        )

    def decide_leading(self) -> None:
        m = self.m
        due = max(m.renew_at, m.not_before)
        if self.now < due:
            self.update(wake_at=min(due, m.deadline, m.drain_until))
            return
        timeout = max(m.deadline - self.now, _MIN_TIMEOUT)
        self.update(wake_at=_NEVER)
        if not m.known or m.observed is None:
            self.actions.append(Get(timeout))
            return
        record = LeaseRecord(
            holder_identity=m.policy.identity,
            lease_duration_seconds=m.policy.lease_duration_seconds,
            acquire_time=m.observed.record.acquire_time or self.wall,
            renew_time=self.wall,
            lease_transitions=m.token,  # write ours back if it was lowered (rule 5)
        )
        self.put(Put(Op.RENEW, record, m.observed, timeout))

    def decide_following(self) -> None:
        m = self.m
        now = self.now
        if now < m.not_before:
            self.update(wake_at=m.not_before)
            return
        timeout = m.policy.timing.follower_timeout
        if not m.known:
            self.update(wake_at=_NEVER)
            self.actions.append(Get(timeout))
            return
        free_or_ours = m.lease_missing or self.free_or_ours(now)
        names_us = (
            not m.lease_missing
            and m.observed is not None
            and m.observed.record.holder_identity == m.policy.identity
        )
        if now < m.sit_out_until and free_or_ours:
            # We resigned or were too slow: the others have the first claim (rule 8).
            self.wait_or_poll(m.sit_out_until)
            return
        if now < m.hold_off_until and names_us:
            # Named holder by someone else's write: the previous holder may still act (9).
            self.wait_or_poll(m.hold_off_until)
            return
        if m.lease_missing:
            # Also when the Lease last named us by someone else's write: the holder before
            # that edit may still act (rule 9), deleted Lease or not.
            claim_ends = max(self.deleted_claim_ends(), m.hold_off_until)
            if now < claim_ends:
                # Deleted under a holder that may still act: wait out its claim (rule 6).
                self.update(wake_at=claim_ends + m.policy.timing.expiry_jitter * self.jitter)
                return
            # Keep fencing tokens growing across a deletion when we saw the old Lease.
            self.update(wake_at=_NEVER)
            self.put(Put(Op.CREATE, self.claim(next_transitions(m.max_transitions)), None, timeout))
            return
        assert m.observed is not None
        record = m.observed.record
        if free_or_ours:
            self.update(wake_at=_NEVER)
            # Above every value we have seen, not just the one in the Lease now (rule 5).
            token = next_transitions(
                latest_transitions(record.lease_transitions, m.max_transitions)
            )
            self.put(Put(Op.ACQUIRE, self.claim(token), m.observed, timeout))
            return
        if not self.wait_or_poll(m.expiry() + m.policy.timing.expiry_jitter * self.jitter):
            self.update(failures=0)

    def wait_or_poll(self, wake: float) -> bool:
        """Wake at ``wake``; meanwhile read the Lease every interval unless the watch speaks.
        True when it sent a read now."""
        m = self.m
        if not self.watching():
            poll_at = m.poll_at if m.poll_at < _NEVER else self.now
            if self.now >= poll_at:
                self.update(wake_at=_NEVER)
                self.actions.append(Get(m.policy.timing.follower_timeout))
                return True
            wake = min(wake, poll_at)
        else:
            # Re-decide when the watch would fall silent: poll from then on (rule 10).
            wake = min(wake, m.heard_at + m.policy.timing.watch_silence)
        self.update(wake_at=wake)
        return False

    def claim(self, transitions: int) -> LeaseRecord:
        return LeaseRecord(
            holder_identity=self.m.policy.identity,
            lease_duration_seconds=self.m.policy.lease_duration_seconds,
            acquire_time=self.wall,
            renew_time=self.wall,
            lease_transitions=transitions,
        )
