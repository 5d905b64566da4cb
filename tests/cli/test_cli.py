"""The `leader-election` command line without a cluster: help texts, arguments, exit codes,
and `run` in standalone mode (real subprocesses: signals, process groups, exit statuses).

With the embedded API server: tests/integration/test_cli_e2e.py.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
from pathlib import Path

import pytest

from cli.process import Cli, alive, cli_env, run_cli
from leader_election import cli
from leader_election.testing import wait_for

PY = sys.executable


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", ["status", "run"])
def test_every_option_of_every_subcommand_has_help(name: str) -> None:
    parser = subcommands()[name]
    assert parser.description
    assert parser.epilog and "exit status" in parser.epilog
    for action in parser._actions:
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("name", ["status", "run"])
def test_help_prints_and_exits_0(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([name, "--help"])
    assert exited.value.code == 0
    assert "--lease NAME" in capsys.readouterr().out


def test_no_subcommand_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "status" in capsys.readouterr().err


def test_every_option_of_a_documented_subcommand_is_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    documented = set(re.findall(r"^## `leader-election (\w+)`", text, re.MULTILINE))
    assert {"status", "run"} <= documented
    for name, parser in subcommands().items():
        if name not in documented:
            continue
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in text, f"docs/cli.md lacks {name} {option}"


def test_status_without_a_cluster_exits_2(tmp_path: Path) -> None:
    result = run_cli(["status", "--lease", "x"], cli_env(tmp_path))
    assert result.returncode == 2
    assert "no Kubernetes cluster found" in result.errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--lease", "x"], "no command given"),
        (["run", "--lease", "Bad_Name", "--", "true"], "lease_name='Bad_Name'"),
        (["run", "--lease", "x", "--renewal-interval", "10", "--", "true"], "did you mean"),
        (["run", "--lease", "x", "--timeout", "soon", "--", "true"], "--timeout"),
        (["status", "--lease", "x", "-o", "yaml"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli(args, cli_env(tmp_path))
    assert result.returncode == 2
    assert message in result.errors


def test_run_standalone_runs_the_command_and_exits_with_its_status(tmp_path: Path) -> None:
    script = (
        "import os, sys; "
        "print(os.environ['LEADER_ELECTION_LEASE'], os.environ['LEADER_ELECTION_FENCING_TOKEN']); "
        "sys.exit(3)"
    )
    result = run_cli(["run", "--lease", "job", "--", PY, "-c", script], cli_env(tmp_path))
    assert result.returncode == 3
    assert result.output.split() == ["default/job", "0"]
    assert "no Kubernetes cluster found" in result.errors  # standalone mode says so


@pytest.mark.parametrize(("command", "status"), [("no-such-command-anywhere", 127), (None, 126)])
def test_run_reports_a_command_that_cannot_start(
    tmp_path: Path, command: str | None, status: int
) -> None:
    if command is None:
        command = str(tmp_path / "not-executable")
        Path(command).write_text("#!/bin/sh\n")
    result = run_cli(["run", "--lease", "job", "--", command], cli_env(tmp_path))
    assert result.returncode == status


def test_sigterm_is_forwarded_to_the_command(tmp_path: Path) -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('got TERM', flush=True), sys.exit(7)))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    run = Cli(["run", "--lease", "job", "--", PY, "-c", script], cli_env(tmp_path))
    try:
        run.wait_for_line("ready", stream="stdout")
        run.proc.send_signal(signal.SIGTERM)
        assert run.finish() == 7
    finally:
        run.kill()
    assert "got TERM" in run.output


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: print('ignoring TERM', flush=True))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    args = ["run", "--lease", "job", "--grace-period", "0.5", "--", PY, "-c", script]
    run = Cli(args, cli_env(tmp_path))
    try:
        run.wait_for_line("ready", stream="stdout")
        run.proc.send_signal(signal.SIGTERM)
        assert run.finish() == 128 + signal.SIGKILL
    finally:
        run.kill()
    assert "ignoring TERM" in run.output
    assert "grace period of 0.5 s over: sending SIGKILL" in run.errors


def test_what_the_command_leaves_running_is_killed_before_the_lease_is_released(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "background.pid"
    script = f"sleep 60 & echo $! > {pid_file}; exit 0"
    result = run_cli(["run", "--lease", "job", "--", "sh", "-c", script], cli_env(tmp_path))
    assert result.returncode == 0
    pid = int(pid_file.read_text())
    wait_for(lambda: not alive(pid), timeout=5, what=f"the background process {pid} to die")


def test_run_with_require_cluster_and_no_cluster_exits_2_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = ["run", "--require-cluster", "--lease", "x", "--", "touch", str(marker)]
    result = run_cli(command, cli_env(tmp_path))
    assert result.returncode == 2
    assert "standalone=False" in result.errors
    assert not marker.exists()


def test_run_with_a_mistyped_kubeconfig_exits_2_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    env = cli_env(tmp_path, kubeconfig=str(tmp_path / "kubeconfg"))
    result = run_cli(["run", "--lease", "x", "--", "touch", str(marker)], env)
    assert result.returncode == 2
    assert "KUBECONFIG=" in result.errors and "kubeconfg" in result.errors
    assert not marker.exists()
