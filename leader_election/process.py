"""Process-wide hooks: release at interpreter exit, on SIGTERM/SIGINT, and after ``fork()``.

- **Exit**: an ``atexit`` hook stops every running module, so a leader releases its Lease when
  the interpreter ends normally. (Our threads are daemon threads for exactly this reason:
  Python joins non-daemon threads *before* running ``atexit`` hooks.)
- **Signals**: when a module with ``handle_signals=True`` starts in the main thread, a handler
  for SIGTERM and SIGINT is installed once. It stops the running modules (releasing the Lease)
  and then hands the signal to the handler that was there before — a Python callable is
  called, the default disposition is restored and the signal re-raised, an ignored signal stays
  ignored. Handlers are never installed from another thread (Python forbids it); such modules
  rely on the exit hook and on ``stop()``.
- **fork**: threads do not survive ``fork()``. In the child every module that was running is
  restarted as a *new candidate* with a new identity and a new connection pool (gunicorn
  ``--preload``, uWSGI without lazy-apps, multiprocessing); the parent is untouched. A child
  therefore never believes it leads without a thread renewing.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from types import FrameType
from typing import Any, Protocol

__all__ = ["register", "unregister"]

logger = logging.getLogger(__name__)


class Stoppable(Protocol):
    @property
    def handle_signals(self) -> bool: ...

    def _stop_for_process_exit(self) -> None: ...

    def _restart_after_fork(self) -> None: ...


class _Registry:
    """The process's running modules and the signal handlers we replaced."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.running: dict[int, Stoppable] = {}
        self.previous: dict[int, Any] = {}
        self.installed_in_pid: int | None = None


_registry = _Registry()

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def register(module: Stoppable) -> None:
    """Track a started module; install the signal handlers if it wants them and we can."""
    with _registry.lock:
        _registry.running[id(module)] = module
        if module.handle_signals:
            _install_signal_handlers()


def unregister(module: Stoppable) -> None:
    with _registry.lock:
        _registry.running.pop(id(module), None)


def _install_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        logger.debug("not in the main thread: SIGTERM/SIGINT handlers not installed")
        return
    if _registry.installed_in_pid == os.getpid():
        return
    for signum in _SIGNALS:
        current = signal.getsignal(signum)
        if current is _on_signal:
            continue
        _registry.previous[signum] = current
        signal.signal(signum, _on_signal)
    _registry.installed_in_pid = os.getpid()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    with _registry.lock:
        modules = [m for m in _registry.running.values() if m.handle_signals]
    for module in modules:
        try:
            module._stop_for_process_exit()
        except Exception:
            logger.exception("stopping a leader election on signal %d failed", signum)
    previous = _registry.previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    # The default disposition (or one set outside Python): restore it and let it act, so the
    # process ends with the status its supervisor expects.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _at_exit() -> None:
    with _registry.lock:
        modules = list(_registry.running.values())
    for module in modules:
        try:
            module._stop_for_process_exit()
        except Exception:
            logger.exception("stopping a leader election at exit failed")


def _after_fork_in_child() -> None:
    # The lock may have been held by a parent thread that does not exist here.
    _registry.lock = threading.RLock()
    modules = list(_registry.running.values())
    _registry.running.clear()
    # Signal dispositions survive fork: our handler stays installed and chains as before.
    if _registry.installed_in_pid is not None:
        _registry.installed_in_pid = os.getpid()
    for module in modules:
        try:
            module._restart_after_fork()
        except Exception:
            logger.exception("restarting a leader election after fork failed")


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
