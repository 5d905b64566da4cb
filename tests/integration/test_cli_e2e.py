"""`leader-election status` and `run` as real subprocesses against the embedded API server."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from cli.process import Cli, alive, cli_env, group_members, run_cli

from leader_election import LeaderElectionModule
from leader_election.lock import LeaseLock
from leader_election.record import LeaseRecord
from leader_election.testing import LeaseAPIServer, wait_for
from leader_election.testing.auth import service_account_groups, service_account_username
from leader_election.transport import Transport

PY = sys.executable
RBAC = Path(__file__).resolve().parents[2] / "rbac"
SERVICE_ACCOUNT = service_account_username("default", "leader-election")
FAST = ["--renewal-interval", "200"]  # lease 1 s, renew deadline 0.6 s


@pytest.fixture
def holder(lease_api_server: LeaseAPIServer) -> Iterator[LeaderElectionModule]:
    """Another candidate, in this process, leading the Lease `job`."""
    module = LeaderElectionModule.for_root(
        lease_name="job",
        renewal_interval=200,
        identity="holder",
        handle_signals=False,
        api_client=lease_api_server.api_client(),
    )
    module.start()
    try:
        wait_for(lambda: module.is_leader, what="the holder to lead")
        yield module
    finally:
        module.stop()


def env_for(server: LeaseAPIServer, tmp_path: Path, user: str | None = None) -> dict[str, str]:
    # KUBECONFIG is a list split on ":", which service account names contain.
    file_name = (user or "admin").replace(":", "-") + ".kubeconfig"
    kubeconfig = server.write_kubeconfig(tmp_path / file_name, user=user)
    return cli_env(tmp_path, kubeconfig)


def holder_of(server: LeaseAPIServer, name: str = "job") -> str | None:
    lease = server.get_object("leases", "default", name)
    return None if lease is None else lease["spec"].get("holderIdentity")


def test_status_shows_the_holder_as_text_and_json(
    lease_api_server: LeaseAPIServer, holder: LeaderElectionModule, tmp_path: Path
) -> None:
    env = env_for(lease_api_server, tmp_path)
    text = run_cli(["status", "--lease", "job"], env)
    assert text.returncode == 0, text.errors
    assert "Holder:         holder" in text.output
    assert "held, expires in" in text.output
    result = run_cli(["status", "--lease", "job", "-n", "default", "-o", "json"], env)
    assert result.returncode == 0, result.errors
    status = json.loads(result.output)
    assert status["holder"] == "holder"
    assert status["held"] is True
    assert status["expired"] is False
    assert status["lease_duration_seconds"] == 1
    assert status["lease_transitions"] == holder.fencing_token
    assert 0 <= status["renewed_ago_seconds"] < 1


def test_status_of_a_released_lease_says_free(
    lease_api_server: LeaseAPIServer, holder: LeaderElectionModule, tmp_path: Path
) -> None:
    holder.stop()
    result = run_cli(
        ["status", "--lease", "job", "-o", "json"], env_for(lease_api_server, tmp_path)
    )
    status = json.loads(result.output)
    assert status["holder"] is None
    assert status["expired"] is True


def test_status_of_a_missing_lease_exits_1(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    result = run_cli(["status", "--lease", "nothing-here"], env_for(lease_api_server, tmp_path))
    assert result.returncode == 1
    assert "Lease default/nothing-here not found" in result.errors


def test_run_waits_for_leadership_runs_the_command_and_releases(
    lease_api_server: LeaseAPIServer, holder: LeaderElectionModule, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    script = (
        f"import os, pathlib; pathlib.Path({str(marker)!r})"
        ".write_text(os.environ['LEADER_ELECTION_FENCING_TOKEN'])"
    )
    run = Cli(
        ["run", "--lease", "job", *FAST, "--", PY, "-c", script],
        env_for(lease_api_server, tmp_path),
    )
    try:
        run.wait_for_line("waiting to lead default/job")
        wait_for(
            lambda: len(lease_api_server.requests.in_flight(verb="watch", name="job")) == 2,
            what="the run process to watch the held Lease",
        )
        assert not marker.exists(), "the command ran while another candidate led"
        token = holder.fencing_token
        assert token is not None
        holder.stop()  # releases: run takes over at once
        assert run.finish() == 0, run.errors
    finally:
        run.kill()
    assert marker.read_text() == str(token + 1)
    assert holder_of(lease_api_server) == ""  # released when the command exited


def test_run_stops_the_command_when_leadership_is_lost(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: print('ignoring TERM', flush=True))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    args = ["run", "--lease", "job", *FAST, "--grace-period", "0.3", "--", PY, "-c", script]
    run = Cli(args, env_for(lease_api_server, tmp_path))
    try:
        run.wait_for_line("ready", stream="stdout")
        # Someone else takes the Lease (a person with kubectl edit, another controller).
        admin = LeaseLock(Transport(lease_api_server.api_client()), "default", "job")
        lease = admin.get(5)
        assert lease is not None
        admin.replace(lease, LeaseRecord("intruder", 60, None, None, 99), 5)
        assert run.finish() == 128 + signal.SIGKILL
    finally:
        run.kill()
    assert "ignoring TERM" in run.output
    assert "lost leadership of default/job (taken_over)" in run.errors
    assert holder_of(lease_api_server) == "intruder"  # nothing to release: it was not ours


def test_run_forwards_sigterm_and_releases(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    run = Cli(
        ["run", "--lease", "job", *FAST, "--", PY, "-c", script],
        env_for(lease_api_server, tmp_path),
    )
    try:
        run.wait_for_line("ready", stream="stdout")
        assert holder_of(lease_api_server) not in (None, "")
        run.proc.send_signal(signal.SIGTERM)
        assert run.finish() == 0
    finally:
        run.kill()
    assert holder_of(lease_api_server) == ""


def test_run_gives_up_after_its_timeout(
    lease_api_server: LeaseAPIServer, holder: LeaderElectionModule, tmp_path: Path
) -> None:
    args = ["run", "--lease", "job", *FAST, "--timeout", "0.5", "--", PY, "-c", "print('ran')"]
    result = run_cli(args, env_for(lease_api_server, tmp_path))
    assert result.returncode == 75
    assert "did not become leader of default/job within 0.5 s (held by holder)" in result.errors
    assert "ran" not in result.output


def test_a_signal_while_waiting_ends_run_without_the_command(
    lease_api_server: LeaseAPIServer, holder: LeaderElectionModule, tmp_path: Path
) -> None:
    run = Cli(
        ["run", "--lease", "job", *FAST, "--", PY, "-c", "print('ran')"],
        env_for(lease_api_server, tmp_path),
    )
    try:
        run.wait_for_line("waiting to lead")
        run.proc.send_signal(signal.SIGTERM)
        assert run.finish() == 128 + signal.SIGTERM
    finally:
        run.kill()
    assert "ran" not in run.output


def test_run_without_rbac_update_fails_naming_the_verb(
    lease_api_server_factory: Callable[..., LeaseAPIServer], tmp_path: Path
) -> None:
    role = yaml.safe_load((RBAC / "role.yaml").read_text())
    role["rules"][0]["verbs"].remove("update")
    lease_name = role["rules"][0]["resourceNames"][0]
    server = lease_api_server_factory(
        authentication=True,
        rbac=yaml.safe_dump(role) + "---\n" + (RBAC / "rolebinding.yaml").read_text(),
    )
    server.add_user(SERVICE_ACCOUNT, service_account_groups("default"))
    LeaseLock(Transport(server.api_client()), "default", lease_name).create(
        LeaseRecord(lease_duration_seconds=15), 5
    )
    args = ["run", "--lease", lease_name, *FAST, "--", PY, "-c", "print('ran')"]
    result = run_cli(args, env_for(server, tmp_path, user=SERVICE_ACCOUNT))
    assert result.returncode == 1
    assert "lack the RBAC verb 'update'" in result.errors
    assert "rbac/" in result.errors
    assert "ran" not in result.output


# CMD for the two tests below: prints its pid (its process group's id), starts a grandchild
# that ignores SIGTERM, then sleeps. With `slow_exit`, it answers SIGTERM by exiting 0.5 s later.
FAMILY = """\
import os, signal, subprocess, sys, time
slow_exit = sys.argv[1] == "slow_exit"
if slow_exit:
    signal.signal(signal.SIGTERM, lambda *a: (time.sleep(0.5), sys.exit(0)))
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
print("family", os.getpid(), child.pid, flush=True)
time.sleep(60)
"""


def start_family(server: LeaseAPIServer, tmp_path: Path, mode: str) -> tuple[Cli, int, int]:
    """`run` of FAMILY with a 4 s Lease; the run process, CMD's pid and the grandchild's."""
    args = ["run", "--lease", "job", "--renewal-interval", "2000", "--", PY, "-c", FAMILY, mode]
    run = Cli(args, env_for(server, tmp_path))
    line = run.wait_for_line("family", stream="stdout").split()
    return run, int(line[1]), int(line[2])


def test_killing_run_kills_the_command_and_its_group_before_the_lease_expires(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    run, command, grandchild = start_family(lease_api_server, tmp_path, "plain")
    try:
        holder = holder_of(lease_api_server)
        assert holder and alive(command) and alive(grandchild)
        assert len(group_members(command)) >= 2  # CMD and the grandchild (and the watchdog)
        killed = time.monotonic()
        run.proc.kill()  # no chance to clean up: SIGKILL
        # The Lease lasts 4 s after its last renewal; the group must be gone in half of it.
        wait_for(
            lambda: not group_members(command),
            timeout=2.0,
            what="CMD's process group to vanish after SIGKILL of run",
        )
        assert not alive(command) and not alive(grandchild)
        assert time.monotonic() - killed < 2.0
        assert holder_of(lease_api_server) == holder  # not released: nobody could
    finally:
        run.kill()


def test_run_releases_the_lease_only_after_the_command_and_its_group_are_gone(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    run, command, grandchild = start_family(lease_api_server, tmp_path, "slow_exit")
    # (monotonic time, processes of CMD's group seen running, holderIdentity) in a tight loop:
    # a process seen running after the holder was seen cleared ran after the release.
    seen: list[tuple[float, list[int], str | None]] = []
    stop = threading.Event()

    def observe() -> None:
        while not stop.is_set():
            members = group_members(command)
            seen.append((time.monotonic(), members, holder_of(lease_api_server)))
            stop.wait(0.002)

    observer = threading.Thread(target=observe, name="test-observer")
    observer.start()
    try:
        wait_for(lambda: seen and seen[-1][2], what="the observer to see run hold the Lease")
        run.proc.send_signal(signal.SIGTERM)  # CMD exits 0.5 s later; the grandchild ignores it
        assert run.finish() == 0, run.errors
        wait_for(lambda: seen[-1][2] == "", what="the observer to see the release")
    finally:
        stop.set()
        observer.join(5)
        run.kill()
    assert any(grandchild in members for _, members, _ in seen), "the grandchild never ran"
    released_seen = next(t for t, _, holder in seen if holder == "")
    running_after = [(t, m) for t, m, _ in seen if t > released_seen and m]
    assert not running_after, f"processes of CMD's group ran after the release: {running_after}"
    # Sharper, from the server's own log: nothing of the group was seen at or after the moment
    # the release request arrived.
    release = lease_api_server.requests.entries(verb="update", name="job")[-1]
    assert not [t for t, m, _ in seen if t >= release.monotonic and m]
    assert not alive(command) and not alive(grandchild)
