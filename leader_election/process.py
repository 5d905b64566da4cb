"""Process-wide hooks: release at interpreter exit, on SIGTERM/SIGINT, and across ``fork()``.

- **Exit**: an ``atexit`` hook stops every running module, so a leader releases its Lease when
  the interpreter ends normally (gunicorn and uWSGI workers end that way too). Our threads are
  daemon threads for exactly this reason: Python joins non-daemon threads *before* running
  ``atexit`` hooks.
- **Signals**: when a module with ``handle_signals=True`` starts in the main thread, a handler
  for SIGTERM and SIGINT is installed once per process, but only over a handler we can hand
  the signal on to: the default disposition or a Python callable. A signal that is ignored
  (``nohup``, a uWSGI worker) or handled by C code outside Python (``signal.getsignal`` is
  ``None``) is left alone — releasing on a signal the process is meant to survive would leave
  it running without competing. Our handler stops the running modules (a leader releases) on
  a helper thread joined with a bound — the handler runs on the main thread between two
  bytecodes, possibly while that thread holds a lock ``stop()`` needs — and then hands the
  signal to the previous handler: a Python callable is called; the default disposition is
  restored and the signal re-raised, so the process ends with the status its supervisor
  expects. When the signal arrives on a thread running an event loop (``start()`` called in
  a coroutine, Django's ``ready()`` under uvicorn), the stop cannot wait there — coroutine
  jobs and async receivers drain on that loop — so it runs on the helper thread while the
  loop goes on, and the signal is then delivered again and handed on. Handlers are never
  installed from another thread (Python forbids it); such modules rely on the exit hook and on
  ``stop()``.
- **fork**: threads do not survive ``fork()``. In the child, every module that was running is
  restarted as a *new candidate* with a new identity and a new connection pool, after a
  ``leader.lost`` (reason ``stopped``) if the parent led at that moment, so receivers that
  track leadership in memory inherited from the parent are corrected; the parent is
  untouched. Modules registered with ``start_in_children`` (the Flask and Django integrations
  do so in a gunicorn ``--preload`` or uWSGI master) never run in the parent and start in
  each child their predicate accepts. The child hook runs from ``os.register_at_fork`` and,
  under uWSGI — which forks workers without running Python's at-fork hooks unless
  ``py-call-osafterfork`` is set — from its postfork hook; once per child either way. Were no
  hook to run at all, ``is_leader`` of the copy in the child is false (it checks the pid).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

__all__ = [
    "HasProcessHooks",
    "ProcessHooks",
    "finish_before_exit",
    "register",
    "start_in_children",
    "unregister",
]

logger = logging.getLogger(__name__)


class ProcessHooks(Protocol):
    """What this module needs of a leader election (``LeaderElectionModule.process_hooks``)."""

    @property
    def handle_signals(self) -> bool:
        """Stop on SIGTERM/SIGINT (``handle_signals`` option)."""

    def stop_for_process_exit(self) -> None:
        """Stop (drain, then release) because the process ends."""

    def stop_budget(self) -> float:
        """The longest ``stop_for_process_exit`` takes, in seconds."""

    def restart_after_fork(self) -> None:
        """In a forked child: compete as a new candidate (the parent's threads are gone)."""

    def start_in_child(self) -> None:
        """In a forked worker: start a module whose start the parent deferred."""


class HasProcessHooks(Protocol):
    @property
    def process_hooks(self) -> ProcessHooks: ...


def _hooks(module: ProcessHooks | HasProcessHooks) -> ProcessHooks:
    hooks = getattr(module, "process_hooks", None)
    return hooks if hooks is not None else module  # type: ignore[return-value]


class _Registry:
    """The process's running modules, the deferred ones, and the signal handlers we replaced."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.running: dict[int, ProcessHooks] = {}
        self.deferred: dict[int, tuple[ProcessHooks, Callable[[], bool]]] = {}
        self.previous: dict[int, Any] = {}
        self.installed_in_pid: int | None = None
        # The process whose modules these are: the child hooks act once per new pid.
        self.pid = os.getpid()
        self.uwsgi_hooked = False
        # Signals delivered again once their stop ran off the loop's thread: handed on only.
        self.resent: set[int] = set()
        # Stops running on threads of their own (deferred: see ``finish_before_exit``).
        self.finishing: list[tuple[threading.Thread, float]] = []


_registry = _Registry()

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def register(module: ProcessHooks | HasProcessHooks) -> None:
    """Track a started module; install the signal handlers if it wants them and we can."""
    module = _hooks(module)
    with _registry.lock:
        _registry.running[id(module)] = module
        _hook_uwsgi_postfork()
        if module.handle_signals:
            _install_signal_handlers()


def unregister(module: ProcessHooks | HasProcessHooks) -> None:
    module = _hooks(module)
    with _registry.lock:
        _registry.running.pop(id(module), None)
        _registry.deferred.pop(id(module), None)


def finish_before_exit(thread: threading.Thread, budget: float) -> None:
    """Have the exit hook wait (up to ``budget`` seconds from now) for a stop that runs on
    ``thread``: one deferred because its caller is what the drain waits for. The module is
    unregistered already, and the daemon thread would die with the interpreter, its Lease
    unreleased."""
    with _registry.lock:
        _registry.finishing.append((thread, time.monotonic() + budget))


def start_in_children(module: ProcessHooks | HasProcessHooks, accept: Callable[[], bool]) -> None:
    """Start ``module`` in each forked child where ``accept()`` is true, never in this process.

    For pre-fork servers that load the application in a master which only supervises
    (gunicorn ``--preload``, uWSGI without ``lazy-apps``): the workers compete, the master
    does not. ``accept`` runs in the child, right after the fork, and tells a worker from
    other children of the master (gunicorn's dirty arbiter, uWSGI mules).
    """
    module = _hooks(module)
    with _registry.lock:
        _registry.deferred[id(module)] = (module, accept)
        _hook_uwsgi_postfork()


# -- signals -------------------------------------------------------------------------------
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
        if current is None or current == signal.SIG_IGN:
            logger.debug(
                "%s is %s: not handled here; a leader releases at exit or stop()",
                signal.Signals(signum).name,
                "ignored" if current is not None else "handled outside Python",
            )
            continue
        _registry.previous[signum] = current
        signal.signal(signum, _on_signal)
    _registry.installed_in_pid = os.getpid()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    with _registry.lock:
        modules = [m for m in _registry.running.values() if m.handle_signals]
        if signum in _registry.resent:
            _registry.resent.discard(signum)
            modules = []
    why = signal.Signals(signum).name
    if modules and _loop_runs_here():
        # This thread runs the event loop where coroutine jobs and async receivers run: the
        # drain needs it to go on. Stop on a helper thread, then deliver the signal again; it
        # finds the modules stopped (unregistered) and goes on to the previous handler.
        threading.Thread(
            target=_stop_then_resend,
            args=(modules, signum, why),
            name="leader-election-signal-release",
            daemon=True,
        ).start()
        return
    if modules:
        _stop_on_helper_thread(modules, why)
    previous = _registry.previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    # The default disposition: restore it and let it act, so the process ends with the status
    # its supervisor expects.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _loop_runs_here() -> bool:
    if "asyncio" not in sys.modules:  # nobody imported it: no loop can run
        return False
    from leader_election import aio  # noqa: PLC0415 - asyncio is loaded already

    return aio.running_loop() is not None


def _stop_all(modules: list[ProcessHooks], why: str) -> None:
    for module in modules:
        try:
            module.stop_for_process_exit()
        except Exception:
            logger.exception("stopping a leader election on %s failed", why)


def _stop_then_resend(modules: list[ProcessHooks], signum: int, why: str) -> None:
    _stop_all(modules, why)
    with _registry.lock:
        _registry.resent.add(signum)
    os.kill(os.getpid(), signum)


def _stop_on_helper_thread(modules: list[ProcessHooks], why: str) -> None:
    budget = sum(module.stop_budget() for module in modules) + 1.0
    thread = threading.Thread(
        target=_stop_all, args=(modules, why), name="leader-election-signal-release", daemon=True
    )
    thread.start()
    thread.join(budget)
    if thread.is_alive():
        logger.error(
            "releasing on %s did not finish within %.1f s; handing the signal on (the Lease "
            "expires instead of being released)",
            why,
            budget,
        )


# -- exit ----------------------------------------------------------------------------------
def _at_exit() -> None:
    with _registry.lock:
        modules = list(_registry.running.values())
    for module in modules:
        try:
            module.stop_for_process_exit()
        except Exception:
            logger.exception("stopping a leader election at exit failed")
    with _registry.lock:
        finishing, _registry.finishing = _registry.finishing, []
    for thread, deadline in finishing:
        thread.join(max(deadline - time.monotonic(), 0.0))
        if thread.is_alive():
            logger.error("a stop still running at exit: its Lease expires instead")


# -- fork ----------------------------------------------------------------------------------
def _after_fork_in_child() -> None:
    pid = os.getpid()
    if _registry.pid == pid:
        # Both hooks ran (uWSGI with py-call-osafterfork), or uWSGI called its postfork hook
        # in the process that loaded the application: nothing was inherited here.
        return
    _registry.pid = pid
    # The lock may have been held by a parent thread that does not exist here.
    _registry.lock = threading.RLock()
    running = list(_registry.running.values())
    _registry.running.clear()
    deferred = list(_registry.deferred.values())
    # Started here, or not wanted here: a grandchild must not start them again.
    _registry.deferred.clear()
    # Signal dispositions survive fork: our handler stays installed and chains as before.
    if _registry.installed_in_pid is not None:
        _registry.installed_in_pid = pid
    for module in running:
        try:
            module.restart_after_fork()
        except Exception:
            logger.exception("restarting a leader election after fork failed")
    for module, accept in deferred:
        try:
            if accept():
                module.start_in_child()
        except Exception:
            logger.exception("starting a leader election in a forked worker failed")


def _hook_uwsgi_postfork() -> None:
    """Under uWSGI, run the child hook from its postfork hook too (see the module docstring)."""
    if _registry.uwsgi_hooked:
        return
    _registry.uwsgi_hooked = True
    try:
        import uwsgi  # noqa: PLC0415 - exists only inside a uWSGI process
    except ImportError:
        return
    try:
        import uwsgidecorators  # noqa: PLC0415 - only inside uWSGI

        # Chains with the application's own @postfork functions instead of replacing them.
        uwsgidecorators.postfork(_after_fork_in_child)
    except ImportError:
        previous = getattr(uwsgi, "post_fork_hook", None)

        def hook() -> None:
            _after_fork_in_child()
            if callable(previous):
                previous()

        uwsgi.post_fork_hook = hook


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
