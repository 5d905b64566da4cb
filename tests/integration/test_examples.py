"""examples/plain.py runs against the embedded server as its docstring says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

pytestmark = pytest.mark.processes

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plain.py"


def test_plain_example_leads_works_and_releases(server: LeaseAPIServer, tmp_path: Path) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", user="example")
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "leader-only work, tick 1" in line:
                break
        proc.send_signal(signal.SIGINT)
        lines.extend(proc.stdout)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
    output = "".join(lines)
    assert "leads default/plain-example (fencing token 0)" in output
    assert "the leader is now" in output
    assert "stopped leading: released" in output
    lease = wait_for(
        lambda: server.get_object("leases", "default", "plain-example"), what="the Lease"
    )
    assert lease["spec"]["holderIdentity"] == ""
