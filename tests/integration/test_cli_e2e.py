"""`leader-election status` and `run` as real subprocesses against the embedded API server."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from cli.process import Cli, cli_env, run_cli

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
