"""harness/checker.py on synthetic logs: each invariant caught, and clean runs left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.checker import (
    ProcessRecord,
    Sample,
    check,
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
