"""state.py: the election's transitions, one situation per test, on a fake clock.

Times are plain floats (the monotonic clock); the policy renews every 2 s, steps down 3 s
after the last successful renewal was sent, and writes a 4 s lease duration.
"""

from __future__ import annotations

import datetime
import math

import pytest

from leader_election.record import ObservedLease, observe
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
    WatchEvent,
    WatchStatus,
    WriteSucceeded,
    step,
)

POLICY = Policy(identity="me", renewal_interval=2.0, renew_deadline=3.0, lease_duration_seconds=4)
WALL = datetime.datetime(2026, 11, 24, 12, 0, 0, tzinfo=datetime.timezone.utc)


def lease(
    holder: str, rv: str, *, transitions: int = 0, duration: int = 4, renew_offset: float = 0.0
) -> ObservedLease:
    renew = WALL + datetime.timedelta(seconds=renew_offset)
    return observe(
        {
            "metadata": {"name": "x", "namespace": "default", "resourceVersion": rv},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": duration,
                "acquireTime": "2026-11-24T12:00:00.000000Z",
                "renewTime": renew.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "leaseTransitions": transitions,
            },
        }
    )


def written(put: Put, rv: str) -> ObservedLease:
    """What the server answers to a successful write of ``put``."""
    body = {
        "metadata": {"name": "x", "namespace": "default", "resourceVersion": rv},
        "spec": {
            "holderIdentity": put.record.holder_identity,
            "leaseDurationSeconds": put.record.lease_duration_seconds,
            "leaseTransitions": put.record.lease_transitions,
        },
    }
    return observe(body)


class Candidate:
    """Feeds observations to ``step`` and keeps the events it emitted."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.machine = Machine(policy)
        self.events: list[Acquired | Lost | Changed | DrainAbandoned] = []

    def feed(
        self, observation: Observation, now: float, *, wall_offset: float = 0.0
    ) -> list[Action]:
        wall = WALL + datetime.timedelta(seconds=now + wall_offset)
        self.machine, actions = step(self.machine, observation, now=now, wall=wall, jitter=0.0)
        self.events.extend(a.event for a in actions if isinstance(a, Emit))
        return [a for a in actions if not isinstance(a, Emit)]

    def request(self, observation: Observation, now: float) -> Get | Put:
        actions = self.feed(observation, now)
        assert len(actions) == 1, actions
        action = actions[0]
        assert isinstance(action, Get | Put)
        return action

    def lead(self, now: float = 0.0) -> Put:
        """Start, find no Lease, create it: leading from ``now``."""
        self.request(Started(), now)
        create = self.request(LeaseRead(None), now)
        assert isinstance(create, Put)
        self.feed(WriteSucceeded(Op.CREATE, written(create, "10"), sent_at=now), now)
        assert self.machine.state is State.LEADING
        return create


def test_a_new_candidate_reads_the_lease_first() -> None:
    assert isinstance(Candidate().request(Started(), 0.0), Get)


def test_a_missing_lease_is_created_and_the_creator_leads() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    create = c.request(LeaseRead(None), 0.1)
    assert isinstance(create, Put) and create.op is Op.CREATE and create.base is None
    assert create.record.holder_identity == "me"
    assert create.record.lease_transitions == 0
    assert create.record.lease_duration_seconds == 4
    c.feed(WriteSucceeded(Op.CREATE, written(create, "10"), sent_at=0.1), 0.2)
    assert c.machine.state is State.LEADING
    assert c.events == [Acquired(0), Changed("me")]
    assert c.machine.is_leader_at(3.09) and not c.machine.is_leader_at(3.1)


def test_a_live_lease_of_another_candidate_is_left_alone_until_it_expires() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    assert c.feed(LeaseRead(lease("other", "5", transitions=7)), 1.0) == []
    assert c.events == [Changed("other")]
    assert c.machine.expiry() == 5.0  # observed at 1.0 + leaseDurationSeconds 4
    assert c.machine.wake_at == 3.0  # unless the watch speaks by then (rule 10)
    assert c.machine.decided
    assert c.feed(WatchStatus(healthy=True), 3.0) == []  # a bookmark
    assert c.machine.wake_at == 5.0
    claim = c.request(TimerFired(), 5.0)
    assert isinstance(claim, Put) and claim.op is Op.ACQUIRE
    assert claim.base is not None and claim.base.resource_version == "5"  # no read first
    assert claim.record.lease_transitions == 8


def test_expiry_counts_from_when_the_change_was_seen_not_from_renew_time() -> None:
    # The holder's wall clock is an hour behind ours: renewTime is "an hour old" already.
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    assert c.feed(LeaseRead(lease("other", "5", renew_offset=-3600)), 1.0) == []
    assert c.machine.expiry() == 5.0
    # Another renewal arrives by watch: a change, so the wait starts again.
    assert c.feed(WatchEvent(lease("other", "6", renew_offset=-3598)), 3.0) == []
    assert c.machine.expiry() == 7.0


def test_an_unchanged_record_with_a_new_resource_version_does_not_restart_the_wait() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(LeaseRead(lease("other", "5")), 1.0)
    c.feed(WatchStatus(healthy=True), 1.0)
    c.feed(WatchEvent(lease("other", "6")), 3.0)  # a label was edited: same record
    assert c.machine.wake_at == 5.0


def test_a_released_lease_is_taken_at_once() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(LeaseRead(lease("other", "5", transitions=3)), 0.5)
    c.feed(WatchStatus(healthy=True), 0.5)
    claim = c.request(WatchEvent(lease("", "6", transitions=3, duration=1)), 1.0)
    assert isinstance(claim, Put) and claim.op is Op.ACQUIRE
    assert claim.record.lease_transitions == 4
    assert c.events == [Changed("other"), Changed(None)]  # nobody holds it now


def test_a_lease_deleted_under_a_live_holder_is_recreated_only_when_its_claim_runs_out() -> None:
    # Deleted by hand while "other" leads: other acts until its renewal meets the 404, so a
    # Lease created now would give two leaders at once. Wait as if the Lease were there.
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5", transitions=7)), 1.0)
    assert c.feed(WatchEvent(None), 2.0) == []
    assert c.events == [Changed("other"), Changed(None)]
    assert c.machine.wake_at == 5.0  # other's claim, as we observed it, ends at 1.0 + 4
    create = c.request(TimerFired(), 5.0)
    assert isinstance(create, Put) and create.op is Op.CREATE
    assert create.record.lease_transitions == 8  # fencing tokens keep growing


def test_a_lease_deleted_after_its_holder_s_claim_ran_out_is_created_at_once() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5", transitions=7)), 1.0)
    create = c.request(WatchEvent(None), 5.5)
    assert isinstance(create, Put) and create.op is Op.CREATE


def test_a_deletion_found_by_a_read_after_a_blind_spell_waits_a_lease_duration() -> None:
    # Our last look at "other" was at 1.0; then the watch stalled and reads were refused, so
    # we saw none of its renewals. A read at 5.5 finds the Lease deleted: by our stale view
    # the claim ran out at 5.0, but "other" may have renewed up to the deletion and still act.
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(LeaseRead(lease("other", "5", transitions=7)), 1.0)
    c.feed(WatchStatus(healthy=False), 1.0)
    assert c.feed(LeaseRead(None), 5.5) == []
    assert c.machine.wake_at >= 9.5  # a lease duration (4 s) after the read
    create = c.request(TimerFired(), 9.5 + c.machine.policy.timing.expiry_jitter)
    assert isinstance(create, Put) and create.op is Op.CREATE
    assert create.record.lease_transitions == 8


def test_a_released_lease_that_is_then_deleted_is_created_at_once() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("", "5", transitions=7, duration=1)), 1.0)
    create = c.request(WatchEvent(None), 1.1)
    assert isinstance(create, Put) and create.op is Op.CREATE


def test_losing_the_race_for_a_lease_means_reading_it_again() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    claim = c.request(LeaseRead(lease("", "6")), 0.0)
    assert isinstance(c.request(RequestFailed(Op.ACQUIRE, Failure.CONFLICT, 0.0), 0.01), Get)
    assert c.feed(LeaseRead(lease("winner", "7", transitions=1)), 0.02) == []
    assert c.machine.state is State.FOLLOWING
    assert isinstance(claim, Put)


def test_the_leader_renews_on_schedule_with_the_object_it_last_wrote() -> None:
    c = Candidate()
    c.lead(0.0)
    assert c.machine.wake_at == 2.0
    renew = c.request(TimerFired(), 2.0)
    assert isinstance(renew, Put) and renew.op is Op.RENEW
    assert renew.base is not None and renew.base.resource_version == "10"
    assert renew.record.holder_identity == "me"
    assert renew.record.lease_transitions == 0  # unchanged while the same term lasts
    assert math.isclose(renew.timeout, 1.0)  # what is left before the deadline (0 + 3)
    c.feed(WriteSucceeded(Op.RENEW, written(renew, "11"), sent_at=2.0), 2.05)
    assert c.machine.deadline == 5.0  # from the send time, not the answer's
    assert c.machine.wake_at == 4.0


def test_a_renewal_that_keeps_failing_steps_down_at_the_deadline() -> None:
    c = Candidate()
    c.lead(0.0)
    renew = c.request(TimerFired(), 2.0)
    now = 2.0
    while c.machine.state is State.LEADING:
        assert isinstance(renew, Get | Put)
        now = max(now + renew.timeout, now + 0.01) if now + renew.timeout < 3.0 else 3.0
        actions = c.feed(RequestFailed(Op.RENEW, Failure.TRANSIENT, now - 0.5), now)
        if c.machine.state is not State.LEADING:
            break
        assert c.machine.is_leader_at(now)
        assert c.machine.wake_at <= c.machine.deadline
        renew = actions[0] if actions else c.request(TimerFired(), c.machine.wake_at)
        now = max(now, c.machine.wake_at if not actions else now)
    assert now <= 3.0
    assert c.events[-1] == Lost(LostReason.RENEW_FAILED, 0)
    assert not c.machine.is_leader_at(3.0)


def test_a_success_that_arrives_late_still_counts_from_its_send_time() -> None:
    c = Candidate()
    c.lead(0.0)
    renew = c.request(TimerFired(), 2.0)
    assert isinstance(renew, Put)
    c.feed(WriteSucceeded(Op.RENEW, written(renew, "11"), sent_at=2.0), 3.2)
    assert c.machine.state is State.LEADING
    assert c.machine.deadline == 5.0
    assert Lost(LostReason.RENEW_FAILED, 0) not in c.events


def test_a_leader_whose_lease_was_taken_over_steps_down() -> None:
    c = Candidate()
    c.lead(0.0)
    c.request(TimerFired(), 2.0)
    reread = c.request(RequestFailed(Op.RENEW, Failure.CONFLICT, 2.0), 2.01)
    assert isinstance(reread, Get)
    c.feed(LeaseRead(lease("thief", "20", transitions=1)), 2.02)
    assert c.machine.state is State.FOLLOWING
    assert c.events[-2:] == [Lost(LostReason.TAKEN_OVER, 0), Changed("thief")]


def test_a_metadata_edit_does_not_cost_the_leader_its_lease() -> None:
    c = Candidate()
    c.lead(0.0)
    c.request(TimerFired(), 2.0)
    c.request(RequestFailed(Op.RENEW, Failure.CONFLICT, 2.0), 2.01)
    ours = lease("me", "12")
    renew = c.request(LeaseRead(ours), 2.02)
    assert isinstance(renew, Put) and renew.op is Op.RENEW
    assert renew.base == ours
    assert c.machine.state is State.LEADING


def test_a_deleted_lease_ends_the_term_and_is_created_again_with_a_higher_token() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    claim = c.request(LeaseRead(lease("", "5", transitions=6)), 0.0)
    assert isinstance(claim, Put)
    c.feed(WriteSucceeded(Op.ACQUIRE, written(claim, "6"), sent_at=0.0), 0.0)
    assert c.events[0] == Acquired(7)
    c.request(TimerFired(), 2.0)
    create = c.request(RequestFailed(Op.RENEW, Failure.NOT_FOUND, 2.0), 2.01)
    assert Lost(LostReason.LEASE_DELETED, 7) in c.events
    assert isinstance(create, Put) and create.op is Op.CREATE
    assert create.record.lease_transitions == 8  # fencing tokens keep growing


def test_a_watch_event_that_contradicts_the_leader_is_checked_by_renewing() -> None:
    c = Candidate()
    c.lead(0.0)
    c.feed(WatchStatus(healthy=True), 0.1)
    renew = c.request(WatchEvent(lease("someone", "15")), 0.5)  # maybe stale: verify it
    assert isinstance(renew, Put) and renew.op is Op.RENEW
    assert c.machine.state is State.LEADING
    assert c.request(WatchEvent(None), 0.6).op is Op.RENEW  # a deletion too


def test_the_echo_of_our_own_write_changes_nothing() -> None:
    c = Candidate()
    create = c.lead(0.0)
    assert c.feed(WatchEvent(written(create, "10")), 0.1) == []
    assert c.machine.wake_at == 2.0


def test_a_late_echo_of_an_earlier_renewal_is_not_taken_for_someone_elses_write() -> None:
    # Under load the watch can trail the leader by one write: the echo of renewal k arrives
    # after renewal k+1 succeeded. Renewing "to check" would make the echo of k+1 trail
    # k+2, and so on: a renewal storm that never ends.
    c = Candidate()
    c.lead(0.0)
    echoes = []
    for k, now in enumerate((2.0, 4.0, 6.0)):
        renew = c.request(TimerFired(), now)
        assert isinstance(renew, Put) and renew.op is Op.RENEW
        echo = lease("me", str(11 + k), renew_offset=now)
        c.feed(WriteSucceeded(Op.RENEW, echo, sent_at=now), now + 0.01)
        echoes.append(echo)
    assert c.feed(WatchEvent(echoes[1]), 6.02) == []  # the echo of the renewal at 4.0
    assert c.machine.wake_at == 8.0
    assert c.feed(WatchEvent(echoes[2]), 6.03) == []  # the current one
    assert c.machine.observed == echoes[2]


def drain(c: Candidate, at: float) -> Put:
    """Stop a leader and report its work drained at ``at``: the release it then sends."""
    assert c.feed(StopRequested(), at) == []
    return c.request(Drained(c.machine.token), at)


def test_stopping_a_leader_gives_up_leadership_before_releasing() -> None:
    c = Candidate()
    c.lead(0.0)
    assert c.feed(StopRequested(), 1.0) == []
    assert c.machine.state is State.DRAINING
    assert not c.machine.is_leader_at(1.0)
    assert c.events[-1] == Lost(LostReason.RELEASED, 0)
    release = c.request(Drained(0), 1.2)
    assert c.machine.state is State.RELEASING
    assert isinstance(release, Put) and release.op is Op.RELEASE
    assert release.record.holder_identity == ""
    assert release.record.lease_duration_seconds == 1
    assert release.base is not None and release.base.resource_version == "10"
    c.feed(WriteSucceeded(Op.RELEASE, written(release, "11"), sent_at=1.2), 1.21)
    assert c.machine.state is State.STOPPED


def test_a_draining_leader_keeps_renewing_until_its_work_returned() -> None:
    c = Candidate()
    c.lead(0.0)
    c.feed(StopRequested(), 1.0)
    assert c.machine.wake_at == 2.0
    renew = c.request(TimerFired(), 2.0)
    assert isinstance(renew, Put) and renew.op is Op.RENEW
    assert renew.record.holder_identity == "me"
    c.feed(WriteSucceeded(Op.RENEW, written(renew, "11"), sent_at=2.0), 2.05)
    assert c.machine.state is State.DRAINING and not c.machine.is_leader_at(2.05)
    assert c.events.count(Lost(LostReason.RELEASED, 0)) == 1
    release = c.request(Drained(0), 4.5)  # past the first deadline: the renewal extended it
    assert release.op is Op.RELEASE and release.base is not None
    assert release.base.resource_version == "11"


def test_a_drain_of_an_earlier_term_does_not_release_this_one() -> None:
    c = Candidate()
    c.lead(0.0)
    c.feed(StopRequested(), 1.0)
    assert c.feed(Drained(7), 1.1) == []
    assert c.machine.state is State.DRAINING


def test_a_drain_that_outlasts_the_drain_timeout_leaves_the_lease_to_expire() -> None:
    c = Candidate(Policy("me", 2.0, 3.0, 4, drain_timeout=2.5))
    c.lead(0.0)
    c.feed(StopRequested(), 1.0)
    renew = c.request(TimerFired(), 2.0)
    c.feed(WriteSucceeded(Op.RENEW, written(renew, "11"), sent_at=2.0), 2.05)
    assert c.machine.wake_at == 3.5  # the drain's end comes before the next renewal
    assert c.feed(TimerFired(), 3.5) == []
    assert c.machine.state is State.STOPPED
    assert c.events[-1] == DrainAbandoned(0, claim_ends_at=6.0)  # last renewal + 4 s
    assert c.feed(Drained(0), 3.6) == []  # too late: never released


def test_a_lease_lost_during_the_drain_is_not_released() -> None:
    c = Candidate()
    c.lead(0.0)
    c.feed(StopRequested(), 1.0)
    renew = c.request(WatchEvent(lease("other", "12", transitions=1)), 1.1)
    assert isinstance(renew, Put) and renew.op is Op.RENEW  # a hint: the write decides
    read = c.request(RequestFailed(Op.RENEW, Failure.CONFLICT, 1.1), 1.2)
    assert isinstance(read, Get)
    assert c.feed(LeaseRead(lease("other", "12", transitions=1)), 1.3) == []
    assert c.machine.state is State.STOPPED
    assert [e for e in c.events if isinstance(e, Lost)] == [Lost(LostReason.RELEASED, 0)]
    # The work may still run while the other leads: reported as an abandoned drain.
    abandoned = [e for e in c.events if isinstance(e, DrainAbandoned)]
    assert [e.reason for e in abandoned] == [LostReason.TAKEN_OVER]


def test_a_failed_release_still_stops() -> None:
    c = Candidate()
    c.lead(0.0)
    drain(c, 1.0)
    c.feed(RequestFailed(Op.RELEASE, Failure.TRANSIENT, 1.0), 1.5)
    assert c.machine.state is State.STOPPED


def test_stopping_without_release_leaves_the_lease_to_expire() -> None:
    c = Candidate(Policy("me", 2.0, 3.0, 4, release_on_stop=False))
    c.lead(0.0)
    assert c.feed(StopRequested(), 1.0) == []
    assert c.machine.state is State.DRAINING
    assert c.events[-1] == Lost(LostReason.STOPPED, 0)
    assert c.feed(Drained(0), 1.1) == []
    assert c.machine.state is State.STOPPED


def test_a_resigning_leader_drains_releases_and_sits_out_one_lease_duration() -> None:
    c = Candidate()
    c.lead(0.0)
    assert c.feed(ResignRequested(), 1.0) == []
    assert c.machine.state is State.DRAINING
    assert c.events[-1] == Lost(LostReason.RESIGNED, 0)
    release = c.request(Drained(0), 1.1)
    c.feed(WriteSucceeded(Op.RELEASE, written(release, "11"), sent_at=1.1), 1.2)
    assert c.machine.state is State.FOLLOWING
    assert c.machine.sit_out_until == 5.2
    c.feed(WatchStatus(healthy=True), 1.2)
    read = c.request(TimerFired(), 1.2)  # it reads again, but does not take the free Lease
    assert isinstance(read, Get)
    assert c.feed(LeaseRead(lease("", "11", transitions=0)), 1.3) == []
    assert c.machine.wake_at == 4.2  # when the quiet watch would be distrusted (rule 10)
    assert c.feed(WatchStatus(healthy=True), 4.2) == []  # a bookmark: still alive
    assert c.machine.wake_at == 5.2
    acquire = c.request(TimerFired(), 5.2)  # nobody took it: compete again
    assert isinstance(acquire, Put) and acquire.op is Op.ACQUIRE
    assert acquire.record.lease_transitions == 1


def test_a_resigned_candidate_follows_whoever_takes_over() -> None:
    c = Candidate()
    c.lead(0.0)
    c.feed(ResignRequested(), 1.0)
    release = c.request(Drained(0), 1.1)
    c.feed(WriteSucceeded(Op.RELEASE, written(release, "11"), sent_at=1.1), 1.2)
    c.request(TimerFired(), 1.2)
    c.feed(WatchStatus(healthy=True), 1.2)
    assert c.feed(LeaseRead(lease("other", "12", transitions=1)), 1.3) == []
    assert c.feed(WatchStatus(healthy=True), 4.2) == []  # a bookmark
    assert c.machine.wake_at == 5.3  # the other's claim, not the sit-out
    assert c.events[-1] == Changed("other")


def test_resigning_a_follower_does_nothing() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5")), 0.1)
    assert c.feed(ResignRequested(), 0.2) == []
    assert c.machine.state is State.FOLLOWING


def test_a_stop_during_a_resign_stops_after_the_release() -> None:
    c = Candidate()
    c.lead(0.0)
    c.feed(ResignRequested(), 1.0)
    c.feed(StopRequested(), 1.05)
    release = c.request(Drained(0), 1.1)
    c.feed(WriteSucceeded(Op.RELEASE, written(release, "11"), sent_at=1.1), 1.2)
    assert c.machine.state is State.STOPPED


def test_stopping_a_follower_sends_nothing() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(LeaseRead(lease("other", "5")), 0.1)
    assert c.feed(StopRequested(), 0.2) == []
    assert c.machine.state is State.STOPPED
    assert not any(isinstance(e, Lost) for e in c.events)


def test_a_follower_without_a_watch_polls_every_renewal_interval() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(LeaseRead(lease("other", "5")), 0.0)
    assert c.machine.wake_at == 2.0  # the poll comes before the expiry at 4.0
    assert isinstance(c.request(TimerFired(), 2.0), Get)


def test_a_follower_whose_watch_speaks_makes_no_request_until_expiry() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5")), 0.0)
    assert c.feed(WatchStatus(healthy=True), 2.5) == []  # a bookmark
    assert c.machine.wake_at == 4.0


def test_a_broken_watch_makes_the_follower_read_at_once() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5")), 0.0)
    assert isinstance(c.request(WatchStatus(healthy=False), 1.0), Get)


def test_forbidden_and_transient_errors_back_off_exponentially() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    waits = []
    now = 0.0
    for _ in range(5):
        assert c.feed(RequestFailed(Op.GET, Failure.FORBIDDEN, now), now) == []
        waits.append(c.machine.wake_at - now)
        now = c.machine.wake_at
        assert isinstance(c.request(TimerFired(), now), Get)
    assert waits == [0.25, 0.5, 1.0, 2.0, 2.0]  # base interval/8, doubling, capped at 2 s


def test_a_create_in_a_missing_namespace_is_retried_later() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.request(LeaseRead(None), 0.0)
    assert c.feed(RequestFailed(Op.CREATE, Failure.NOT_FOUND, 0.0), 0.0) == []
    assert c.machine.wake_at > 0.0
    assert c.request(TimerFired(), c.machine.wake_at).op is Op.CREATE


def test_repeated_conflicts_back_off() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.request(LeaseRead(lease("", "5")), 0.0)
    c.request(RequestFailed(Op.ACQUIRE, Failure.CONFLICT, 0.0), 0.0)
    c.request(LeaseRead(lease("", "6")), 0.0)
    assert c.feed(RequestFailed(Op.ACQUIRE, Failure.CONFLICT, 0.0), 0.0) == []
    assert c.machine.wake_at > 0.0


def test_a_follower_that_sees_its_own_name_in_the_lease_takes_it_back() -> None:
    # Our renewal was applied but its answer lost; we stepped down; the record names us.
    c = Candidate()
    c.request(Started(), 0.0)
    claim = c.request(LeaseRead(lease("me", "5", transitions=2)), 0.0)
    assert isinstance(claim, Put) and claim.op is Op.ACQUIRE
    assert claim.record.lease_transitions == 3  # a new term: a new fencing token


def test_a_lease_recreated_under_the_leader_is_a_deletion_not_a_takeover() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    created = {
        "metadata": {"name": "x", "resourceVersion": "10", "uid": "first"},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 4, "leaseTransitions": 0},
    }
    claim = c.request(LeaseRead(None), 0.0)
    assert isinstance(claim, Put)
    c.feed(WriteSucceeded(Op.CREATE, observe(created), sent_at=0.0), 0.0)
    c.request(TimerFired(), 2.0)
    c.request(RequestFailed(Op.RENEW, Failure.CONFLICT, 2.0), 2.0)
    recreated = {
        "metadata": {"name": "x", "resourceVersion": "15", "uid": "second"},
        "spec": {"holderIdentity": "other", "leaseDurationSeconds": 4, "leaseTransitions": 1},
    }
    c.feed(LeaseRead(observe(recreated)), 2.01)
    assert Lost(LostReason.LEASE_DELETED, 0) in c.events


# -- issue #10: safety and liveness under hostile conditions -----------------------------------
def leading_with(transitions: int, now: float = 0.0) -> Candidate:
    """A candidate that took a free Lease whose leaseTransitions was ``transitions``."""
    c = Candidate()
    c.request(Started(), now)
    claim = c.request(LeaseRead(lease("", "5", transitions=transitions)), now)
    assert isinstance(claim, Put)
    c.feed(WriteSucceeded(Op.ACQUIRE, written(claim, "6"), sent_at=now), now)
    assert c.machine.state is State.LEADING
    return c


@pytest.mark.parametrize(
    ("situation", "lowered_to"),
    [
        pytest.param("a restored backup", 0, id="lowered to 0"),
        pytest.param("a stale kubectl apply", 2, id="lowered by one"),
        pytest.param("a raise by hand", 9, id="raised"),
    ],
)
def test_a_leader_writes_its_own_token_back_when_it_is_changed_under_it(
    situation: str, lowered_to: int
) -> None:
    c = leading_with(2)
    assert c.machine.token == 3
    edited = lease("me", "7", transitions=lowered_to)
    renew = c.request(WatchEvent(edited), 0.5)  # a contradiction: renew at once (rule 4)
    assert isinstance(renew, Put) and renew.op is Op.RENEW
    assert renew.record.lease_transitions == 3, situation
    c.feed(WriteSucceeded(Op.RENEW, written(renew, "8"), sent_at=0.5), 0.5)
    assert c.machine.token == 3  # the term keeps its token
    assert c.events.count(Acquired(3)) == 1


def test_a_release_writes_the_term_s_token_even_if_it_was_lowered() -> None:
    c = leading_with(2)
    c.feed(WatchEvent(lease("me", "7", transitions=0)), 0.5)
    c.feed(StopRequested(), 0.6)
    release = c.request(Drained(3), 0.7)
    assert isinstance(release, Put) and release.op is Op.RELEASE
    assert release.record.lease_transitions == 3


@pytest.mark.parametrize(
    ("seen", "now_in_lease", "expected"),
    [
        pytest.param([3], 3, 4, id="plain: one more than the Lease"),
        pytest.param([3], 0, 4, id="lowered by hand: above the highest seen"),
        pytest.param([9, 2], 2, 10, id="lowered while we followed"),
        pytest.param([2147483646], 2147483646, 2147483647, id="the int32 maximum"),
        pytest.param([2147483647], 2147483647, 0, id="past the int32 maximum: wraps to 0"),
        pytest.param([2147483647, 0], 0, 1, id="after a wrap: 0 is later than the maximum"),
        pytest.param([2147483647, 5], 5, 6, id="after a wrap: small values are later"),
    ],
)
def test_an_acquisition_writes_a_token_above_every_value_seen(
    seen: list[int], now_in_lease: int, expected: int
) -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    for i, value in enumerate(seen):
        c.feed(WatchEvent(lease("other", str(10 + i), transitions=value)), 0.0)
    claim = c.request(WatchEvent(lease("", "20", transitions=now_in_lease)), 0.1)  # released
    assert isinstance(claim, Put) and claim.op is Op.ACQUIRE
    assert claim.record.lease_transitions == expected


def test_a_hand_edit_naming_a_follower_waits_out_the_previous_holder() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5", transitions=4)), 0.0)
    # kubectl edit: holderIdentity "me", written by nobody of ours.
    assert c.feed(WatchEvent(lease("me", "6", transitions=4, renew_offset=1)), 1.0) == []
    assert c.machine.hold_off_until == 5.0  # observed at 1.0 + the previous 4 s
    assert Acquired(5) not in c.events
    c.feed(WatchStatus(healthy=True), 2.5)  # a bookmark: the watch still speaks
    c.feed(WatchStatus(healthy=True), 4.9)
    assert c.machine.wake_at == 5.0
    claim = c.request(TimerFired(), 5.0)
    assert isinstance(claim, Put) and claim.op is Op.ACQUIRE
    assert claim.record.lease_transitions == 5  # a new term, a new token


def test_a_hand_edit_naming_a_follower_then_a_deletion_still_waits_out_the_holder() -> None:
    # Found by the model test: the Lease last named us (by someone else's write) when it was
    # deleted; "other", its holder before the edit, may still act until its claim runs out.
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5", transitions=4)), 0.0)
    c.feed(WatchEvent(lease("me", "6", transitions=4, renew_offset=1)), 1.0)
    assert c.feed(WatchEvent(None), 1.5) == []
    assert c.machine.wake_at >= 5.0
    create = c.request(TimerFired(), 5.0 + c.machine.policy.timing.expiry_jitter)
    assert isinstance(create, Put) and create.op is Op.CREATE


def test_a_hand_edit_naming_a_follower_that_then_sees_a_release_takes_it_at_once() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5", transitions=4)), 0.0)
    c.feed(WatchEvent(lease("me", "6", transitions=4, renew_offset=1)), 1.0)
    claim = c.request(WatchEvent(lease("", "7", transitions=4, renew_offset=2)), 1.5)
    assert isinstance(claim, Put) and claim.op is Op.ACQUIRE


def test_the_answer_to_our_own_lost_acquisition_is_not_a_hand_edit() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(LeaseRead(lease("other", "5", transitions=4, duration=1)), 0.0)
    claim = c.request(TimerFired(), 1.0)  # expired
    assert isinstance(claim, Put)
    # The write timed out, but the server applied it: the Lease holds the record we sent.
    c.feed(RequestFailed(Op.ACQUIRE, Failure.TRANSIENT, 1.0), 2.0)
    applied = lease("me", "6", transitions=5)
    assert applied.record != claim.record  # (the helper's times differ; make them equal)
    body = dict(applied.body)
    spec = dict(body["spec"])
    spec["acquireTime"] = spec["renewTime"] = "2026-11-24T12:00:01.000000Z"
    body["spec"] = spec
    applied = observe(body)
    assert applied.record == claim.record
    again = c.request(LeaseRead(applied), 2.5)
    assert isinstance(again, Put) and again.op is Op.ACQUIRE
    assert c.machine.hold_off_until == -math.inf


def test_a_leader_that_lost_by_renew_failure_sits_out_before_competing_again() -> None:
    c = Candidate()
    c.lead(0.0)
    c.request(TimerFired(), 2.0)
    c.feed(RequestFailed(Op.RENEW, Failure.TRANSIENT, 2.0), 3.0)
    assert c.events[-1] == Lost(LostReason.RENEW_FAILED, 0)
    assert c.machine.sit_out_until == 7.0  # one lease duration (jitter 0 here)
    c.feed(WatchStatus(healthy=True), 3.0)
    # Its late renewals were applied: the Lease still names it. It does not take it back.
    assert c.feed(WatchEvent(lease("me", "12", transitions=0, renew_offset=3)), 3.1) == []
    c.feed(WatchStatus(healthy=True), 5.0)
    assert c.machine.wake_at == 7.0
    claim = c.request(TimerFired(), 7.0)  # nobody took it: compete again
    assert isinstance(claim, Put) and claim.op is Op.ACQUIRE


def test_a_sit_out_after_renew_failure_is_jittered() -> None:
    c = Candidate()
    c.lead(0.0)
    c.request(TimerFired(), 2.0)
    machine, _ = step(
        c.machine,
        RequestFailed(Op.RENEW, Failure.TRANSIENT, 2.0),
        now=3.0,
        wall=WALL,
        jitter=0.5,
    )
    assert machine.sit_out_until == 3.0 + 4.0 + 0.5 * 1.0  # up to a quarter lease duration


def test_an_acquisition_answered_after_its_deadline_is_no_term_at_all() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    claim = c.request(LeaseRead(lease("", "5", transitions=1)), 0.0)
    assert isinstance(claim, Put)
    actions = c.feed(WriteSucceeded(Op.ACQUIRE, written(claim, "6"), sent_at=0.0), 3.0)
    assert all(isinstance(a, Get) for a in actions)  # it only reads while it sits out
    assert c.machine.state is State.FOLLOWING
    assert not any(isinstance(e, Acquired | Lost) for e in c.events)
    assert c.machine.sit_out_until == 7.0


def test_an_acquisition_answered_just_before_its_deadline_is_a_term() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    claim = c.request(LeaseRead(lease("", "5", transitions=1)), 0.0)
    assert isinstance(claim, Put)
    c.feed(WriteSucceeded(Op.ACQUIRE, written(claim, "6"), sent_at=0.0), 2.9)
    assert c.machine.state is State.LEADING
    assert c.events[-2:] == [Acquired(2), Changed("me")]


def test_a_silent_watch_is_distrusted_and_the_follower_polls() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.feed(WatchStatus(healthy=True), 0.0)
    c.feed(LeaseRead(lease("other", "5", duration=10)), 0.0)
    c.feed(WatchEvent(lease("other", "6", duration=10, renew_offset=2)), 2.0)  # it speaks
    assert c.machine.wake_at == 5.0  # 2.0 + 1.5 x the interval
    read = c.request(TimerFired(), 5.0)  # silent since 2.0: read
    assert isinstance(read, Get)
    assert c.feed(LeaseRead(lease("other", "6", duration=10, renew_offset=2)), 5.1) == []
    assert c.machine.wake_at == 7.1  # and again every renewal interval
    read = c.request(TimerFired(), 7.1)
    claim = c.request(LeaseRead(lease("", "7", renew_offset=6)), 7.2)  # released
    assert isinstance(claim, Put) and claim.op is Op.ACQUIRE


def test_a_follower_told_to_wait_waits_at_least_that_long() -> None:
    c = Candidate()
    c.request(Started(), 0.0)
    c.request(LeaseRead(lease("", "5")), 0.0)
    assert c.feed(RequestFailed(Op.ACQUIRE, Failure.TRANSIENT, 0.0, retry_after=5.0), 0.1) == []
    assert c.machine.wake_at == 5.1
    machine, _ = step(
        c.machine, TimerFired(), now=0.2, wall=WALL, jitter=0.0
    )  # nothing before then
    assert machine.wake_at == 5.1


def test_a_leader_told_to_wait_tries_once_more_before_its_deadline() -> None:
    c = Candidate()
    c.lead(0.0)
    c.request(TimerFired(), 2.0)
    assert c.feed(RequestFailed(Op.RENEW, Failure.TRANSIENT, 2.0, retry_after=5.0), 2.1) == []
    assert c.machine.state is State.LEADING
    assert c.machine.wake_at == 2.5  # deadline 3.0 - final_attempt 0.5, not 7.1
    renew = c.request(TimerFired(), 2.5)
    assert isinstance(renew, Put) and renew.timeout == pytest.approx(0.5)
