"""Candidates in separate processes: failover after SIGKILL, handover after SIGTERM, and the
official kubernetes.leaderelection sharing a Lease with this library."""

from __future__ import annotations

import itertools
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leader_election import LeaderElectionModule
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import CandidateProcess, LeadershipSampler

pytestmark = pytest.mark.processes

Spawn = Callable[..., CandidateProcess]


def leading(processes: list[CandidateProcess]) -> list[CandidateProcess]:
    return [p for p in processes if p.is_leading()]


def test_failover_after_the_leader_is_killed(spawn: Spawn, server: LeaseAPIServer) -> None:
    processes = [spawn() for _ in range(3)]
    leader = wait_for(lambda: leading(processes)[:1], 10, what="a leader")[0]
    others = [p for p in processes if p is not leader]
    killed_at = leader.kill(signal.SIGKILL)
    successor = wait_for(lambda: leading(others)[:1], 10, what="a new leader")[0]
    elected_at = successor.seen("elected")[-1]["t"]
    failover = elected_at - killed_at
    # Lease duration 1 s, counted from the last renewal the follower saw (<= 200 ms before the
    # kill), plus watch latency and jitter.
    assert failover < 1.0 + 0.3, f"failover took {failover:.3f} s"
    assert len(leading(others)) == 1


def test_sigterm_releases_and_hands_over_at_once(spawn: Spawn, server: LeaseAPIServer) -> None:
    processes = [spawn() for _ in range(3)]
    leader = wait_for(lambda: leading(processes)[:1], 10, what="a leader")[0]
    others = [p for p in processes if p is not leader]
    stopped_at = leader.kill(signal.SIGTERM)
    successor = wait_for(lambda: leading(others)[:1], 10, what="a new leader")[0]
    assert leader.proc.wait(10) == 0
    lost = leader.seen("lost")
    assert [e["reason"] for e in lost] == ["released"]
    handover = successor.seen("elected")[-1]["t"] - stopped_at
    assert handover < 0.5, f"handover took {handover:.3f} s"


def test_protected_actions_of_several_processes_never_interleave(
    spawn: Spawn, tmp_path: Path
) -> None:
    def log(i: int) -> str:
        return str(tmp_path / f"actions-{i}.log")

    processes = [spawn("--action-log", log(i)) for i in range(3)]
    for round_ in range(4):
        current = list(processes)
        leader = wait_for(lambda c=current: leading(c)[:1], 10, what="a leader")[0]
        leader.kill(signal.SIGKILL if round_ % 2 == 0 else signal.SIGTERM)
        leader.proc.wait(10)
        processes.remove(leader)
        processes.append(spawn("--action-log", log(3 + round_)))
    entries = []
    for path in tmp_path.glob("actions-*.log"):
        for line in path.read_text().splitlines():
            t, identity, token = line.split()
            entries.append((float(t), identity, int(token)))
    entries.sort()
    assert entries, "no protected action was logged"
    # Runs of consecutive actions by one identity: each identity has exactly one run (it led
    # once and then died), so two leaders never acted in interleaved order...
    runs = [entries[0]]
    for previous, entry in itertools.pairwise(entries):
        if entry[1] != previous[1]:
            runs.append(entry)
    identities = [identity for _, identity, _ in runs]
    assert len(identities) == len(set(identities)), f"leaders interleaved: {identities}"
    assert len(runs) >= 4
    # ...and every new leader's fencing token is larger than its predecessor's.
    tokens = [token for _, _, token in runs]
    assert tokens == sorted(set(tokens))


@pytest.fixture
def official(server: LeaseAPIServer, tmp_path: Path) -> Iterator[Callable[[str], CandidateProcess]]:
    started: list[CandidateProcess] = []
    script = Path(__file__).with_name("official_candidate.py")

    def start(identity: str) -> CandidateProcess:
        kubeconfig = server.write_kubeconfig(tmp_path / f"{identity}.kubeconfig", user=identity)
        proc = CandidateProcess(
            [sys.executable, str(script), str(kubeconfig), "test-lease", identity, "3", "2", "1"]
        )
        started.append(proc)
        wait_for(lambda: proc.seen("ready"), 30, what="the official candidate to start")
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.close(5)


def test_interop_with_the_official_python_client(
    official: Callable[[str], CandidateProcess], server: LeaseAPIServer
) -> None:
    ours = LeaderElectionModule.for_root(
        lease_name="test-lease",
        identity="ours",
        renewal_interval=1000,
        renew_deadline=2000,
        lease_duration=3000,
        handle_signals=False,
        api_client=server.api_client(user="ours"),
    )
    theirs = official("official-1")
    wait_for(theirs.is_leading, 15, what="the official client to lead")
    try:
        with LeadershipSampler([ours]) as sampler:
            ours.start()
            wait_for(lambda: ours.leader_identity == "official-1", 10, what="us to follow it")
            # It renews every second; we must never consider its Lease expired.
            started = time.monotonic()
            wait_for(lambda: time.monotonic() - started > 4, 6, what="two lease durations")
            assert sampler.leaders_seen == set()
            # Kill it: we take over when its Lease expires by our observation.
            theirs.kill(signal.SIGKILL)
            wait_for(lambda: ours.is_leader, 10, what="us to take over from the official client")
            # A new official candidate must not take the Lease while we renew it...
            second = official("official-2")
            started = time.monotonic()
            wait_for(lambda: time.monotonic() - started > 4, 6, what="two lease durations")
            assert not second.is_leading()
            assert ours.is_leader
            # ...and takes it as soon as we release it.
            ours.stop()
            wait_for(second.is_leading, 10, what="the official client to take over")
    finally:
        ours.stop()
    spec = server.get_object("leases", "default", "test-lease")
    assert spec is not None
    assert spec["spec"]["holderIdentity"] == "official-2"
