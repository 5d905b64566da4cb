"""Process hooks for real: ``os.fork()`` of a leading module, a child forked without any
Python hook (as uWSGI forks by default), deferred starts in forked workers, and SIGTERM with
every kind of previous handler."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leader_election import LeaderElectionModule, LeaderLostEvent, LostReason, leader_lost
from leader_election import process as process_hooks
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import APPS, LEASE, base_env, fork_child, holder

pytestmark = pytest.mark.processes

FAST = {"renewal_interval": 200, "lease_duration": 1000}


@pytest.fixture
def election(server: LeaseAPIServer) -> Iterator[LeaderElectionModule]:
    module = LeaderElectionModule.for_root(
        lease_name=LEASE, handle_signals=False, api_client=server.api_client(), **FAST
    )
    try:
        yield module
    finally:
        module.stop()
        process_hooks.unregister(module)


def test_a_forked_child_competes_as_a_new_candidate_and_the_parent_keeps_leading(
    server: LeaseAPIServer, election: LeaderElectionModule
) -> None:
    lost: list[LeaderLostEvent] = []

    def record(_sender: Any, event: LeaderLostEvent) -> None:
        lost.append(event)

    # connected_to disconnects it entirely at the end, whatever the test does.
    with leader_lost.connected_to(record, sender=election):
        election.start()
        assert election.wait_for_leadership(10)
        parent = election.identity
        renewed_before = server.get_object("leases", "default", LEASE)["spec"]["renewTime"]

        def child() -> dict[str, Any]:
            samples = [election.is_leader]  # the very first look, before anything ran
            thread_names = [t.name for t in threading.enumerate()]
            # Receivers tracking leadership in memory hear that the parent's term is not theirs.
            wait_for(lambda: lost, 5, what="leader.lost in the child")
            wait_for(lambda: election.leader_identity == parent, 5, what="the child to follow")
            # Sample through more than a lease duration: never leader while the parent renews.
            until = time.monotonic() + 1.5
            while time.monotonic() < until:
                samples.append(election.is_leader)
                time.sleep(0.002)
            report = {
                "identity": election.identity,
                "state": election.state.value,
                "ever_leader": any(samples),
                "token": election.fencing_token,
                "threads": thread_names,
                "lost": [[e.identity, e.reason.value] for e in lost],
                "healthy": election.healthy(),
            }
            election.stop()
            return report

        result = fork_child(os.fork, child)
        assert result["identity"] != parent
        assert result["ever_leader"] is False
        assert result["token"] is None
        assert result["state"] == "following"
        assert result["healthy"] is True
        assert result["lost"] == [[parent, LostReason.STOPPED.value]]
        assert f"leader-election[default/{LEASE}]" in result["threads"]
        # The parent was never disturbed: it leads, got no leader.lost, and kept renewing.
        assert election.is_leader
        assert lost == []
        assert holder(server) == parent
        wait_for(
            lambda: (
                server.get_object("leases", "default", LEASE)["spec"]["renewTime"] != renewed_before
            ),
            5,
            what="the parent to keep renewing",
        )


def test_a_copy_that_no_hook_restarted_never_believes_it_leads(
    election: LeaderElectionModule,
) -> None:
    election.start()
    assert election.wait_for_leadership(10)
    # As when a server forks with fork(2) itself (uWSGI does, unless py-call-osafterfork):
    # no hook restarts the module, the child holds a copy of the parent's state and deadline.
    # Unregistering it hides it from our at-fork hook; forking with fork(2) for real (ctypes)
    # can deadlock the child on the GIL when another thread was waiting for it.
    process_hooks.unregister(election)
    try:

        def child() -> dict[str, Any]:
            return {
                "state": election.state.value,
                "leader": election.is_leader,
                "token": election.fencing_token,
            }

        copy = fork_child(os.fork, child)
    finally:
        process_hooks.register(election)
    assert copy == {"state": "leading", "leader": False, "token": None}
    assert election.is_leader


def test_a_deferred_module_starts_in_accepted_children_only(
    server: LeaseAPIServer, election: LeaderElectionModule
) -> None:
    accept = {"value": False}
    process_hooks.start_in_children(election, lambda: accept["value"])

    def child() -> dict[str, Any]:
        # The hook ran inside fork(): a module that starts here has started already.
        started = election.state.value != "stopped"
        leading = started and election.wait_for_leadership(5)
        report = {"identity": election.identity, "started": started, "leader": leading}
        report["holder"] = election.leader_identity
        election.stop()
        return report

    refused = fork_child(os.fork, child)
    assert refused["started"] is False
    accept["value"] = True
    accepted = fork_child(os.fork, child)
    assert accepted["leader"] is True
    assert accepted["holder"] == accepted["identity"]
    # ...with an identity of its own, and it released when it stopped.
    assert accepted["identity"] != election.identity
    assert holder(server) == ""
    assert election.state.value == "stopped"  # never started here


# -- signals, each in a process of its own ---------------------------------------------------
@pytest.fixture
def candidate(server: LeaseAPIServer, services: Any, tmp_path: Path) -> Callable[[str], Any]:
    def start(mode: str) -> Any:
        kubeconfig = server.write_kubeconfig(tmp_path / "candidate.kubeconfig")
        argv = [sys.executable, str(APPS / "signal_candidate.py"), str(kubeconfig), LEASE, mode]
        service = services(argv, env=base_env())
        ready = wait_for(
            lambda: (
                [line for line in service.output().splitlines() if line.startswith("ready")]
                or service.proc.poll() is not None
            ),
            30,
            what=f"the {mode} candidate to lead",
        )
        assert isinstance(ready, list), service.output()
        _, identity, handler = ready[0].split()
        if mode not in ("thread", "job-stops"):  # those exit as soon as they led
            assert holder(server) == identity
        service.identity, service.handler = identity, handler
        return service

    return start


def test_sigterm_releases_then_calls_the_previous_python_handler(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("chain")
    assert proc.handler == "_on_signal"
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert "chained state=stopped leader=False" in proc.output()
    assert holder(server) == ""


def test_sigterm_at_the_default_disposition_releases_and_still_kills(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("default")
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGTERM  # the status a supervisor expects
    assert holder(server) == ""


def test_sigterm_on_the_event_loops_thread_drains_a_coroutine_job_then_kills(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("loop")
    assert proc.handler == "_on_signal"
    proc.signal(signal.SIGTERM)
    # Blocking the loop's thread in the handler would hold the drain up to its budget
    # (30 s by default) and leave the Lease to expire.
    assert proc.wait(10) == -signal.SIGTERM
    assert "job-end" in proc.output()
    assert holder(server) == ""


def test_an_ignored_sigterm_stays_ignored_and_the_process_keeps_leading(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("ignored")
    assert proc.handler == "SIG_IGN"
    before = server.get_object("leases", "default", LEASE)["spec"]["renewTime"]
    proc.signal(signal.SIGTERM)
    wait_for(
        lambda: server.get_object("leases", "default", LEASE)["spec"]["renewTime"] != before,
        5,
        what="a renewal after the ignored SIGTERM",
    )
    assert proc.proc.poll() is None
    assert holder(server) == proc.identity
    proc.signal(signal.SIGKILL)
    proc.wait(10)


def test_handle_signals_false_leaves_sigterm_to_the_host(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("opt-out")
    assert proc.handler == "SIG_DFL"
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGTERM
    assert holder(server) == proc.identity  # not released: left to expire


def test_started_from_another_thread_no_handler_and_the_exit_hook_releases(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("thread")
    assert proc.handler == "SIG_DFL"
    assert proc.wait(10) == 0
    assert holder(server) == ""


def test_a_stop_deferred_by_a_job_still_releases_when_the_process_exits_at_once(
    server: LeaseAPIServer, candidate: Callable[[str], Any]
) -> None:
    proc = candidate("job-stops")
    assert proc.wait(10) == 0
    assert holder(server) == ""


def test_a_deferred_module_stopped_before_the_fork_does_not_start_in_children(
    election: LeaderElectionModule,
) -> None:
    process_hooks.start_in_children(election, lambda: True)
    election.stop()

    def child() -> dict[str, Any]:
        return {"state": election.state.value}

    assert fork_child(os.fork, child) == {"state": "stopped"}
