"""harness/checker.py on synthetic logs: each invariant caught, and clean runs left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.checker import (
    ProcessRecord,
    Sample,
    check,
    check_group,
    find_overlaps,
    parse_action_log,
    read_action_logs,
    terms_from_samples,
)


def samples(identity: str, token: int | None, start: float, end: float, step: float = 0.002):
    t = start
    out = []
    while t <= end + 1e-9:
        out.append(Sample(round(t, 6), identity, token))
        t += step
    return out


def process(
    identity: str,
    *events: tuple[str, float, Any],
    returncode: int | None = 0,
    killed: bool = False,
    terminated: bool = True,
    threads: list[str] | None = None,
) -> ProcessRecord:
    out: list[dict[str, Any]] = []
    for kind, t, extra in events:
        event: dict[str, Any] = {"event": kind, "t": t}
        if kind in ("elected", "lost"):
            event["token"] = extra
        if kind == "exit":
            event["threads"] = threads or []
        out.append(event)
    return ProcessRecord(identity, out, returncode, killed=killed, terminated=terminated)


def clean_handover() -> tuple[list[Sample], list[ProcessRecord]]:
    a = process("a", ("elected", 0.0, 1), ("lost", 1.0, 1), ("exit", 1.1, None))
    b = process("b", ("elected", 1.05, 2), ("lost", 3.0, 2), ("exit", 3.1, None))
    return samples("a", 1, 0.0, 0.998) + samples("b", 2, 1.05, 2.9), [a, b]


def test_a_clean_handover_passes() -> None:
    logs, processes = clean_handover()
    verdict = check(logs, processes)
    assert verdict.ok, verdict.summary()
    assert verdict.transitions == 1
    assert len(verdict.terms) == 2
    assert verdict.min_gap is not None
    assert abs(verdict.min_gap - 0.052) < 1e-6


def test_two_identities_interleaving_is_an_overlap() -> None:
    logs = samples("a", 1, 0.0, 1.0) + samples("b", 2, 0.9, 2.0)
    verdict = check(logs, [])
    assert len(verdict.overlaps) == 1
    overlap = verdict.overlaps[0]
    assert (overlap.first.identity, overlap.second.identity) == ("a", "b")
    assert abs(overlap.seconds - 0.1) < 0.003
    assert not verdict.ok


def test_a_single_sample_inside_another_term_is_an_overlap() -> None:
    logs = [*samples("a", 1, 0.0, 1.0), Sample(0.5, "b", 2)]
    overlaps, _ = find_overlaps(terms_from_samples(logs))
    assert len(overlaps) == 1


def test_terms_that_touch_at_one_instant_overlap() -> None:
    # Both judged themselves leader at the same monotonic instant: not allowed.
    logs = [Sample(1.0, "a", 1), Sample(2.0, "a", 1), Sample(2.0, "b", 2), Sample(3.0, "b", 2)]
    overlaps, _ = find_overlaps(terms_from_samples(logs))
    assert len(overlaps) == 1


def test_a_leader_that_returns_after_another_is_an_overlap_when_its_token_is_reused() -> None:
    # a acts, b acts, a acts again with the same token: a's term spans b's.
    logs = samples("a", 1, 0.0, 0.5) + samples("b", 2, 1.0, 1.5) + samples("a", 1, 2.0, 2.5)
    verdict = check(logs, [])
    assert len(verdict.overlaps) == 1
    assert verdict.overlaps[0].second.identity == "b"


def test_the_same_leader_again_with_a_new_token_is_fine() -> None:
    logs = samples("a", 1, 0.0, 0.5) + samples("b", 2, 1.0, 1.5) + samples("a", 3, 2.0, 2.5)
    a = process(
        "a",
        ("elected", 0, 1),
        ("lost", 0.6, 1),
        ("elected", 2, 3),
        ("lost", 2.6, 3),
        ("exit", 3, 0),
    )
    b = process("b", ("elected", 1, 2), ("lost", 1.6, 2), ("exit", 3, 0))
    verdict = check(logs, [a, b])
    assert verdict.ok, verdict.summary()
    assert verdict.transitions == 2


def test_a_token_reused_after_a_lost_is_a_new_term_flagged_by_the_token_check() -> None:
    # a leads with token 3, loses; b leads with 4; the Lease is recreated from 0 and a
    # reaches token 3 again: no overlap (a's terms are apart), but tokens went backwards.
    logs = samples("a", 3, 0.0, 0.5) + samples("b", 4, 1.0, 1.5) + samples("a", 3, 2.0, 2.5)
    a = process(
        "a",
        ("elected", 0, 3),
        ("lost", 0.6, 3),
        ("elected", 2, 3),
        ("lost", 2.6, 3),
        ("exit", 3, 0),
    )
    b = process("b", ("elected", 1, 4), ("lost", 1.6, 4), ("exit", 3, 0))
    verdict = check(logs, [a, b])
    assert verdict.overlaps == []
    assert len(verdict.terms) == 3
    assert verdict.token_violations


def test_fencing_tokens_that_do_not_grow_are_reported() -> None:
    logs = samples("a", 5, 0.0, 0.5) + samples("b", 5, 1.0, 1.5)
    a = process("a", ("elected", 0, 5), ("lost", 0.6, 5), ("exit", 3, 0))
    b = process("b", ("elected", 1, 5), ("lost", 1.6, 5), ("exit", 3, 0))
    verdict = check(logs, [a, b])
    assert verdict.token_violations
    assert len(verdict.token_violations) == 2  # by terms and by elected events


def test_elected_without_lost_is_reported_unless_the_process_was_killed() -> None:
    survivor = process("a", ("elected", 0, 1), ("exit", 1, 0))
    assert check([], [survivor]).event_violations
    killed = process("a", ("elected", 0, 1), returncode=-9, killed=True, terminated=False)
    verdict = check([], [killed])
    assert verdict.ok, verdict.summary()


def test_a_lost_twice_or_with_another_token_is_reported() -> None:
    twice = process("a", ("elected", 0, 1), ("lost", 1, 1), ("lost", 2, 1), ("exit", 3, 0))
    assert len(check([], [twice]).event_violations) == 1
    mismatch = process("a", ("elected", 0, 1), ("lost", 1, 2), ("exit", 3, 0))
    assert len(check([], [mismatch]).event_violations) == 1
    doubled = process("a", ("elected", 0, 1), ("elected", 1, 2), ("lost", 2, 2), ("exit", 3, 0))
    assert len(check([], [doubled]).event_violations) == 1


def test_actions_without_an_elected_event_are_reported() -> None:
    verdict = check(samples("a", 1, 0.0, 0.1), [process("a", ("exit", 1, 0))])
    assert any("without an elected event" in v for v in verdict.event_violations)


def test_a_killed_leader_may_act_before_its_event_was_printed() -> None:
    killed = process("a", returncode=-9, killed=True, terminated=False)
    assert check(samples("a", 1, 0.0, 0.1), [killed]).ok


def test_a_sigterm_that_does_not_end_in_status_0_is_an_unclean_exit() -> None:
    by_signal = process("a", returncode=-15)
    verdict = check([], [by_signal])
    assert verdict.exit_violations == ["a: SIGTERM ended it with signal 15, not 0"]
    no_event = process("b", returncode=0)
    assert check([], [no_event]).exit_violations == ["b: exited 0 without its exit event"]
    crashed = process("c", ("exit", 1, 0), returncode=1, terminated=False)
    assert check([], [crashed]).exit_violations


def test_threads_left_after_stop_are_reported() -> None:
    leaky = process("a", ("exit", 1, 0), threads=["leader-election[default/x]-watch"])
    verdict = check([], [leaky])
    assert verdict.thread_violations
    assert not verdict.ok


def test_action_logs_parse_and_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    lines = ["1.000000 a 3\n", "1.002000 a 3\n", "garbage\n", "1.004000 b -\n", "1.0060"]
    parsed, problems = parse_action_log(lines, source="x")
    assert [s.identity for s in parsed] == ["a", "a", "b"]
    assert parsed[2].token is None
    assert problems == ["x:3: malformed line 'garbage'"]
    path = tmp_path / "actions.log"
    path.write_text("".join(lines[:2]), encoding="utf-8")
    read, bad = read_action_logs([path, tmp_path / "absent.log"])
    assert len(read) == 2
    assert bad == []


# -- invariant 6: work of run_while_leader jobs --------------------------------------------
def work(identity: str, token: int | None, run: int, start: float, end: float) -> list[Sample]:
    return [Sample(s.t, identity, token, run) for s in samples(identity, token, start, end)]


def a_then_b(ended: str) -> list[ProcessRecord]:
    """a leads with token 1 until 1.0 and loses it for ``ended``; b leads from 1.05."""
    a_events: list[tuple[str, float, Any]] = [("elected", 0.0, 1)]
    if ended not in ("killed", "no lost event"):
        a_events.append(("lost", 1.0, 1))
    a = process("a", *a_events, ("exit", 1.6, None))
    if ended not in ("killed", "no lost event"):
        a.events[1]["reason"] = ended
    if ended == "killed":
        a = process("a", ("elected", 0.0, 1), returncode=-9, killed=True, terminated=False)
    b = process("b", ("elected", 1.05, 2), ("lost", 3.0, 2), ("exit", 3.1, None))
    b.events[1]["reason"] = "released"
    return [a, b]


# (situation, a's work, b's work, how a's term ended, graceful overlaps, involuntary ones)
WORK_CASES = [
    (
        "a drained job returns before the next one starts",
        (0.0, 1.03),
        (1.05, 2.9),
        "released",
        0,
        0,
    ),
    (
        "a released Lease while the job still stops is a graceful overlap",
        (0.0, 1.25),
        (1.05, 2.9),
        "released",
        1,
        0,
    ),
    (
        "stopped without release, job still running: graceful too",
        (0.0, 1.25),
        (1.05, 2.9),
        "stopped",
        1,
        0,
    ),
    (
        "a partitioned leader whose job outlives the lease margin: involuntary",
        (0.0, 1.25),
        (1.05, 2.9),
        "renew_failed",
        0,
        1,
    ),
    (
        "the Lease handed to another by hand: involuntary",
        (0.0, 1.25),
        (1.05, 2.9),
        "taken_over",
        0,
        1,
    ),
    (
        "a killed leader's last sample after the next start: involuntary",
        (0.0, 1.25),
        (1.05, 2.9),
        "killed",
        0,
        1,
    ),
    (
        "jobs that touch at one instant overlap",
        (0.0, 1.05),
        (1.05, 2.9),
        "released",
        1,
        0,
    ),
]


@pytest.mark.parametrize(
    ("a_span", "b_span", "ended", "graceful", "involuntary"),
    [case[1:] for case in WORK_CASES],
    ids=[case[0] for case in WORK_CASES],
)
def test_work_overlaps_are_classified_by_how_the_earlier_term_ended(
    a_span: tuple[float, float],
    b_span: tuple[float, float],
    ended: str,
    graceful: int,
    involuntary: int,
) -> None:
    logs = work("a", 1, 1, *a_span) + work("b", 2, 1, *b_span)
    processes = a_then_b(ended)
    verdict = check([], processes, work=logs)
    assert len(verdict.work_terms) == 2
    assert len(verdict.graceful_work_overlaps) == graceful
    assert len(verdict.involuntary_work_overlaps) == involuntary
    for overlap in verdict.work_overlaps:
        assert overlap.ended == ended
        assert overlap.seconds == pytest.approx(a_span[1] - b_span[0], abs=0.003)
    # Without drain nothing about work is a violation; with drain, graceful overlaps are.
    assert not any("work" in v for v in verdict.violations)
    judged = check([], processes, work=logs, drain=True)
    assert sum("work" in v for v in judged.violations) == graceful


def test_the_smallest_work_gap_is_the_time_no_job_ran() -> None:
    logs = work("a", 1, 1, 0.0, 1.0) + work("b", 2, 1, 1.25, 2.0) + work("a", 3, 2, 2.1, 3.0)
    verdict = check([], [], work=logs)
    assert verdict.work_overlaps == []
    assert verdict.work_min_gap == pytest.approx(0.1, abs=1e-6)


def test_a_process_overlapping_its_own_next_run_is_not_two_candidates() -> None:
    # a loses, is re-elected at once, and its second job starts while the first one stops.
    logs = work("a", 1, 1, 0.0, 1.3) + work("a", 2, 2, 1.1, 2.0)
    verdict = check([], [], work=logs)
    assert len(verdict.work_terms) == 2
    assert verdict.work_overlaps == []
    assert verdict.work_token_violations == []


def test_work_tokens_must_grow_from_run_to_run() -> None:
    # A lowered leaseTransitions: b's term gets the token a already worked with.
    logs = work("a", 5, 1, 0.0, 1.0) + work("b", 5, 1, 1.2, 2.0) + work("a", 6, 2, 2.2, 3.0)
    verdict = check([], [], work=logs)
    assert len(verdict.work_token_violations) == 1
    assert "b#5 run 1" in verdict.work_token_violations[0]
    assert not verdict.ok


def test_one_token_in_two_runs_of_one_process_stays_two_work_terms() -> None:
    logs = work("a", 4, 1, 0.0, 1.0) + work("b", 5, 1, 1.2, 2.0) + work("a", 4, 2, 2.2, 3.0)
    verdict = check([], [], work=logs)
    assert [(t.identity, t.run) for t in verdict.work_terms] == [("a", 1), ("b", 1), ("a", 2)]
    assert verdict.work_overlaps == []
    assert len(verdict.work_token_violations) == 1


def test_a_stop_event_after_the_other_began_is_described_as_late() -> None:
    # a was paused: its lost (stop event) comes after b began working.
    a = process("a", ("elected", 0.0, 1), ("lost", 1.5, 1), ("exit", 2.0, None))
    a.events[1]["reason"] = "renew_failed"
    logs = work("a", 1, 1, 0.0, 1.6) + work("b", 2, 1, 1.05, 2.9)
    (overlap,) = check([], [a], work=logs).work_overlaps
    assert overlap.stop_at == 1.5
    assert "stop event only 450 ms after" in overlap.describe()


def test_work_lines_carry_their_run() -> None:
    parsed, problems = parse_action_log(["1.000000 a 3 1\n", "1.002000 a - 2\n", "1 a 3 x\n"])
    assert [(s.token, s.run) for s in parsed] == [(3, 1), (None, 2)]
    assert problems == []  # the malformed line is the last one: a torn write


def test_a_job_left_running_after_stop_is_judged_with_drain() -> None:
    # The same process re-elected while its last run still stops: stop() joins only the
    # latest run today, and the earlier one is still alive at exit.
    leaky = process("a", ("exit", 1, 0), threads=["leader-election[default/x]-job-work"])
    verdict = check([], [leaky])
    assert verdict.thread_violations == []
    assert len(verdict.job_thread_violations) == 1
    assert verdict.ok, verdict.summary()
    assert not check([], [leaky], drain=True).ok


def test_an_elected_event_delivered_after_a_pause_is_ordered_by_when_its_term_began() -> None:
    # a won token 2 at 1.0, was paused before delivering it; b won token 3 at 2.0 (a's claim
    # had run out) and delivered at once; a's elected and lost came out together at 3.0.
    logs = samples("b", 3, 2.0, 2.5)
    a = process("a", ("elected", 3.0, 2), ("lost", 3.0, 2), ("exit", 4, 0))
    a.events[0]["since"] = 1.0
    b = process("b", ("elected", 2.0, 3), ("lost", 2.6, 3), ("exit", 4, 0))
    b.events[0]["since"] = 2.0
    assert check(logs, [a, b]).token_violations == []
    del a.events[0]["since"]  # without it, delivery order is all the checker has
    assert check(logs, [a, b]).token_violations


# -- groups: every invariant per Lease -------------------------------------------------------
def on(lease: str, *items: Sample) -> list[Sample]:
    return [Sample(s.t, s.identity, s.token, s.run, lease) for s in items]


def member(identity: str, *events: tuple[str, float, Any, str], **kwargs: Any) -> ProcessRecord:
    """A group member: each elected/lost event names its Lease (the fourth item)."""
    record = process(identity, *((kind, t, extra) for kind, t, extra, _ in events), **kwargs)
    for event, (_, _, _, lease) in zip(record.events, events, strict=True):
        if lease:
            event["lease"] = lease
    return record


def two_leases() -> tuple[list[Sample], list[ProcessRecord]]:
    """a leads x and y at once; y is handed to b to rebalance; a stops and releases x."""
    a = member(
        "a",
        ("elected", 0.0, 1, "x"),
        ("elected", 0.0, 1, "y"),
        ("lost", 1.0, 1, "y"),
        ("lost", 2.0, 1, "x"),
        ("exit", 2.1, None, ""),
    )
    a.events[2]["reason"] = "resigned"
    a.events[3]["reason"] = "released"
    b = member(
        "b",
        ("elected", 1.05, 2, "y"),
        ("elected", 2.05, 2, "x"),
        ("lost", 3.0, 2, "y"),
        ("lost", 3.0, 2, "x"),
        ("exit", 3.1, None, ""),
    )
    logs = (
        on("x", *samples("a", 1, 0.0, 1.998))
        + on("y", *samples("a", 1, 0.0, 0.998))
        + on("y", *samples("b", 2, 1.05, 2.9))
        + on("x", *samples("b", 2, 2.05, 2.9))
    )
    return logs, [a, b]


def test_one_member_leading_two_leases_at_once_is_no_overlap() -> None:
    logs, processes = two_leases()
    verdict = check_group(logs, processes, leases=["x", "y", "z"])
    assert verdict.ok, verdict.summary()
    assert sorted(verdict.leases) == ["x", "y", "z"]
    assert verdict.leases["x"].transitions == verdict.leases["y"].transitions == 1
    assert verdict.transitions == 2
    assert verdict.released == 1
    assert verdict.resigned == 1
    assert "x: 1 transitions, 0 overlaps" in verdict.summary()
    # The same logs judged as one Lease: a's terms on x and y would overlap b's.
    assert not check(logs, processes).ok


def test_two_leaders_of_one_lease_are_an_overlap_named_by_its_lease() -> None:
    logs, processes = two_leases()
    logs += on("y", *samples("a", 1, 1.2, 1.3))  # a still acting on y after b took it
    verdict = check_group(logs, processes)
    assert not verdict.ok
    assert len(verdict.leases["y"].overlaps) == 1
    assert not verdict.leases["x"].overlaps
    assert " on y " in verdict.overlaps[0].describe()


def test_group_work_after_a_resign_is_judged_as_graceful() -> None:
    _, processes = two_leases()
    logs = on("y", *work("a", 1, 1, 0.0, 1.2)) + on("y", *work("b", 2, 2, 1.05, 2.9))
    verdict = check_group([], processes, work=logs, drain=True)
    assert len(verdict.graceful_work_overlaps) == 1
    assert verdict.graceful_work_overlaps[0].ended == "resigned"
    assert not verdict.ok


def test_group_events_are_judged_per_lease_and_exits_once() -> None:
    _, processes = two_leases()
    del processes[1].events[2]  # b never reports losing y
    processes[0].returncode = 1
    verdict = check_group([], processes)
    assert verdict.event_violations == ["y: b: exited while leading, without a lost event"]
    assert len(verdict.exit_violations) == 1


def test_group_log_lines_name_their_lease() -> None:
    parsed, problems = parse_action_log(
        ["1.000000 a 3 lease=x\n", "1.002000 a 3 4 lease=y\n", "1.004000 a 3\n"]
    )
    assert problems == []
    assert [(s.lease, s.run) for s in parsed] == [("x", 0), ("y", 4), ("", 0)]


def test_a_drain_cut_short_by_a_pause_is_involuntary_and_an_unrelated_one_is_not() -> None:
    _, processes = two_leases()
    logs = on("y", *work("a", 1, 1, 0.0, 1.2)) + on("y", *work("b", 2, 2, 1.05, 2.9))
    # a was paused during its drain (stop event at 1.0, b began at 1.05): it lost y to expiry.
    processes[0].disturbed = [(1.02, 1.15, "pause")]
    verdict = check_group([], processes, work=logs, drain=True)
    assert verdict.ok, verdict.summary()
    [overlap] = verdict.involuntary_work_overlaps
    assert overlap.ended == "resigned, drain cut short by pause"
    # A disturbance over before the drain began, or after the other began, excuses nothing.
    for interval in ((0.2, 0.9, "pause"), (1.1, 1.3, "errors")):
        processes[0].disturbed = [interval]
        verdict = check_group([], processes, work=logs, drain=True)
        assert len(verdict.graceful_work_overlaps) == 1, interval
