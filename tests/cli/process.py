"""Driving `leader-election` as a real subprocess: start it, read its output with a deadline."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from leader_election.testing import WaitTimeout


def cli_env(tmp_path: Path, kubeconfig: str | None = None) -> dict[str, str]:
    """The environment of a `leader-election` process: no cluster unless `kubeconfig`."""
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    env["HOME"] = str(tmp_path)
    env.pop("KUBECONFIG", None)
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Lines:
    """Every line of a pipe, read by a thread so that waiting has a deadline."""

    def __init__(self, pipe: IO[str], name: str) -> None:
        self.lines: list[str] = []
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._read, args=(pipe,), name=name, daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float) -> str:
        for line in self.lines:
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                raise WaitTimeout(f"no line with {text!r} in {timeout:g} s: {self.lines}") from None
            if line is None:
                self._queue.put(None)
                raise WaitTimeout(f"the output ended before a line with {text!r}: {self.lines}")
            self.lines.append(line)
            if text in line:
                return line

    def drain(self, timeout: float) -> None:
        self._thread.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self.lines.append(line)


class Cli:
    """One `python -m leader_election ...` process with piped, line-readable output."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leader_election", *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._out = _Lines(self.proc.stdout, f"cli-stdout-{self.proc.pid}")
        self._err = _Lines(self.proc.stderr, f"cli-stderr-{self.proc.pid}")

    def wait_for_line(self, text: str, *, stream: str = "stderr", timeout: float = 15.0) -> str:
        """Read lines until one contains `text`; fail naming it after `timeout` seconds."""
        return (self._err if stream == "stderr" else self._out).wait_for(text, timeout)

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the exit status and the rest of the output."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._close()
        return self.proc.returncode

    def kill(self) -> None:
        """Kill the process if it still runs, and release its pipes (safe to call twice)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()

    def _close(self) -> None:
        self._out.drain(5)
        self._err.drain(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def output(self) -> str:
        return "".join(self._out.lines)

    @property
    def errors(self) -> str:
        return "".join(self._err.lines)


def run_cli(args: Sequence[str], env: Mapping[str, str], timeout: float = 30.0) -> Cli:
    cli = Cli(args, env)
    cli.finish(timeout)
    return cli


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """The running (not zombie) processes of process group `pgid`, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members
