"""Model-based test of the state machine: arbitrary interleavings, checked invariants.

Hypothesis drives one candidate ("me") through any order of API answers (success, 409, 404,
5xx, timeouts — some of them applied although the answer was lost), watch events (current or
stale), watch breakage, clock steps, other candidates that take the Lease over by the rules,
people who edit or delete it (or lower ``leaseTransitions``, or write our name as holder),
and stop(). A tiny in-memory "API server" keeps the Lease and
the time of every change. After every step it checks:

- never leader past the renew deadline, and never leader when a rule-abiding candidate could
  take over (the Lease unchanged for leaseDurationSeconds by *server* time, the most
  aggressive view any other candidate can have);
- elected and lost strictly alternate;
- every term's fencing token is larger than the last one (even when a person lowered
  ``leaseTransitions`` meanwhile), and ``leaseTransitions`` grows on every change of holder;
- after a person wrote our name as holder while we saw another holder, we do not lead before
  that holder's claim has run out (rule 9);
- at most one request in flight, and no busy loop (the next wake-up is in the future).
"""

from __future__ import annotations

import datetime
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from leader_election.record import LeaseRecord, ObservedLease, observe
from leader_election.state import (
    Acquired,
    Drained,
    Emit,
    Failure,
    Get,
    LeaseRead,
    Lost,
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
    WatchEvent,
    WatchStatus,
    WriteSucceeded,
    step,
)

POLICY = Policy(identity="me", renewal_interval=1.0, renew_deadline=1.5, lease_duration_seconds=2)
WALL0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class ElectionModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.machine = Machine(POLICY)
        self.pending: tuple[Get | Put, float] | None = None
        self.rv = 1
        self.lease: dict[str, Any] | None = None  # the server's object
        self.changed_at = 0.0  # server time of the last change of the record
        self.history: list[ObservedLease | None] = []  # every state the watch could show
        self.tainted = False  # someone broke the rules (delete / forced holder) since our write
        self.events: list[Acquired | Lost] = []
        self.tokens: list[int] = []
        self.others = 0
        self.foreign_claim_until = -1.0  # rule 9: not leader before this
        self.feed(Started())

    # -- plumbing ------------------------------------------------------------------------
    def feed(self, observation: Observation) -> None:
        assert self.pending is None, "an observation arrived while a request was in flight"
        wall = WALL0 + datetime.timedelta(seconds=self.now)
        self.machine, actions = step(self.machine, observation, now=self.now, wall=wall, jitter=0.5)
        requests = [a for a in actions if isinstance(a, Get | Put)]
        assert len(requests) <= 1
        for action in actions:
            if isinstance(action, Emit) and isinstance(action.event, Acquired | Lost):
                self.events.append(action.event)
                if isinstance(action.event, Acquired):
                    self.tokens.append(action.event.token)
        if requests:
            self.pending = (requests[0], self.now)

    def observed(self) -> ObservedLease | None:
        return observe(self.lease) if self.lease is not None else None

    def write(
        self, record: LeaseRecord, *, at: float, metadata_only: bool = False, by_hand: bool = False
    ) -> None:
        old = observe(self.lease).record if self.lease is not None else None
        changed = old is not None and record.holder_identity != old.holder_identity
        if changed and record.is_held and not by_hand:
            assert old is not None
            assert record.lease_transitions > old.lease_transitions, "holder changed, token not"
        self.rv += 1
        spec = {
            "holderIdentity": record.holder_identity,
            "leaseDurationSeconds": record.lease_duration_seconds,
            "leaseTransitions": record.lease_transitions,
        }
        self.lease = {"metadata": {"name": "x", "resourceVersion": str(self.rv)}, "spec": spec}
        if not metadata_only:
            self.changed_at = at
        self.history.append(self.observed())

    def delete(self) -> None:
        self.lease = None
        self.rv += 1
        self.changed_at = self.now
        self.history.append(None)

    # -- time ----------------------------------------------------------------------------
    @precondition(lambda self: self.pending is None)
    @rule(dt=st.floats(min_value=0.0, max_value=3.0))
    def advance(self, dt: float) -> None:
        target = self.now + dt
        while self.pending is None and self.machine.wake_at <= target:
            self.now = max(self.now, self.machine.wake_at)
            self.feed(TimerFired())
        if self.pending is None:
            self.now = target

    # -- answering our request -----------------------------------------------------------
    @precondition(lambda self: self.pending is not None)
    @rule(
        took=st.floats(min_value=0.0, max_value=1.0),
        applied=st.floats(min_value=0.0, max_value=1.0),
        outcome=st.sampled_from(
            ["ok", "transient", "forbidden", "lost-answer", "timeout", "throttled"]
        ),
    )
    def answer(self, took: float, applied: float, outcome: str) -> None:
        """The request takes a fraction of its timeout; a write lands somewhere within it."""
        assert self.pending is not None
        action, sent = self.pending
        self.pending = None
        took = action.timeout * (1.0 if outcome == "timeout" else took)
        applied_at = sent + took * applied
        self.now = sent + took
        if isinstance(action, Get):
            if outcome == "ok":
                self.feed(LeaseRead(self.observed()))
            else:
                self.feed(RequestFailed(Op.GET, _failure(outcome), sent, _retry_after(outcome)))
            return
        current = self.observed()
        if action.base is None:
            possible = current is None
            conflict = Failure.CONFLICT
        else:
            possible = (
                current is not None and current.resource_version == action.base.resource_version
            )
            conflict = Failure.NOT_FOUND if current is None else Failure.CONFLICT
        if not possible:
            self.feed(RequestFailed(action.op, conflict, sent))
            return
        if outcome in ("ok", "lost-answer"):
            self.write(action.record, at=applied_at)
            if action.record.holder_identity == "me" or action.op is Op.RELEASE:
                self.tainted = False
        if outcome == "ok":
            lease = self.observed()
            assert lease is not None
            self.feed(WriteSucceeded(action.op, lease, sent))
        else:
            self.feed(RequestFailed(action.op, _failure(outcome), sent, _retry_after(outcome)))

    # -- the rest of the world -------------------------------------------------------------
    @precondition(lambda self: self.pending is None and self.history)
    @rule(index=st.integers(min_value=0), current=st.booleans())
    def watch_event(self, index: int, current: bool) -> None:
        lease = self.history[-1] if current else self.history[index % len(self.history)]
        self.feed(WatchEvent(lease))

    @precondition(lambda self: self.pending is None)
    @rule(healthy=st.booleans())
    def watch_status(self, healthy: bool) -> None:
        self.feed(WatchStatus(healthy))

    @precondition(lambda self: self.pending is None and self.lease is not None)
    @rule()
    def rule_abiding_candidate_takes_over(self) -> None:
        record = observe(self.lease).record  # type: ignore[arg-type]
        expired = self.now >= self.changed_at + max(record.lease_duration_seconds, 1)
        if record.is_held and not expired:
            return
        if not self.tainted:
            assert not self.machine.is_leader_at(self.now), (
                "a rule-abiding candidate took over while we still believed we lead"
            )
        self.others += 1
        self.write(
            LeaseRecord(f"other-{self.others}", 2, None, None, record.lease_transitions + 1),
            at=self.now,
        )

    @precondition(lambda self: self.pending is None and self.lease is None)
    @rule()
    def rule_abiding_candidate_creates(self) -> None:
        self.others += 1
        self.write(LeaseRecord(f"other-{self.others}", 2, None, None, 0), at=self.now)
        self.tainted = True  # a fresh Lease restarts the tokens: not ours to fence

    @precondition(lambda self: self.pending is None and self.lease is not None)
    @rule(
        kind=st.sampled_from(
            ["label", "label", "label", "delete", "force-holder", "lower-token", "name-me"]
        )
    )
    def person_edits(self, kind: str) -> None:
        assert self.lease is not None
        record = observe(self.lease).record
        if kind == "label":
            self.write(record, at=self.now, metadata_only=True)
        elif kind == "lower-token":
            # A restored backup: not a breach of the rules we may ignore — tokens must still grow.
            lowered = LeaseRecord(
                record.holder_identity,
                record.lease_duration_seconds,
                None,
                None,
                record.lease_transitions // 2,
            )
            self.write(lowered, at=self.now, by_hand=True)
        elif kind == "name-me":
            seen = self.machine.observed
            if record.holder_identity in ("", "me"):
                return
            if (
                self.machine.state is State.FOLLOWING
                and seen is not None
                and not self.machine.lease_missing
                and seen.record.holder_identity == record.holder_identity
            ):
                # We saw that holder: we must not lead before its claim has run out (rule 9).
                duration = max(record.lease_duration_seconds, 1)
                self.foreign_claim_until = max(self.foreign_claim_until, self.now + duration)
            named = LeaseRecord("me", 2, None, None, record.lease_transitions)
            self.write(named, at=self.now, by_hand=True)
            self.tainted = True  # "me" holds the Lease without a term of ours
        elif kind == "delete":
            self.delete()
            self.tainted = True
        else:
            self.write(
                LeaseRecord("intruder", 2, None, None, record.lease_transitions + 1), at=self.now
            )
            self.tainted = True

    @precondition(lambda self: self.pending is None and self.machine.state is not State.STOPPED)
    @rule(dice=st.integers(min_value=0, max_value=9))
    def stop(self, dice: int) -> None:
        if dice == 0:  # rarely: a stopped candidate has nothing left to explore
            self.feed(StopRequested())

    @precondition(lambda self: self.pending is None and self.machine.state is State.LEADING)
    @rule(dice=st.integers(min_value=0, max_value=3))
    def resign(self, dice: int) -> None:
        if dice == 0:
            self.feed(ResignRequested())

    @precondition(lambda self: self.pending is None and self.machine.state is State.DRAINING)
    @rule(stale=st.booleans())
    def work_returns(self, stale: bool) -> None:
        self.feed(Drained(self.machine.token - 1 if stale else self.machine.token))

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def leadership_ends_at_the_deadline(self) -> None:
        m = self.machine
        if m.is_leader_at(self.now):
            assert self.now < m.renewed_at + POLICY.renew_deadline

    @invariant()
    def nobody_may_take_over_while_we_drain(self) -> None:
        m = self.machine
        if self.tainted or self.lease is None or m.state is not State.DRAINING:
            return
        if self.now >= m.deadline:
            return  # the next step ends the drain: the term's claim may be running out
        record = observe(self.lease).record
        assert record.holder_identity == "me", "the Lease changed hands during the drain"
        assert self.now < self.changed_at + record.lease_duration_seconds

    @invariant()
    def nobody_may_take_over_while_we_lead(self) -> None:
        m = self.machine
        if self.tainted or self.lease is None or not m.is_leader_at(self.now):
            return
        record = observe(self.lease).record
        assert record.holder_identity == "me"
        assert self.now < self.changed_at + record.lease_duration_seconds, (
            "the Lease looks expired to others while we still believe we lead"
        )

    @invariant()
    def a_hand_edit_naming_us_waits_out_the_previous_holder(self) -> None:
        if self.machine.is_leader_at(self.now):
            assert self.now >= self.foreign_claim_until, (
                "led on a hand edit before the previous holder's claim ran out"
            )

    @invariant()
    def elected_and_lost_alternate(self) -> None:
        for i, event in enumerate(self.events):
            assert isinstance(event, Acquired if i % 2 == 0 else Lost), self.events

    @invariant()
    def fencing_tokens_grow(self) -> None:
        if not self.tainted:
            assert all(a < b for a, b in zip(self.tokens, self.tokens[1:], strict=False)), (
                self.tokens
            )

    @invariant()
    def no_busy_loop(self) -> None:
        if self.pending is None and self.machine.state is not State.STOPPED:
            assert self.machine.wake_at > self.now


def _failure(outcome: str) -> Failure:
    return Failure.FORBIDDEN if outcome == "forbidden" else Failure.TRANSIENT


def _retry_after(outcome: str) -> float:
    return 5.0 if outcome == "throttled" else 0.0


ElectionModel.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestElectionModel = ElectionModel.TestCase
