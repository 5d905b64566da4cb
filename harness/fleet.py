"""Candidate processes for the benchmarks and the chaos suite: start, watch, signal, reap.

A ``Candidate`` is one process that prints JSON event lines (``{"t": monotonic, "event": ...}``)
on stdout: ours (``leader_election.testing.candidate``), the official client's harness
(``harness.official_candidate``), or a member of a group (``harness.group_candidate``, whose
events name their Lease: pass ``lease=`` to ``leads``, ``last`` and ``Fleet.leaders``). A
reader thread collects its events; ``wait_event`` waits on them with a deadline. CPU time
and peak RSS come from ``/proc`` while the process lives.

A ``Fleet`` owns its candidates: ``close()`` (also on leaving its ``with`` block) resumes any
stopped process, sends SIGTERM, waits a bounded time, SIGKILLs what is left and reaps every
process and reader thread, so nothing outlives a run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from leader_election.testing.candidate import read_events

__all__ = [
    "REPO_ROOT",
    "Candidate",
    "Fleet",
    "Impl",
    "Timing",
    "candidate_command",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Timing:
    """Election timing shared by every implementation in a comparison (milliseconds)."""

    lease_duration: int
    renew_deadline: int
    renewal_interval: int

    def seconds(self) -> tuple[float, float, float]:
        """(lease duration, renew deadline, renewal interval) in seconds."""
        return (
            self.lease_duration / 1000,
            self.renew_deadline / 1000,
            self.renewal_interval / 1000,
        )


Impl = str
"""``"ours"`` or ``"official"``."""

MODULES = {
    "ours": "harness.ours_candidate",
    "official": "harness.official_candidate",
}
GROUP_MODULE = "harness.group_candidate"
"""Our ``LeaderElectionGroup`` as a candidate (``candidate_command(..., shards=K)``)."""


def candidate_command(
    impl: Impl,
    *,
    kubeconfig: str,
    lease: str,
    identity: str,
    timing: Timing,
    action_log: str | None = None,
    wall_clock_skew: float = 0.0,
    start_file: str | None = None,
    work_log: str | None = None,
    work_stop: tuple[float, float] = (0.0, 0.5),
    work_seed: int | None = None,
    shards: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The argv of one candidate of ``impl``; both harnesses take the same options.

    ``work_log``: run the leader-only work job (``harness.work``), logging there; it needs
    ``work_stop`` = (min, max) seconds to return after its stop event. ``shards``: a member of
    a group of that many Leases, ``<lease>-0`` ... (``harness.group_candidate``; ours only).
    """
    if shards is not None and impl != "ours":
        raise ValueError(f"impl={impl!r} with shards={shards}: only ours has groups")
    where = ["--lease", lease] if shards is None else ["--lease-prefix", lease]
    argv = [
        sys.executable,
        "-m",
        MODULES[impl] if shards is None else GROUP_MODULE,
        "--kubeconfig",
        kubeconfig,
        *where,
        *([] if shards is None else ["--shards", str(shards)]),
        "--identity",
        identity,
        "--lease-duration",
        str(timing.lease_duration),
        "--renew-deadline",
        str(timing.renew_deadline),
        "--renewal-interval",
        str(timing.renewal_interval),
    ]
    if action_log:
        argv += ["--action-log", action_log]
    if wall_clock_skew:
        argv += ["--wall-clock-skew", str(wall_clock_skew)]
    if start_file is not None:
        argv += ["--start-file", start_file]
    if work_log is not None:
        argv += ["--work-log", work_log]
        argv += ["--work-stop-min", str(work_stop[0]), "--work-stop-max", str(work_stop[1])]
        if work_seed is not None:
            argv += ["--work-seed", str(work_seed)]
    return argv + list(extra)


@dataclass
class Candidate:
    """One candidate process and the events it printed."""

    name: str
    identity: str
    impl: Impl
    argv: list[str]
    stderr_path: Path
    action_log: str | None = None
    work_log: str | None = None
    process: subprocess.Popen[str] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    started_at: float = 0.0
    killed: bool = False  # SIGKILLed by us: it owes no lost/exit event
    killed_at: float | None = None
    terminated_at: float | None = None  # when we sent SIGTERM
    paused: bool = False
    returncode: int | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _reader: threading.Thread | None = None
    _stderr: TextIO | None = None
    _events_file: TextIO | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, env: dict[str, str]) -> Candidate:
        self._stderr = open(self.stderr_path, "a", encoding="utf-8")  # noqa: SIM115
        # Every event line is also kept on disk, for the post-mortem of a failed run.
        events_path = self.stderr_path.with_suffix(".events")
        self._events_file = open(events_path, "a", encoding="utf-8")  # noqa: SIM115
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=REPO_ROOT,
        )
        self._reader = threading.Thread(
            target=self._read, name=f"fleet-reader-{self.name}", daemon=True
        )
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        try:
            read_events(self.process.stdout, self._append, copy_to=self._events_file)
        finally:
            with self._cond:
                self._cond.notify_all()

    def _append(self, event: dict[str, Any]) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, signum: int) -> None:
        """Signal the process (ignored when it has already exited)."""
        if not self.alive:
            return
        if signum == signal.SIGKILL:
            self.killed = True
            self.killed_at = time.monotonic()
        elif signum == signal.SIGTERM and self.terminated_at is None:
            self.terminated_at = time.monotonic()
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            return
        if signum == signal.SIGSTOP:
            self.paused = True
        elif signum == signal.SIGCONT:
            self.paused = False

    def wait_exit(self, timeout: float) -> int | None:
        """Reap the process; its exit status, or None if it is still running."""
        if self.process is None:
            return None
        try:
            self.returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def finish(self, grace: float) -> None:
        """SIGCONT, SIGTERM, wait ``grace`` s, SIGKILL; reap; join the reader; close files."""
        try:
            if self.alive:
                if self.paused:
                    self.send(signal.SIGCONT)
                # One SIGTERM only: a second one landing during interpreter shutdown (when
                # CPython has restored the default handlers) would kill a clean exit.
                if self.terminated_at is None:
                    self.send(signal.SIGTERM)
                if self.wait_exit(grace) is None:
                    self.send(signal.SIGKILL)
            if self.process is not None:
                self.wait_exit(10.0)
        finally:
            if self._reader is not None:
                self._reader.join(10.0)
            if self.process is not None and self.process.stdout is not None:
                self.process.stdout.close()
            for handle in (self._stderr, self._events_file):
                if handle is not None:
                    handle.close()
            self._stderr = self._events_file = None

    # -- events ----------------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self.events)

    def wait_event(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float,
        *,
        start: int = 0,
    ) -> dict[str, Any] | None:
        """The first event from index ``start`` on that satisfies ``predicate``; None on
        timeout or when the process ended without printing one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[start:]:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                reader_done = self._reader is not None and not self._reader.is_alive()
                if remaining <= 0 or reader_done:
                    return None
                self._cond.wait(min(remaining, 0.1))

    def last(self, kind: str, *, lease: str | None = None) -> dict[str, Any] | None:
        """Its last ``kind`` event (of ``lease``, for a group member)."""
        with self._cond:
            found = [
                event
                for event in self.events
                if event.get("event") == kind and (lease is None or event.get("lease") == lease)
            ]
        return found[-1] if found else None

    @property
    def leading(self) -> bool:
        """Its last elected event has no lost or exit after it (its own view, as printed)."""
        return self.leads()

    def leads(self, lease: str | None = None) -> bool:
        """``leading``, of ``lease`` for a group member (whose events name their Lease)."""
        with self._cond:
            for event in reversed(self.events):
                kind = event.get("event")
                if kind == "exit":
                    return False
                if lease is not None and event.get("lease") != lease:
                    continue
                if kind == "lost":
                    return False
                if kind == "elected":
                    return True
        return False

    # -- resources (/proc, while it lives) -------------------------------------------------
    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds consumed so far (``/proc/PID/stat``)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()
        # Fields 14 and 15 of proc(5) (utime, stime) are 12 and 13 after the command name.
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def peak_rss_mib(self) -> float | None:
        """Peak resident set size (``VmHWM``) in MiB."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None


class Fleet:
    """Candidate processes sharing a work directory; reaps them all on ``close()``."""

    def __init__(self, workdir: str | os.PathLike[str], *, grace: float = 10.0) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.grace = grace
        self.candidates: list[Candidate] = []
        self._env = dict(os.environ)
        path = self._env.get("PYTHONPATH")
        self._env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
        self._env["PYTHONUNBUFFERED"] = "1"

    def spawn(
        self,
        name: str,
        identity: str,
        impl: Impl,
        argv: list[str],
        *,
        action_log: str | None = None,
        work_log: str | None = None,
    ) -> Candidate:
        candidate = Candidate(
            name=name,
            identity=identity,
            impl=impl,
            argv=argv,
            stderr_path=self.workdir / f"{identity}.stderr",
            action_log=action_log,
            work_log=work_log,
        )
        self.candidates.append(candidate)
        return candidate.start(self._env)

    def alive(self) -> list[Candidate]:
        return [c for c in self.candidates if c.alive]

    def leaders(self, lease: str | None = None) -> list[Candidate]:
        """Live, running candidates whose own last event says they lead (``lease``, for
        group members)."""
        return [c for c in self.candidates if c.alive and not c.paused and c.leads(lease)]

    def __iter__(self) -> Iterator[Candidate]:
        return iter(list(self.candidates))

    def close(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after the grace period) and reap it."""
        errors: list[BaseException] = []
        live = [c for c in self.candidates if c.alive]
        # A process still importing has no SIGTERM handler yet and would die by the signal:
        # let every one reach its "ready" first (bounded), so each gets a fair, clean stop.
        ready_by = time.monotonic() + self.grace
        for candidate in live:
            if candidate.paused:
                candidate.send(signal.SIGCONT)
            candidate.wait_event(
                lambda e: e.get("event") == "ready", max(ready_by - time.monotonic(), 0.0)
            )
        for candidate in live:
            if candidate.paused:
                candidate.send(signal.SIGCONT)
            candidate.send(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for candidate in self.candidates:
            try:
                candidate.finish(max(deadline - time.monotonic(), 0.1))
            except BaseException as exc:  # noqa: BLE001 - reap the others first, re-raise below
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
