"""A leader releases its Lease however its process ends: stop(), interpreter exit, SIGTERM,
SIGINT — in a plain script that installs no signal handler of its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

pytestmark = pytest.mark.processes

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from leader_election import LeaderElectionModule

    election = LeaderElectionModule.for_root(
        lease_name="lifecycle", kubeconfig=sys.argv[1], identity="script",
        renewal_interval=200, lease_duration=1000,
    )
    election.start()
    while not election.is_leader:
        time.sleep(0.01)
    print("leading", flush=True)
    if sys.argv[2] == "exit":
        sys.stdin.readline()  # the test checks the Lease first
        sys.exit(0)           # interpreter exit: the atexit hook releases
    while True:
        time.sleep(0.1)      # until a signal arrives
    """
)


def holder(server: LeaseAPIServer) -> str | None:
    lease = server.get_object("leases", "default", "lifecycle")
    return None if lease is None else lease["spec"].get("holderIdentity")


@pytest.mark.parametrize(
    ("how", "expected_code"),
    [("exit", 0), ("SIGTERM", -signal.SIGTERM), ("SIGINT", -signal.SIGINT)],
    ids=["interpreter exit", "SIGTERM", "SIGINT"],
)
def test_a_leader_releases_when_its_process_ends(
    server: LeaseAPIServer, tmp_path: Path, how: str, expected_code: int
) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", user="script")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(kubeconfig), "exit" if how == "exit" else "wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "leading"
        assert holder(server) == "script"
        assert proc.stdin is not None
        if how == "exit":
            proc.stdin.write("\n")
            proc.stdin.flush()
        else:
            proc.send_signal(getattr(signal, how))
        code = proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        stderr = proc.stderr.read() if proc.stderr else ""
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    # SIGTERM ends the process with the default disposition after the release (what a
    # supervisor expects); SIGINT raises KeyboardInterrupt, which Python turns into death by
    # SIGINT.
    assert code == expected_code, stderr
    wait_for(lambda: holder(server) == "", 5, what="the Lease to be released")
    lease = server.get_object("leases", "default", "lifecycle")
    assert lease is not None
    assert lease["spec"]["leaseDurationSeconds"] == 1
