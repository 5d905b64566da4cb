"""APScheduler in real processes against the embedded server: only the leader's scheduler runs
its job (every 200 ms), a SIGKILLed leader is replaced after its Lease expires, a SIGTERMed
one drains the job in progress and releases, and no two processes' runs ever overlap."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import APPS, base_env
from .runs import Run, terms

pytestmark = [pytest.mark.processes, pytest.mark.slow]

LEASE_DURATION = 1.0


def read(path: Path) -> tuple[list[Run], list[tuple[float, int, int]]]:
    """(finished runs, runs started) from the file; a line still being written is skipped."""
    if not path.exists():
        return [], []
    finished: list[Run] = []
    started: list[tuple[float, int, int]] = []
    for line in path.read_text().splitlines(keepends=True):
        if not line.endswith("\n"):
            continue
        kind, *fields = line.split()
        if kind == "start":
            started.append((float(fields[0]), int(fields[1]), int(fields[2])))
        else:
            start, end, pid, token = fields
            finished.append(Run(float(start), float(end), int(pid), int(token)))
    return finished, started


def test_one_process_runs_the_jobs_through_sigkill_and_sigterm(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    runs_file = tmp_path / "runs.txt"
    kubeconfig = server.write_kubeconfig(tmp_path / "app.kubeconfig")
    argv = [sys.executable, str(APPS / "apscheduler_candidate.py"), str(kubeconfig), str(runs_file)]
    first, second = services(argv, env=base_env()), services(argv, env=base_env())
    by_pid = {first.pid: first, second.pid: second}

    # 1. One of the two runs the job; the other's scheduler stays paused.
    wait_for(lambda: len(read(runs_file)[0]) >= 5, 30, what="five runs")
    leader_pid = read(runs_file)[0][-1].pid
    assert {run.pid for run in read(runs_file)[0]} == {leader_pid}
    follower_pid = (set(by_pid) - {leader_pid}).pop()

    # 2. SIGKILL the leader: the follower takes over once the Lease expired.
    killed_at = time.monotonic()
    by_pid[leader_pid].signal(signal.SIGKILL)
    by_pid[leader_pid].wait(10)

    def started_by(pid: int) -> list[float]:
        return [start for start, who, _ in read(runs_file)[1] if who == pid]

    wait_for(lambda: started_by(follower_pid), 15, what="the follower's first run")
    takeover_after_kill = min(started_by(follower_pid)) - killed_at
    assert takeover_after_kill >= LEASE_DURATION * 0.5, takeover_after_kill

    # 3. A third process joins; SIGTERM the leader while a run is in progress: the run
    # finishes, the Lease is released, the newcomer takes over without waiting for expiry.
    third = services(argv, env=base_env())
    wait_for(lambda: "ready" in third.output(), 30, what="the third process to compete")

    def in_progress() -> tuple[float, int, int] | None:
        finished, started = read(runs_file)
        ended = {(run.start, run.pid) for run in finished}
        open_runs = [s for s in started if s[1] == follower_pid and (s[0], s[1]) not in ended]
        return open_runs[-1] if open_runs else None

    running = wait_for(in_progress, 10, what="a run of the second leader in progress")
    terminated_at = time.monotonic()
    by_pid[follower_pid].signal(signal.SIGTERM)
    assert by_pid[follower_pid].wait(15) == 0, by_pid[follower_pid].output()
    exited_at = time.monotonic()
    finished = read(runs_file)[0]
    drained = [r for r in finished if (r.start, r.pid) == (running[0], running[1])]
    assert drained, "the run in progress at SIGTERM did not finish"
    assert drained[0].end <= exited_at
    wait_for(lambda: started_by(third.pid), 15, what="the third process's first run")
    handover = min(started_by(third.pid)) - drained[0].end
    # Released, not expired: an expiry takes a whole lease duration after the last renewal.
    assert 0 <= handover < LEASE_DURATION, handover
    wait_for(lambda: len([r for r in read(runs_file)[0] if r.pid == third.pid]) >= 3, 10)

    # 4. The whole record: no overlap, one process per term, tokens strictly increasing.
    seen = terms(read(runs_file)[0])
    assert [pid for _, pid in seen] == [leader_pid, follower_pid, third.pid], seen
    print(
        f"takeover after SIGKILL {takeover_after_kill:.3f} s; SIGTERM to exit "
        f"{exited_at - terminated_at:.3f} s; drained run ended {drained[0].end - terminated_at:.3f}"
        f" s after SIGTERM; next leader's first run {handover:.3f} s after it; terms {seen}"
    )
