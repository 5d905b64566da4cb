"""``LeaderElectionModule``: the facade users configure, start and ask ``is_leader``.

Mirrors the NestJS module: ``for_root(**options)`` and ``for_root_async(use_factory=...,
inject=[...])``; events are the blinker signals of ``events.py`` with this module as sender.
The facade holds the configuration, the registered observers and leader-only functions, and
the lifecycle; everything that runs lives in one ``Runtime`` (``runtime.py``) created per
``start()`` and per fork. In standalone mode (no cluster found) there is no elector: the
module leads from ``start()`` to ``stop()``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from leader_election import process
from leader_election.connection import Connection, resolve_connection
from leader_election.dispatch import Dispatcher
from leader_election.errors import ApiError, ConfigurationError, MisuseError
from leader_election.events import LeaderLostEvent, leader_lost
from leader_election.factory import call_factory, factory_source
from leader_election.options import LeaderElectionOptions, forked_identity
from leader_election.preflight import run_preflight
from leader_election.process import ProcessHooks
from leader_election.runtime import Lifecycle, Runtime, job_label
from leader_election.state import Failure, LostReason, Op, State
from leader_election.work import JobFunction

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from leader_election._typing import LeaderElectionOptionsDict

__all__ = ["ElectionObserver", "LeaderElectionModule"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
J = TypeVar("J", bound=Callable[..., Any])


class ElectionObserver(Protocol):
    """Instrumentation hook (``add_observer``); called on the elector thread, must be fast."""

    def on_request(
        self, election: LeaderElectionModule, op: Op, seconds: float, failure: Failure | None
    ) -> None:
        """After each API request: ``op`` is the ``Op`` (get/create/acquire/renew/release),
        ``failure`` None on success or the ``Failure`` (conflict/not_found/forbidden/transient).
        Both are string enums, so comparing them with their values works too."""

    def on_leadership(self, election: LeaderElectionModule, leading: bool) -> None:
        """When this candidate becomes leader (True) or stops being leader (False)."""


class LeaderElectionModule:
    """Leader election over one Lease. Create with ``for_root`` or ``for_root_async``."""

    def __init__(self, options: LeaderElectionOptions | None = None) -> None:
        """A module with ``options`` (default: every option's default). Prefer ``for_root``,
        which also takes keyword options and dicts."""
        self._setup(options if options is not None else LeaderElectionOptions())

    def _setup(
        self,
        options: LeaderElectionOptions | None,
        factory: Callable[..., Any] | None = None,
        inject: Sequence[Any] = (),
        imports: Sequence[Callable[[], Any]] = (),
    ) -> None:
        self._options = options
        self._factory = factory
        self._inject = tuple(inject)
        self._imports = tuple(imports)
        self._lock = threading.RLock()
        self._lifecycle = Lifecycle.NEW
        self._observers: list[ElectionObserver] = []
        self._jobs: list[tuple[JobFunction, str]] = []
        self._runtime: Runtime | None = None
        # Notified on every elected/lost and at stop, so wait_for_leadership never polls.
        self._waiters = threading.Condition()
        # wait_for_leadership_async's wake-ups: (loop, asyncio.Event), set from any thread.
        self._async_waiters: set[tuple[Any, Any]] = set()
        # The loop `async with` was entered on; async work and receivers run there.
        self._loop: Any = None
        # A module created in one process and first started in a forked child (a pre-fork
        # server importing the app in its master) must not share its identity with siblings.
        self._created_pid = os.getpid()
        self.process_hooks: ProcessHooks = _ModuleProcessHooks(self)
        """What ``leader_election.process`` calls at exit, on signals and across fork."""

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def for_root(
        cls,
        options: LeaderElectionOptions | Mapping[str, Any] | None = None,
        /,
        **kwargs: Unpack[LeaderElectionOptionsDict],
    ) -> LeaderElectionModule:
        """Configure a module now; invalid options raise ``ConfigurationError`` here.

        Options are keyword arguments (``lease_name``, ``namespace``, ``renewal_interval`` in
        milliseconds, ...; see ``LeaderElectionOptions``), or a ``LeaderElectionOptions`` / a
        dict as the one positional argument, which keyword arguments then override.
        """
        values: Mapping[str, Any] = kwargs  # typed for callers; validated by the options
        if isinstance(options, LeaderElectionOptions):
            resolved = dataclasses.replace(options, **values) if values else options
        elif isinstance(options, Mapping):
            resolved = LeaderElectionOptions.from_mapping({**options, **values}, source="for_root")
        elif options is None:
            resolved = LeaderElectionOptions.from_mapping(values, source="for_root")
        else:
            raise ConfigurationError(
                f"for_root({options!r}): expected keyword options, a dict or LeaderElectionOptions",
                option="options",
                value=options,
            )
        return cls(resolved)

    @classmethod
    def for_root_async(
        cls,
        *,
        use_factory: Callable[..., Any],
        inject: Sequence[Any] = (),
        imports: Sequence[Callable[[], Any]] = (),
    ) -> LeaderElectionModule:
        """Configure a module whose options are computed when it starts.

        ``start()`` calls each of ``imports`` (zero-argument callables, e.g. loading a .env
        file), then ``use_factory(*inject)``, which returns a dict of options, a
        ``LeaderElectionOptions``, or an awaitable of either. A factory that raises or returns
        something invalid makes ``start()`` raise ``ConfigurationError`` naming the factory.
        """
        if not callable(use_factory):
            raise ConfigurationError(
                f"use_factory={use_factory!r}: must be callable",
                option="use_factory",
                value=use_factory,
            )
        if isinstance(inject, str | bytes) or not isinstance(inject, Sequence):
            raise ConfigurationError(
                f"inject={inject!r}: must be a list of values passed to the factory",
                option="inject",
                value=inject,
            )
        for item in imports:
            if not callable(item):
                raise ConfigurationError(
                    f"imports: {item!r} is not callable; imports are zero-argument callables "
                    "run before the factory",
                    option="imports",
                    value=item,
                )
        module = cls.__new__(cls)
        module._setup(None, use_factory, inject, imports)
        return module

    # -- what users read -------------------------------------------------------------------
    @property
    def options(self) -> LeaderElectionOptions:
        """The validated options; for ``for_root_async`` only once ``start()`` resolved them."""
        if self._options is None:
            raise MisuseError(
                "options of a for_root_async module are computed by its factory in start(); "
                "read them after start()"
            )
        return self._options

    @property
    def lease_name(self) -> str:
        return self.options.lease_name

    @property
    def namespace(self) -> str:
        return self.options.namespace

    @property
    def identity(self) -> str:
        """This candidate's ``holderIdentity``."""
        return self.options.identity

    @property
    def handle_signals(self) -> bool:
        """Whether SIGTERM/SIGINT stop this module (the ``handle_signals`` option)."""
        return self.process_hooks.handle_signals

    @property
    def is_leader(self) -> bool:
        """True while this candidate holds the Lease, judged at the moment of the call.

        Turns false at the renew deadline on the monotonic clock, even if the elector thread
        is stuck, and before ``leader.lost`` is sent. During a drain (``stop()``,
        ``resign()``) it is already false, although the Lease is still renewed.
        """
        runtime = self._runtime
        return runtime is not None and runtime.is_leader

    @property
    def standalone(self) -> bool:
        """True when no cluster was found and this process assumed leadership."""
        runtime = self._runtime
        return runtime is not None and runtime.standalone

    @property
    def state(self) -> State:
        """Where this candidate is in the election (``State``)."""
        runtime = self._runtime
        if runtime is None:
            return State.STOPPED
        if runtime.standalone:
            return State.LEADING if runtime.standalone_leading else State.STOPPED
        machine = runtime.machine
        return machine.state if machine is not None else State.STOPPED

    @property
    def leader_identity(self) -> str | None:
        """The holder this candidate last observed (itself included); ``None`` if nobody."""
        runtime = self._runtime
        if runtime is None:
            return None
        if runtime.standalone:
            return self.identity if runtime.standalone_leading else None
        machine = runtime.machine
        if machine is None or machine.observed is None or machine.lease_missing:
            return None
        holder = machine.observed.record.holder_identity
        return holder or None

    @property
    def fencing_token(self) -> int | None:
        """``leaseTransitions`` of the current term while leader, else ``None``."""
        runtime = self._runtime
        if runtime is None or not runtime.is_leader:
            return None
        if runtime.standalone:
            return 0
        elector = runtime.elector
        # From the elector's published term: a re-elected leader never shows the token of
        # its previous term, not even for the instant before leader.elected is queued.
        return elector.fencing_token if elector is not None else None

    @property
    def last_error(self) -> ApiError | None:
        """The last API error met, until a request succeeds again."""
        runtime = self._runtime
        elector = runtime.elector if runtime is not None else None
        return elector.last_error if elector is not None else None

    @property
    def work_overruns(self) -> int:
        """How many terms had leader-only work still running when another candidate could
        lead (see ``healthy()``)."""
        runtime = self._runtime
        return runtime.work.overruns if runtime is not None else 0

    def healthy(self, grace: float | datetime.timedelta | None = None) -> bool:
        """client-go's HealthzAdaptor check, plus the work: false when something is stuck.

        False when this candidate still considers itself leader (state ``LEADING``) although
        it has not renewed for ``renew_deadline + grace`` — the elector steps down at the
        renew deadline, so it must be stuck — when the elector thread of a started module
        died, or while leader-only work of a term that ended is still running past the
        moment another candidate may lead (an overrun: restarting the process ends it).
        True otherwise: before ``start()``, after ``stop()``, in standalone mode, for
        followers, and for a leader that stepped down because the API server is unreachable
        (restarting the pod would not help it). Wire it to a liveness probe.

        ``grace`` is in seconds (or a ``timedelta``); default: one ``renewal_interval``.
        Like client-go's tolerance, it absorbs a late wake-up. Raises ``ConfigurationError``
        for a negative or non-numeric grace.
        """
        if grace is not None:
            grace = _grace_seconds(grace)
        runtime = self._runtime
        if self._lifecycle is not Lifecycle.STARTED or runtime is None:
            return True
        if runtime.work.overrunning():
            return False
        if runtime.standalone:
            return True
        elector = runtime.elector
        if elector is None or not elector.alive:
            return False
        machine = elector.machine
        if machine.state is not State.LEADING:
            return True
        if grace is None:
            grace = runtime.timing.health_grace
        return self.options.clock.monotonic() <= machine.deadline + grace

    def wait_for_leadership(self, timeout: float | None = None) -> bool:
        """Block until this candidate leads (True) or ``timeout`` seconds pass (False)."""
        with self._waiters:
            self._waiters.wait_for(
                lambda: self.is_leader or self._lifecycle is Lifecycle.STOPPED, timeout
            )
        return self.is_leader

    # -- helpers ---------------------------------------------------------------------------
    def leader_only(self, fn: F) -> F:
        """Decorator: the call runs only while this candidate leads; otherwise returns None."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self.is_leader:
                logger.debug("%s skipped: %s is not the leader", fn.__name__, self.identity)
                return None
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def run_while_leader(self, fn: J, *, name: str | None = None) -> J:
        """Run ``fn(term)`` in its own thread during each leadership term.

        A new thread starts each time leadership is gained. ``term`` (a ``Term``) is a
        ``threading.Event`` set the moment the term ends, carrying the ``fencing_token``;
        ``fn`` should return then. A stopping or resigning leader releases the Lease only
        after ``fn`` returned (within ``drain_timeout``). Usable as a decorator; returns
        ``fn``. Functions written as ``fn(stop_event)`` work unchanged.
        """
        label = job_label(fn, name)
        with self._lock:
            self._jobs.append((fn, label))
            runtime = self._runtime
            if runtime is not None:
                runtime.work.add(fn, label)
        return fn

    def resign(self, timeout: float | None = None) -> bool:
        """Give up leadership and stay a candidate; False (and nothing done) if not leader.

        Drains like ``stop()`` (the term ends for the work, ``leader.lost`` is delivered and
        the work returns while the Lease is still renewed), then releases the Lease and does
        not take it again for one lease duration, so that another candidate does. Waits up
        to ``timeout`` seconds (default: the drain timeout plus the renew deadline) for the
        release; called from a receiver, a ``run_while_leader`` function or a coroutine on
        the module's event loop it returns at once, and the release follows when that
        caller has returned.
        """
        runtime = self._runtime
        if runtime is None or self._lifecycle is not Lifecycle.STARTED or runtime.standalone:
            return False
        timing = runtime.timing
        budget = timeout if timeout is not None else timing.drain_timeout + timing.release_budget
        return runtime.resign(budget)

    def add_observer(self, observer: ElectionObserver) -> None:
        """Register an instrumentation hook (e.g. ``leader_election.metrics``)."""
        self._observers.append(observer)

    def _notify(self, method: str, *args: Any) -> None:
        for observer in list(self._observers):
            hook = getattr(observer, method, None)
            if hook is None:
                continue
            try:
                hook(self, *args)
            except Exception:
                logger.exception("%r: observer %r raised in %s", self, observer, method)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LeaderElectionModule:
        """Start competing for the Lease; returns self.

        Raises ``ConfigurationError`` (a for_root_async factory failed, a kubeconfig cannot be
        loaded) and ``MisuseError`` (started twice, started after stop). With
        ``await_leadership``, returns once the first round is decided and raises the
        ``ApiError`` (403, missing namespace) that prevented deciding it.
        """
        with self._lock:
            if self._lifecycle is Lifecycle.STARTED:
                raise MisuseError(
                    f"{self!r} is already started; call stop() before starting it again"
                )
            if self._lifecycle is Lifecycle.STOPPED:
                raise MisuseError(
                    f"{self!r} was stopped; a module runs once: create a new one with "
                    "LeaderElectionModule.for_root(...)"
                )
            options = self._resolve_options()
            if self._created_pid != os.getpid():
                options = dataclasses.replace(options, identity=forked_identity(options.identity))
                self._options = options
                self._created_pid = os.getpid()
            connection = resolve_connection(options)
            if options.await_leadership and connection is not None:
                _raise_missing_permissions(options, connection)
            self._launch(options, connection, preflight=not options.await_leadership)
            self._lifecycle = Lifecycle.STARTED
            process.register(self.process_hooks)
        if options.await_leadership:
            self._await_first_round(options)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop competing: drain, then release (``release_on_stop``).

        The term ends for the work at once (``is_leader`` false, every ``run_while_leader``
        stop event set, ``leader.lost`` delivered); the Lease is still renewed until those
        functions and receivers have returned (at most ``drain_timeout``), then released.
        Waits up to ``timeout`` seconds (default: the drain timeout plus the renew deadline
        plus 5 s). Safe to call twice or before ``start()``; from a receiver, a
        ``run_while_leader`` function or a coroutine on the module's event loop it returns
        at once and the rest follows when the caller has returned (a coroutine: use
        ``async with``, which waits for all of it without blocking the loop).
        """
        with self._lock:
            if self._lifecycle is not Lifecycle.STARTED:
                self._lifecycle = Lifecycle.STOPPED
                process.unregister(self.process_hooks)  # it may wait to start in children
                return
            self._lifecycle = Lifecycle.STOPPED
            process.unregister(self.process_hooks)
            runtime = self._runtime
        with self._waiters:
            self._waiters.notify_all()
        self._wake_async_waiters()
        if runtime is None:
            return
        runtime.stop(timeout if timeout is not None else runtime.timing.stop_budget)

    def __enter__(self) -> LeaderElectionModule:
        return self.start()

    async def __aenter__(self) -> LeaderElectionModule:
        """``async with election:`` — ``start()`` off the event loop; coroutine jobs and
        receivers then run on this loop."""
        import asyncio  # noqa: PLC0415 - only async users pay for asyncio

        loop = asyncio.get_running_loop()
        self._loop = loop
        await loop.run_in_executor(None, self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """``stop()`` off the event loop: drain (coroutine jobs included), then release."""
        import asyncio  # noqa: PLC0415

        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    async def wait_for_leadership_async(self, timeout: float | None = None) -> bool:
        """Wait, without blocking the event loop, until this candidate leads (True) or
        ``timeout`` seconds pass (False)."""
        import asyncio  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        entry = (loop, woken)
        self._async_waiters.add(entry)
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                woken.clear()
                if self.is_leader or self._lifecycle is Lifecycle.STOPPED:
                    break
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(woken.wait(), remaining)
                except asyncio.TimeoutError:
                    break
        finally:
            self._async_waiters.discard(entry)
        return self.is_leader

    def _wake_async_waiters(self) -> None:
        for loop, woken in list(self._async_waiters):
            try:
                loop.call_soon_threadsafe(woken.set)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                self._async_waiters.discard((loop, woken))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._options is None:
            return "<LeaderElectionModule (for_root_async, not started)>"
        return (
            f"<LeaderElectionModule {self._options.lease_description} "
            f"identity={self._options.identity!r} state={self.state.value}>"
        )

    # -- internals -------------------------------------------------------------------------
    def _resolve_options(self) -> LeaderElectionOptions:
        if self._options is not None:
            return self._options
        assert self._factory is not None
        source = factory_source(self._factory)
        result = call_factory(self._factory, self._inject, self._imports)
        if isinstance(result, LeaderElectionOptions):
            options = result
        elif isinstance(result, Mapping):
            options = LeaderElectionOptions.from_mapping(result, source=source)
        else:
            raise ConfigurationError(
                f"{source} returned {result!r}: expected a dict of options or "
                "LeaderElectionOptions",
                option="use_factory",
                value=self._factory,
            )
        self._options = options
        return options

    def _launch(
        self,
        options: LeaderElectionOptions,
        connection: Connection | None,
        *,
        dispatcher: Dispatcher | None = None,
        preflight: bool = True,
    ) -> Runtime:
        runtime = Runtime(
            self,
            options,
            connection,
            self._notify,
            leading=self._waiters,
            jobs=list(self._jobs),
            dispatcher=dispatcher,
            loop=self._loop,
            wake=self._wake_async_waiters,
        )
        self._runtime = runtime
        runtime.start(preflight=preflight)
        return runtime

    def _await_first_round(self, options: LeaderElectionOptions) -> None:
        runtime = self._runtime
        elector = runtime.elector if runtime is not None else None
        if elector is None:
            return
        limit = options.timing.first_round_limit
        if not elector.first_round.wait(limit):
            logger.warning(
                "lease %s: the first election round was not decided within %.0f s; "
                "start() returns and the election goes on (last error: %s)",
                options.lease_description,
                limit,
                elector.last_error,
            )
            return
        error = elector.first_round_error
        if error is not None and not self.is_leader:
            self.stop()
            raise error


class _ModuleProcessHooks:
    """``ProcessHooks`` of one module: what ``process.py`` calls at exit, on signals, at fork."""

    def __init__(self, module: LeaderElectionModule) -> None:
        self._module = module

    @property
    def handle_signals(self) -> bool:
        options = self._module._options
        return options is not None and options.handle_signals

    def stop_for_process_exit(self) -> None:
        self._module.stop()

    def stop_budget(self) -> float:
        return self._module.options.timing.stop_budget

    def restart_after_fork(self) -> None:
        """In a forked child: the parent's threads are gone; compete as a new candidate.

        Runs with no other thread alive: locks a parent thread held at the fork are never
        taken (they may stay locked forever), only replaced.
        """
        module = self._module
        module._lock = threading.RLock()
        module._waiters = threading.Condition()
        module._async_waiters = set()
        module._loop = None  # the parent's event loop does not run in this process
        module._created_pid = os.getpid()
        options = module.options
        parent = module._runtime
        connection = None
        parent_led = False
        token = 0
        if parent is not None:
            connection = parent.connection.reopen() if parent.connection is not None else None
            machine = parent.machine
            parent_led = parent.standalone_leading or (
                machine is not None and machine.state is State.LEADING
            )
            token = machine.token if machine is not None else 0
        standalone = parent is not None and parent.standalone
        identity = forked_identity(options.identity)
        module._options = dataclasses.replace(options, identity=identity)
        dispatcher = None
        if parent_led:
            # Receivers may track leadership in memory this child inherited: tell them the
            # parent's term does not continue here (identity: the parent's).
            dispatcher = Dispatcher(f"leader-election[{options.lease_description}]-events", module)
            dispatcher.start()
            module._notify("on_leadership", False)
            dispatcher.put(
                leader_lost,
                LeaderLostEvent(
                    lease_name=options.lease_name,
                    namespace=options.namespace,
                    identity=options.identity,
                    reason=LostReason.STOPPED,
                    fencing_token=token,
                    standalone=standalone,
                ),
            )
        logger.info(
            "lease %s: forked child %s competes as a new candidate",
            options.lease_description,
            identity,
        )
        module._launch(module._options, None if standalone else connection, dispatcher=dispatcher)
        process.register(self)

    def start_in_child(self) -> None:
        """In a forked worker, start a module its parent deferred (``start_in_children``)."""
        module = self._module
        module._lock = threading.RLock()
        module._waiters = threading.Condition()
        if module._options is not None:
            identity = forked_identity(module._options.identity)
            module._options = dataclasses.replace(module._options, identity=identity)
        module._created_pid = os.getpid()
        module.start()


def _raise_missing_permissions(options: LeaderElectionOptions, connection: Connection) -> None:
    """``await_leadership``: a verb election cannot live without is an error from start()."""
    report = run_preflight(
        connection.api_client,
        options.lease_name,
        options.namespace,
        pod_label=bool(options.leader_pod_label),
        events=options.record_events,
        timeout=options.timing.follower_timeout,
    )
    error = report.error()
    if error is not None:
        raise error
    warning = report.warning()
    if warning is not None:
        logger.warning("lease %s: %s", options.lease_description, warning)


def _grace_seconds(grace: object) -> float:
    if isinstance(grace, datetime.timedelta):
        seconds = grace.total_seconds()
    elif isinstance(grace, int | float) and not isinstance(grace, bool):
        seconds = float(grace)
    else:
        raise ConfigurationError(
            f"healthy(grace={grace!r}): expected seconds (a number) or a datetime.timedelta",
            option="grace",
            value=grace,
        )
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigurationError(
            f"healthy(grace={grace!r}): must be a finite number of seconds, zero or more",
            option="grace",
            value=grace,
        )
    return seconds
