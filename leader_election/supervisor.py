"""``leader-election run``: run a command only while this process holds the Lease.

Like ``etcdctl lock`` and ``consul lock``: wait to become leader, start the command, and keep
it running only under the Lease:

1. wait for leadership (or ``timeout``, or a SIGTERM/SIGINT/SIGHUP to us);
2. start the command in its own process group, with the Lease, our identity and the fencing
   token of the term in its environment, through ``_launcher.py``, which ties the group to
   this process: if we die, even by SIGKILL, the group is killed (``PR_SET_PDEATHSIG`` and a
   watchdog in the group), long before the Lease we stopped renewing expires;
3. if leadership is lost, send the group SIGTERM, then SIGKILL after the grace period — by
   default what is left between our renew deadline and the Lease's expiry, so the command is
   gone before any other candidate may start its own;
4. a signal sent to us is forwarded to the group, with the same SIGKILL deadline;
5. when the command exits, kill what it left behind in its group (nothing started under the
   Lease may outlive it), wait until the group is gone, release the Lease, and return the
   command's exit status (128 + N when a signal N ended it, as shells report it).

The main thread waits on one self-pipe that every source writes to: signal handlers, the
election's ``leader.elected`` / ``leader.lost`` receivers and SIGCHLD. It also wakes a few
times per renewal interval, because ``is_leader`` turns false at the renew deadline even when
no event can arrive (a stuck elector). POSIX only.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from leader_election.errors import (
    ApiError,
    ConfigurationError,
    MisuseError,
)
from leader_election.events import LeaderLostEvent, leader_changed, leader_elected, leader_lost
from leader_election.module import LeaderElectionModule
from leader_election.options import LeaderElectionOptions

__all__ = ["FORWARDED_SIGNALS", "LeadershipTimeout", "supervise"]

logger = logging.getLogger(__name__)

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_MAX_TICK = 0.5
_LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_launcher.py")
# How long the group may take to vanish after its SIGKILL before we release anyway (a process
# stuck in uninterruptible sleep); SIGKILL normally takes effect in milliseconds.
_GROUP_EXIT_TIMEOUT = 5.0


class LeadershipTimeout(TimeoutError):
    """``run --timeout``: this process did not become leader in time; the command never ran."""


class _Wakeup:
    """A self-pipe: writers never block (one pending byte is enough), the reader drains."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def set(self) -> None:
        # Called from signal handlers and other threads: a write is async-signal-safe, and a
        # full pipe already holds a pending wake-up.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"!")

    def wait(self, timeout: float) -> None:
        readable, _, _ = select.select([self._read], [], [], max(timeout, 0.0))
        if readable:
            with contextlib.suppress(BlockingIOError, OSError):
                while os.read(self._read, 512):
                    pass

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def _exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _is_fatal(error: ApiError | None) -> bool:
    """Errors that waiting will not cure (``ApiError.fatal``)."""
    return error is not None and error.fatal


class _Supervisor:
    def __init__(
        self,
        command: Sequence[str],
        options: LeaderElectionOptions,
        grace_period: float,
        timeout: float | None,
    ) -> None:
        self.command = list(command)
        self.options = options
        self.grace_period = grace_period
        self.timeout = timeout
        self.election = LeaderElectionModule.for_root(options)
        self.wakeup = _Wakeup()
        self.signals: list[int] = []
        # Lost events by fencing token: a late event of an earlier term must not stop the
        # command of the current one.
        self.lost: dict[int, str] = {}
        self.term: int | None = None
        self.child: subprocess.Popen[bytes] | None = None
        self.kill_at: float | None = None
        renewal = options.timing.renewal_interval
        self.tick = min(_MAX_TICK, renewal / 4)
        # When is_leader turned false before its leader.lost arrived (the event goes through
        # the dispatcher thread): the event names the real reason, so it gets one tick.
        self.not_leader_since: float | None = None

    # -- wake-up sources -------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)
        self.wakeup.set()

    def _on_child(self, signum: int, frame: FrameType | None) -> None:
        self.wakeup.set()

    def _on_elected(self, sender: Any, **kwargs: Any) -> None:
        self.wakeup.set()

    def _on_lost(self, sender: Any, event: LeaderLostEvent, **kwargs: Any) -> None:
        self.lost[event.fencing_token] = event.reason.value
        self.wakeup.set()

    def _term_over(self) -> str | None:
        """Why the term the command runs under is over, or None while it lasts."""
        assert self.term is not None
        if self.term in self.lost:
            return self.lost[self.term]
        if not self.election.is_leader:
            # The deadline check needs no event (a stuck elector sends none), but the event
            # usually follows within milliseconds and says why: taken over, deleted, ...
            now = time.monotonic()
            if self.not_leader_since is None:
                self.not_leader_since = now
            if now - self.not_leader_since < self.tick:
                return None
            return "renew deadline passed"
        self.not_leader_since = None
        if self.election.fencing_token != self.term:
            return "a new term began"
        return None

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # embedded in another program: it owns the signals
        previous: dict[int, Any] = {}
        for signum in FORWARDED_SIGNALS:
            previous[signum] = signal.signal(signum, self._on_signal)
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, self._on_child)

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        return restore

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> int:
        restore = self._install_signal_handlers()
        election = self.election
        try:
            with (
                leader_elected.connected_to(self._on_elected, sender=election),
                leader_lost.connected_to(self._on_lost, sender=election),
                leader_changed.connected_to(self._on_elected, sender=election),
            ):
                election.start()
                try:
                    status = self._wait_for_leadership()
                    if status is not None:
                        return status
                    return self._run_child()
                finally:
                    # Release only once the command and its group are gone.
                    election.stop()
        finally:
            restore()
            self.wakeup.close()

    def _wait_for_leadership(self) -> int | None:
        """None once leading; an exit status when a signal ended the wait."""
        election = self.election
        lease = self.options.lease_description
        logger.info("waiting to lead %s as %s", lease, election.identity)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while not election.is_leader:
            if self.signals:
                signum = self.signals[0]
                logger.info(
                    "%s received before leading; not running the command",
                    signal.Signals(signum).name,
                )
                return 128 + signum
            error = election.last_error
            if _is_fatal(error):
                assert error is not None
                raise error
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                holder = election.leader_identity
                raise LeadershipTimeout(
                    f"did not become leader of {lease} within {self.timeout:g} s"
                    + (f" (held by {holder})" if holder else "")
                )
            wait = self.tick if deadline is None else min(self.tick, deadline - now)
            self.wakeup.wait(wait)
        return None

    def _run_child(self) -> int:
        election = self.election
        token = self.term = election.fencing_token
        env = dict(os.environ)
        env.update(
            LEADER_ELECTION_LEASE=self.options.lease_description,
            LEADER_ELECTION_IDENTITY=election.identity,
            LEADER_ELECTION_FENCING_TOKEN="" if token is None else str(token),
        )
        logger.info(
            "leading %s (fencing token %s): starting %s",
            self.options.lease_description,
            token,
            " ".join(self.command),
        )
        _check_executable(self.command[0], env.get("PATH", os.defpath))
        # Its own process group, so that SIGTERM/SIGKILL reach everything it starts.
        # start_new_session is done in C between fork and exec: safe with our threads. The
        # launcher execs the command (same pid) once the group is tied to our life. Its
        # PR_SET_PDEATHSIG fires when the *thread* that forked it ends: this one, which
        # returns only after the command and its group are gone.
        self.child = subprocess.Popen(
            [sys.executable, "-I", "-S", _LAUNCHER, str(os.getpid()), "--", *self.command],
            env=env,
            start_new_session=True,
        )
        forwarded = 0
        stopping = False
        while True:
            returncode = self._reap_if_exited()
            if returncode is not None:
                break
            while forwarded < len(self.signals):
                self._signal_group(self.signals[forwarded], "forwarding %s to the command")
                forwarded += 1
                self._arm_kill()
            reason = None if stopping else self._term_over()
            if reason is not None:
                stopping = True
                logger.error(
                    "lost leadership of %s (%s): stopping the command",
                    self.options.lease_description,
                    reason,
                )
                self._signal_group(signal.SIGTERM, "sending %s to the command")
                self._arm_kill()
            now = time.monotonic()
            if self.kill_at is not None and now >= self.kill_at:
                self._signal_group(
                    signal.SIGKILL, f"grace period of {self.grace_period:g} s over: sending %s"
                )
                self.kill_at = float("inf")
            wait = self.tick
            if self.kill_at is not None and self.kill_at != float("inf"):
                wait = min(wait, self.kill_at - now)
            self.wakeup.wait(wait)
        status = _exit_status(returncode)
        logger.info("the command exited with status %d", status)
        return status

    def _arm_kill(self) -> None:
        if self.kill_at is None:
            self.kill_at = time.monotonic() + self.grace_period

    def _signal_group(self, signum: int, message: str) -> None:
        """Signal the command's process group; ``message`` has a %s for the signal name."""
        assert self.child is not None
        logger.info(message, signal.Signals(signum).name)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.child.pid, signum)

    def _reap_if_exited(self) -> int | None:
        """The command's return code once it exited, after killing what it left behind."""
        child = self.child
        assert child is not None
        try:
            # WNOWAIT: look without reaping, so the group id cannot be reused before killpg.
            info = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            # Reaped behind our back (SIGCHLD ignored by a parent): poll() records it.
            child.poll()
            info = None
        if info is None and child.returncode is None:
            return None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        returncode = child.wait()
        self._wait_for_group_exit(child.pid)
        return returncode

    def _wait_for_group_exit(self, pgid: int) -> None:
        """Return once no process of the group runs any more (bounded), so that the Lease is
        released only after everything started under it has ended."""
        deadline = time.monotonic() + _GROUP_EXIT_TIMEOUT
        while _group_runs(pgid):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.warning(
                    "process group %d of the command still has processes %.1f s after "
                    "SIGKILL; releasing %s anyway",
                    pgid,
                    _GROUP_EXIT_TIMEOUT,
                    self.options.lease_description,
                )
                return
            self.wakeup.wait(min(0.01, remaining))


def _group_runs(pgid: int) -> bool:
    """True while a process of group ``pgid`` runs; zombies waiting for a reaper run nothing."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc"):
        return True  # no way to tell zombies apart: the caller's deadline bounds the wait
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "stat"), encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        # fields: state, ppid, pgrp, ... (proc(5), after the parenthesized command name)
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _check_executable(program: str, path: str) -> None:
    """Raise what ``exec`` of ``program`` would: ``FileNotFoundError`` (exit 127) when it does
    not exist, ``PermissionError`` (126) when it is not executable — here, where the CLI maps
    them, rather than in the launcher."""
    if os.sep in program:
        candidates = [program]
    else:
        candidates = [os.path.join(d or os.curdir, program) for d in path.split(os.pathsep)]
    denied = None
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return
        if os.path.exists(candidate):
            denied = candidate
    if denied is not None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), denied)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


def supervise(
    command: Sequence[str],
    options: LeaderElectionOptions,
    *,
    grace_period: float | None = None,
    timeout: float | None = None,
) -> int:
    """Run ``command`` while holding the Lease of ``options``; return its exit status.

    ``grace_period`` (seconds) is the time between SIGTERM and SIGKILL; by default the gap
    between the renew deadline and the lease duration. ``timeout`` (seconds) bounds the wait
    for leadership (``LeadershipTimeout``). Raises the ``ApiError`` that makes waiting futile
    (401, 403, missing namespace), and ``OSError`` when the command cannot be started.
    """
    if not command:
        raise ConfigurationError(
            "no command given: put it after --, e.g. -- ./backup.sh", option="command", value=[]
        )
    if options.handle_signals or options.await_leadership:
        raise MisuseError(
            "supervise() handles signals and waiting itself: pass options with "
            "handle_signals=False and await_leadership=False"
        )
    margin = options.timing.takeover_margin
    if grace_period is None:
        grace_period = margin
    elif grace_period > margin:
        logger.warning(
            "--grace-period %g s is longer than the %g s between the renew deadline and the "
            "Lease's expiry: after losing leadership the command may still run when another "
            "candidate starts its own",
            grace_period,
            margin,
        )
    return _Supervisor(command, options, grace_period, timeout).run()
