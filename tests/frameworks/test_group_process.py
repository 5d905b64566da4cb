"""A group's process hooks for real, as a module's (test_process.py): ``os.fork()`` of a
leading group, a copy no hook restarted, a group configured before a fork and started after
it, SIGTERM and interpreter exit in a process of its own."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leader_election import LeaderElectionGroup, LeaderLostEvent, LostReason, leader_lost
from leader_election import process as process_hooks
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import APPS, base_env, fork_child, holder

pytestmark = pytest.mark.processes

LEASES = ["grouped-0", "grouped-1", "grouped-2"]
FAST = {"renewal_interval": 200, "lease_duration": 1000}


@pytest.fixture
def group(server: LeaseAPIServer) -> Iterator[LeaderElectionGroup]:
    made = LeaderElectionGroup.for_root(
        shards=3,
        lease_prefix="grouped",
        handle_signals=False,
        api_client=server.api_client(),
        **FAST,
    )
    try:
        yield made
    finally:
        made.stop()
        process_hooks.unregister(made)


def test_a_forked_child_competes_as_a_new_member_with_a_connection_of_its_own(
    server: LeaseAPIServer, group: LeaderElectionGroup, caplog: pytest.LogCaptureFixture
) -> None:
    lost: list[LeaderLostEvent] = []

    def record(_sender: Any, event: LeaderLostEvent) -> None:
        lost.append(event)

    with leader_lost.connected_to(record, sender=group):
        group.start()
        assert group.wait_for_held(3, 15)
        parent = group.identity

        def child() -> dict[str, Any]:
            first_look = sorted(group.held)  # before anything ran: the parent's deadlines
            wait_for(lambda: len(lost) == 3, 5, what="a leader.lost per Lease in the child")
            # A new member: the balance gives it a share, which the parent hands over.
            led = group.wait_for_held(1, 10)
            wait_for(lambda: group.held == group.assigned, 10, what="the child's whole share")
            report = {
                "identity": group.identity,
                "heartbeat": group.heartbeat_lease_name,
                "first_look": first_look,
                "led": led,
                "held": sorted(group.held),
                "members": sorted(group.members),
                "lost": sorted([e.lease_name, e.identity, e.reason.value] for e in lost),
                "threads": [t.name for t in threading.enumerate()],
            }
            group.stop()
            return report

        result = fork_child(os.fork, child)
        assert result["identity"] != parent
        assert result["first_look"] == []
        assert result["lost"] == [[name, parent, LostReason.STOPPED.value] for name in LEASES]
        assert result["led"] is True
        assert result["members"] == sorted([parent, result["identity"]])
        assert any(name.startswith("leader-election[default/group:") for name in result["threads"])
        # The parent handed the child its share (drain, then release), and took it back once
        # the child stopped; its own requests never failed (no pool shared with the child).
        assert [e.reason for e in lost] == [LostReason.RESIGNED] * len(result["held"])
        assert group.wait_for_held(3, 10)
        assert "failed" not in caplog.text, caplog.text
        assert holder(server, result["heartbeat"]) == ""


def test_a_copy_that_no_hook_restarted_never_believes_it_leads(
    group: LeaderElectionGroup,
) -> None:
    group.start()
    assert group.wait_for_held(3, 15)
    process_hooks.unregister(group)  # as a fork(2) that runs no Python hook
    try:

        def child() -> dict[str, Any]:
            return {
                "held": sorted(group.held),
                "leader": group.is_leader(LEASES[0]),
                "token": group.fencing_token(LEASES[0]),
                "state": group.state(LEASES[0]).value,
            }

        copy = fork_child(os.fork, child)
    finally:
        process_hooks.register(group)
    assert copy == {"held": [], "leader": False, "token": None, "state": "leading"}
    assert group.held == frozenset(LEASES)


def test_a_group_configured_before_a_fork_and_started_after_it_has_its_own_identity(
    server: LeaseAPIServer, group: LeaderElectionGroup
) -> None:
    configured = group.identity

    def child() -> dict[str, Any]:
        group.start()
        led = group.wait_for_held(3, 15)
        report = {"identity": group.identity, "led": led}
        group.stop()
        return report

    result = fork_child(os.fork, child)
    assert result["led"] is True
    assert result["identity"] != configured
    assert all(holder(server, name) == "" for name in LEASES)  # released at the child's stop


@pytest.fixture
def candidate(server: LeaseAPIServer, services: Any, tmp_path: Path) -> Callable[[str], Any]:
    def start(mode: str) -> Any:
        kubeconfig = server.write_kubeconfig(tmp_path / "group.kubeconfig")
        argv = [sys.executable, str(APPS / "group_candidate.py"), str(kubeconfig), mode]
        service = services(argv, env=base_env())
        ready = wait_for(
            lambda: (
                [line for line in service.output().splitlines() if line.startswith("ready")]
                or service.proc.poll() is not None
            ),
            30,
            what=f"the {mode} group to lead every Lease",
        )
        assert isinstance(ready, list), service.output()
        service.identity = ready[0].split()[1]
        if mode != "exit":  # that one exits as soon as it led
            assert all(holder(server, name) == service.identity for name in LEASES)
        return service

    return start


def _work_ends(output: str) -> dict[str, str]:
    """``work-end LEASE HOLDER`` lines: the holder each job saw when it returned."""
    return {
        parts[1]: parts[2]
        for parts in (line.split() for line in output.splitlines())
        if parts and parts[0] == "work-end"
    }


def test_sigterm_drains_and_releases_every_lease_and_still_kills(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("default")
    proc.signal(signal.SIGTERM)
    assert proc.wait(15) == -signal.SIGTERM  # the status a supervisor expects
    # Each job returned while its Lease was still this member's; released after.
    assert _work_ends(proc.output()) == dict.fromkeys(LEASES, proc.identity), proc.output()
    assert all(holder(server, name) == "" for name in LEASES)


def test_the_exit_hook_drains_and_releases_a_running_group(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("exit")
    assert proc.wait(15) == 0
    assert _work_ends(proc.output()) == dict.fromkeys(LEASES, proc.identity), proc.output()
    assert all(holder(server, name) == "" for name in LEASES)
