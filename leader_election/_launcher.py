"""The first process of ``leader-election run``'s command: tie its process group to the supervisor.

``supervisor.py`` starts ``python -I -S _launcher.py SUPERVISOR_PID -- CMD [ARG ...]`` as the
leader of a new process group. This script makes sure that nothing of CMD outlives the
supervisor, even when the supervisor is killed by SIGKILL and cannot clean up — the Lease it
held expires ``lease_duration`` after its last renewal, and by then no command started under
that Lease may still run:

1. ask Linux to SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``; kept across
   ``exec``, so it applies to CMD itself), then check that the parent did not die already;
2. start a watchdog in the same process group. It is double-forked, so it is not a child of
   CMD (a shell's ``wait`` must not wait for it), ignores the signals forwarded to the group,
   holds none of CMD's file descriptors, and waits for the supervisor to exit (a ``pidfd`` on
   Linux, polling elsewhere). Then it SIGKILLs the whole group — CMD's children and
   grandchildren included, which ``PR_SET_PDEATHSIG`` (reset at ``fork``) does not cover.
   The supervisor's own SIGKILL of the group, once CMD exits, ends the watchdog too;
3. ``exec`` CMD, which keeps this process's pid: the supervisor waits for CMD itself.

Run by path with the interpreter's ``-I -S``: stdlib only, no import of ``leader_election``.
On systems without ``prctl`` only the watchdog applies (see docs/cli.md).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys

PR_SET_PDEATHSIG = 1
_POLL_INTERVAL = 0.1
_MAX_FD = 1 << 20  # closerange uses close_range(2) where it exists: fast at any bound


def _die_with_parent() -> None:
    """1. SIGKILL this process (and, after exec, CMD) when the supervisor's thread dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc symbol: the watchdog still applies
        return


def _open_pidfd(pid: int) -> int | None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:
        return None
    return fd


def _wait_for_exit(pid: int, pidfd: int | None) -> None:
    """Return once ``pid`` has exited (a pidfd turns readable at exit, before reaping)."""
    if pidfd is not None:
        while True:
            readable, _, _ = select.select([pidfd], [], [])
            if readable:
                return
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # someone else's process now: ours is gone
            return
        select.select([], [], [], _POLL_INTERVAL)


def _watch(supervisor: int, pidfd: int | None) -> None:
    """2. The watchdog's whole life: wait for the supervisor, then kill the group."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
    # None of CMD's descriptors: a reader waiting for the end of CMD's output must get it.
    if pidfd is None:
        os.closerange(3, _MAX_FD)
    else:
        os.closerange(3, pidfd)
        os.closerange(pidfd + 1, _MAX_FD)
    try:
        _wait_for_exit(supervisor, pidfd)
    finally:
        os.killpg(0, signal.SIGKILL)  # the group: CMD, what it started, and this watchdog
        os._exit(0)


def _start_watchdog(supervisor: int, pidfd: int | None) -> None:
    child = os.fork()
    if child:
        os.waitpid(child, 0)  # the intermediate child exits at once
        return
    try:
        if os.fork() == 0:
            _watch(supervisor, pidfd)
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    """Steps 1 to 3; returns only when CMD cannot start (exec replaces this program)."""
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: _launcher.py SUPERVISOR_PID -- CMD [ARG ...]\n")
        return 2
    supervisor, command = int(argv[1]), argv[3:]
    _die_with_parent()
    # Opened before the check below, so the pidfd names the supervisor, not a reused pid.
    pidfd = _open_pidfd(supervisor)
    if os.getppid() != supervisor:
        return 137  # the supervisor died before step 1 took effect: CMD must not start
    _start_watchdog(supervisor, pidfd)
    if pidfd is not None:
        os.close(pidfd)
    try:
        os.execvp(command[0], command)  # noqa: S606 - the argv the user gave, as Popen would
    except FileNotFoundError as exc:
        sys.stderr.write(f"leader-election run: command not found: {exc}\n")
        return 127
    except OSError as exc:
        sys.stderr.write(f"leader-election run: command not executable: {exc}\n")
        return 126


if __name__ == "__main__":
    sys.exit(main(sys.argv))
