"""What the leader-only schedule tests check in the record of runs their processes left.

A run is an interval ``[start, end]`` (monotonic seconds, one clock for every process of the
machine) of one process (``pid``) in one term (``token``). Leader-only work is correct when
no two processes' runs overlap and the fencing tokens strictly increase from one term to
the next: each token belongs to one process, and runs are ordered by token.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    start: float
    end: float
    pid: int
    token: int


def terms(runs: list[Run]) -> list[tuple[int, int]]:
    """Check the runs; return the terms seen, in order, as (token, pid)."""
    ordered = sorted(runs, key=lambda run: (run.start, run.end))
    # 1. No two processes' runs overlap.
    for index, run in enumerate(ordered):
        for earlier in ordered[:index]:
            if earlier.pid != run.pid:
                assert earlier.end <= run.start, f"runs overlap: {earlier} and {run}"
    # 2. Tokens never go back, and a change of process comes with a greater token.
    seen: list[tuple[int, int]] = []
    for run in ordered:
        if not seen or seen[-1][0] != run.token:
            assert not seen or run.token > seen[-1][0], f"token went back: {seen[-1]} then {run}"
            seen.append((run.token, run.pid))
        assert seen[-1][1] == run.pid, f"token {run.token} used by two processes: {run}"
    return seen
