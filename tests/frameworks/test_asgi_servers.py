"""ASGI servers for real: uvicorn ``--workers 2`` and gunicorn's uvicorn workers (with and
without ``--preload``) serving the FastAPI test app (``apps/fastapi_app.py``), each worker a
process of its own, against the embedded Lease API server.

Two instances of a server share one Lease. In each: one worker's coroutine job runs at a time
(its samples never overlap another's), the workers never share an identity (even when the
master created the module before forking), and the health endpoint answers over HTTP for the
worker that receives the request. SIGTERM to the leading instance drains its job (which needs
200 ms after its term ended) and only then releases the Lease; the other instance's job starts
within one round trip of the release.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leader_election.testing import LeaseAPIServer, wait_for
from leader_election.testing.resources import resource_by_name
from leader_election.testing.store import Change

from .conftest import LEASE, Service, base_env, candidates, free_port, get_json, holder

pytestmark = [pytest.mark.processes, pytest.mark.slow]

# Renew every 200 ms; others wait 1 s after they last saw the Lease change.
FAST = {"renewal_interval": 200, "lease_duration": 1000}
FINISH_AFTER_TERM = 0.2  # apps/fastapi_app.py: what the job needs once its term ended
HANDOVER_LIMIT = 1.0  # seconds from the release to the next job's first sample

SERVERS: dict[str, list[str]] = {
    "uvicorn-workers": ["-m", "uvicorn", "--workers", "2", "--lifespan", "on"],
    "gunicorn-uvicorn-worker": ["-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker"],
    "gunicorn-uvicorn-worker-preload": [
        "-m",
        "gunicorn",
        "-k",
        "uvicorn_worker.UvicornWorker",
        "--preload",
    ],
}


@dataclass(frozen=True)
class Sample:
    """One line of the samples file: the job of ``pid`` was at ``phase`` at ``at``."""

    at: float  # time.monotonic() of the worker: the system-wide monotonic clock
    pid: int
    token: int
    phase: str  # work, finishing, done


def samples(path: Path) -> list[Sample]:
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:  # a line being appended right now is read again next time
            found.append(Sample(float(parts[0]), int(parts[1]), int(parts[2]), parts[3]))
    return found


def terms(found: list[Sample]) -> list[tuple[float, float, int, int]]:
    """(first, last, pid, token) of each job run, in the order they started."""
    spans: dict[tuple[int, int], list[float]] = {}
    for s in found:
        span = spans.setdefault((s.pid, s.token), [s.at, s.at])
        span[0], span[1] = min(span[0], s.at), max(span[1], s.at)
    return sorted((first, last, pid, token) for (pid, token), (first, last) in spans.items())


def assert_one_job_at_a_time(found: list[Sample]) -> None:
    runs = terms(found)
    for before, after in itertools.pairwise(runs):
        assert after[0] > before[1], f"jobs overlapped: {before} and {after}"


@pytest.fixture
def holders(server: LeaseAPIServer) -> Iterator[Callable[[], list[str]]]:
    """``holders()``: every holderIdentity the Lease had so far, in order (repeats folded).

    A watch on the server's store, opened before anyone competes, records every change.
    """
    watcher, _ = server.store.watch(
        resource_by_name("leases"), namespace="default", name=LEASE, since=None
    )
    seen: list[str] = []

    def read() -> list[str]:
        for change in watcher.get(0):
            if isinstance(change, Change):
                value = str(change.record.full()["spec"].get("holderIdentity") or "")
                if not seen or seen[-1] != value:
                    seen.append(value)
        assert not watcher.overflowed
        return list(seen)

    try:
        yield read
    finally:
        watcher.close()


def last_write(server: LeaseAPIServer, user: str) -> Any:
    """The request log entry of ``user``'s last successful write of the Lease."""
    writes = [
        e
        for e in server.requests.entries(user=user, resource="leases", code=200)
        if e.verb in ("update", "patch")
    ]
    assert writes, f"{user} never wrote the Lease"
    return writes[-1]


def health_by_worker(port: int, count: int) -> dict[str, dict[str, Any]]:
    """Ask the health endpoint over HTTP until ``count`` workers answered: identity -> body.

    The bare path answers with a redirect to the mount's trailing slash, which urllib
    follows (as a kubelet probe does).
    """
    seen: dict[str, dict[str, Any]] = {}

    def all_answered() -> bool:
        try:
            status, body = get_json(f"http://127.0.0.1:{port}/healthz/leader-election", 2.0)
        except OSError:
            return False
        if status == 200:
            seen[body["identity"]] = body
        return len(seen) >= count

    wait_for(all_answered, 30, what=f"{count} workers answering the health endpoint")
    return seen


@pytest.mark.parametrize("kind", list(SERVERS))
def test_one_worker_runs_the_job_and_sigterm_drains_releases_and_hands_over(
    server: LeaseAPIServer,
    services: Any,
    holders: Callable[[], list[str]],
    tmp_path: Path,
    kind: str,
) -> None:
    sample_file = tmp_path / "samples.txt"

    def start(user: str) -> tuple[Service, int]:
        kubeconfig = server.write_kubeconfig(tmp_path / f"{user}.kubeconfig", user=user)
        options = {"lease_name": LEASE, "kubeconfig": kubeconfig, **FAST}
        port = free_port()
        argv = [sys.executable, *SERVERS[kind]]
        if kind.startswith("gunicorn"):
            argv += ["--workers", "2", "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "10"]
        else:
            argv += ["--host", "127.0.0.1", "--port", str(port)]
        env = base_env(
            TEST_LEADER_ELECTION=json.dumps(options),
            TEST_SAMPLES_FILE=str(sample_file),
            TEST_CANDIDATES_FILE=str(tmp_path / "candidates.txt"),
        )
        return services([*argv, "fastapi_app:app"], env=env), port

    # 1. The first instance: two workers compete, never the master, with identities of
    # their own; one worker's job runs.
    first, first_port = start("first")
    wait_for(lambda: len(candidates(tmp_path)) >= 2, 30, what="both workers competing")
    first_workers = candidates(tmp_path)
    assert first.pid not in first_workers, first.output()
    assert len(set(first_workers.values())) == 2, f"workers share an identity: {first_workers}"
    wait_for(lambda: samples(sample_file), 15, what="the leader's job to run")
    leader_pid = samples(sample_file)[0].pid
    assert leader_pid in first_workers

    # 2. Over HTTP, each worker tells what it believes: exactly one leads, the Lease's holder.
    answers = health_by_worker(first_port, 2)
    assert set(answers) == set(first_workers.values())
    leaders = [identity for identity, body in answers.items() if body["leader"]]
    assert leaders == [first_workers[leader_pid]], answers
    assert holder(server) == first_workers[leader_pid]
    assert all(body["healthy"] and body["holder"] == leaders[0] for body in answers.values())

    # 3. A second instance joins: four candidates, four identities, still one job.
    second, _ = start("second")
    wait_for(lambda: len(candidates(tmp_path)) >= 4, 30, what="the second instance competing")
    second_workers = {p: i for p, i in candidates(tmp_path).items() if p not in first_workers}
    assert len(set(candidates(tmp_path).values())) == 4, candidates(tmp_path)
    wait_for(lambda: len(samples(sample_file)) >= 10, 10, what="the job to work a while")
    assert {s.pid for s in samples(sample_file)} == {leader_pid}

    # 4. SIGTERM to the first instance: its job finishes (200 ms after its term ended), then
    # the Lease is released; the second instance's job starts within one round trip.
    first.signal(signal.SIGTERM)
    assert first.wait(20) == 0, first.output()
    wait_for(
        lambda: any(s.pid in second_workers for s in samples(sample_file)),
        10,
        what="the second instance's job to start",
    )
    found = samples(sample_file)
    assert_one_job_at_a_time(found)
    old = [s for s in found if s.pid == leader_pid]
    new = [s for s in found if s.pid in second_workers]
    assert {s.pid for s in found} == {leader_pid, new[0].pid}, "a third job ran"
    assert old[-1].phase == "done", "the job was cut short"
    finishing = [s.at for s in old if s.phase != "work"]
    assert finishing[-1] - finishing[0] >= FINISH_AFTER_TERM - 0.03

    release = last_write(server, "first")
    assert holders()[-3:] == [first_workers[leader_pid], "", second_workers[new[0].pid]]
    assert old[-1].at < release.monotonic, "released before the job returned"
    handover = new[0].at - release.monotonic
    assert 0 < handover < HANDOVER_LIMIT, f"handover took {handover:.3f} s"
    assert new[0].token == old[0].token + 1

    # 5. The second instance stops the same way: drained, released, nothing left behind.
    second.signal(signal.SIGTERM)
    assert second.wait(20) == 0, second.output()
    assert holder(server) == ""
    assert samples(sample_file)[-1].phase == "done"
