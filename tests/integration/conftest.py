"""Fixtures for elections against the embedded Lease API server, through the real client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leader_election import LeaderElectionModule
from leader_election.testing import LeaseAPIServer, wait_for
from leader_election.testing.candidate import read_events

# Fast timings for tests: renew every 200 ms, step down 600 ms after the last renewal was sent,
# others wait 1 s (the Lease stores whole seconds) after they last saw it change.
FAST = {"renewal_interval": 200, "lease_duration": 1000}


@pytest.fixture
def server() -> Iterator[LeaseAPIServer]:
    with LeaseAPIServer() as api_server:
        yield api_server


Factory = Callable[..., LeaderElectionModule]


@pytest.fixture
def candidate(server: LeaseAPIServer) -> Iterator[Factory]:
    """Make a module for the test's Lease, each with its own user; all stopped at teardown."""
    made: list[LeaderElectionModule] = []

    def make(name: str | None = None, **options: Any) -> LeaderElectionModule:
        identity = name or f"candidate-{len(made)}"
        settings: dict[str, Any] = {
            "lease_name": "test-lease",
            "identity": identity,
            "handle_signals": False,
            "api_client": server.api_client(user=identity),
            **FAST,
        }
        settings.update(options)
        module = LeaderElectionModule.for_root(**settings)
        made.append(module)
        return module

    yield make
    for module in made:
        module.stop()


class LeadershipSampler:
    """Samples ``is_leader`` of every module every millisecond; records overlaps.

    Two modules answering true within one round is a violation: a rule-abiding takeover can
    only happen seconds after the previous leader's deadline, never within microseconds.
    """

    def __init__(self, modules: list[LeaderElectionModule]) -> None:
        self.modules = modules
        self.overlaps: list[tuple[float, list[str]]] = []
        self.leaders_seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-leadership-sampler")

    def __enter__(self) -> LeadershipSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            leading = [m.identity for m in self.modules if m.is_leader]
            self.leaders_seen.update(leading)
            if len(leading) > 1:
                self.overlaps.append((now, leading))
            self._stop.wait(0.001)


def current_leaders(modules: list[LeaderElectionModule]) -> list[LeaderElectionModule]:
    return [m for m in modules if m.is_leader]


def one_leader(modules: list[LeaderElectionModule]) -> LeaderElectionModule | None:
    leaders = current_leaders(modules)
    return leaders[0] if len(leaders) == 1 else None


class CandidateProcess:
    """A candidate process printing JSON event lines, read on a thread."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.stderr = ""
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, name="test-candidate-reader")
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        read_events(self.proc.stdout, self._append)

    def _append(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)

    def seen(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["event"] == kind]

    @property
    def identity(self) -> str | None:
        ready = self.seen("ready")
        return ready[0]["identity"] if ready else None

    def is_leading(self) -> bool:
        with self._lock:
            kinds = [e["event"] for e in self.events if e["event"] in ("elected", "lost")]
        return bool(kinds) and kinds[-1] == "elected"

    def kill(self, sig: int = signal.SIGKILL) -> float:
        """Send ``sig``; return the monotonic time it was sent."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        return sent

    def close(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout)
        self._reader.join(timeout)
        if self.proc.stderr is not None:
            self.stderr = self.proc.stderr.read()
            self.proc.stderr.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code


@pytest.fixture
def spawn(server: LeaseAPIServer, tmp_path: Path) -> Iterator[Callable[..., CandidateProcess]]:
    """Start candidate processes (each its own user); all reaped at teardown."""
    started: list[CandidateProcess] = []

    def start(*extra: str, user: str | None = None, lease: str = "test-lease") -> CandidateProcess:
        name = user or f"process-{len(started)}"
        kubeconfig = server.write_kubeconfig(tmp_path / f"{name}.kubeconfig", user=name)
        args = [
            "--kubeconfig",
            str(kubeconfig),
            "--lease",
            lease,
            "--renewal-interval",
            "200",
            "--lease-duration",
            "1000",
            *extra,
        ]
        process = CandidateProcess(
            [sys.executable, "-m", "leader_election.testing.candidate", *args]
        )
        started.append(process)
        wait_for(
            lambda: process.identity or process.proc.poll() is not None,
            30,
            what=f"candidate {name} to report ready",
        )
        assert process.proc.poll() is None, "candidate exited early"
        return process

    try:
        yield start
    finally:
        for process in started:
            process.close()
