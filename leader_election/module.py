"""``LeaderElectionModule``: the facade users configure, start and ask ``is_leader``.

Mirrors the NestJS module: ``for_root(**options)`` and ``for_root_async(use_factory=...,
inject=[...])``; events are the blinker signals of ``events.py`` with this module as sender.
Behind it: an elector thread (``elector.py``) with its watch thread, and a dispatcher thread
(``dispatch.py``) that delivers events. In standalone mode (no cluster found) there is no
elector: the module leads from ``start()`` to ``stop()``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import inspect
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, TypeVar

from leader_election import process
from leader_election.connection import Connection, resolve_connection
from leader_election.dispatch import Dispatcher
from leader_election.elector import Elector
from leader_election.errors import ApiError, ConfigurationError, MisuseError
from leader_election.events import (
    LeaderChangedEvent,
    LeaderElectedEvent,
    LeaderLostEvent,
    leader_changed,
    leader_elected,
    leader_lost,
)
from leader_election.lock import LeaseLock
from leader_election.options import LeaderElectionOptions, default_identity
from leader_election.state import Acquired, Changed, Failure, Lost, LostReason, Op, State
from leader_election.transport import Transport

__all__ = ["ElectionObserver", "LeaderElectionModule"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
_JOIN_GRACE = 5.0
_FACTORY_TIMEOUT = 60.0


class ElectionObserver(Protocol):
    """Instrumentation hook (``add_observer``); called on the elector thread, must be fast."""

    def on_request(
        self, election: LeaderElectionModule, op: str, seconds: float, failure: str | None
    ) -> None:
        """After each API request: ``op`` is get/create/acquire/renew/release, ``failure``
        None on success or conflict/not_found/forbidden/transient."""

    def on_leadership(self, election: LeaderElectionModule, leading: bool) -> None:
        """When this candidate becomes leader (True) or stops being leader (False)."""


class _LeaderJob:
    """``run_while_leader``: a thread per leadership term running ``fn(stop_event)``."""

    def __init__(self, fn: Callable[[threading.Event], Any], thread_name: str) -> None:
        self.fn = fn
        self.thread_name = thread_name
        self.stop_event: threading.Event | None = None
        self.thread: threading.Thread | None = None

    def begin(self) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(self.stop_event,), name=self.thread_name, daemon=True
        )
        self.thread.start()

    def end(self) -> None:
        if self.stop_event is not None:
            self.stop_event.set()

    def _run(self, stop_event: threading.Event) -> None:
        try:
            self.fn(stop_event)
        except Exception:
            logger.exception("%s: the leader-only function raised", self.thread_name)


class LeaderElectionModule:
    """Leader election over one Lease. Create with ``for_root`` or ``for_root_async``."""

    def __init__(
        self,
        options: LeaderElectionOptions | None = None,
        *,
        _factory: Callable[..., Any] | None = None,
        _inject: Sequence[Any] = (),
        _imports: Sequence[Callable[[], Any]] = (),
    ) -> None:
        if options is None and _factory is None:
            options = LeaderElectionOptions()
        self._options = options
        self._factory = _factory
        self._inject = tuple(_inject)
        self._imports = tuple(_imports)
        self._lifecycle = threading.RLock()
        self._phase = "new"  # new -> started -> stopped
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._connection: Connection | None = None
        self._elector: Elector | None = None
        self._dispatcher: Dispatcher | None = None
        self._standalone = False
        # Notified on every elected/lost, so wait_for_leadership never polls.
        self._leading = threading.Condition()
        self._jobs: list[_LeaderJob] = []
        self._jobs_lock = threading.Lock()
        self._observers: list[ElectionObserver] = getattr(self, "_observers", [])
        # The process whose threads run this module: a copy of it in a child forked without
        # our at-fork hook (uWSGI's default) must never believe it leads.
        self._pid = os.getpid()

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def for_root(
        cls,
        options: LeaderElectionOptions | Mapping[str, Any] | None = None,
        /,
        **kwargs: Any,
    ) -> LeaderElectionModule:
        """Configure a module now; invalid options raise ``ConfigurationError`` here.

        Options are keyword arguments (``lease_name``, ``namespace``, ``renewal_interval`` in
        milliseconds, ...; see ``LeaderElectionOptions``), or a ``LeaderElectionOptions`` / a
        dict as the one positional argument, which keyword arguments then override.
        """
        if isinstance(options, LeaderElectionOptions):
            resolved = dataclasses.replace(options, **kwargs) if kwargs else options
        elif isinstance(options, Mapping):
            resolved = LeaderElectionOptions.from_mapping({**options, **kwargs}, source="for_root")
        elif options is None:
            resolved = LeaderElectionOptions.from_mapping(kwargs, source="for_root")
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
        return cls(None, _factory=use_factory, _inject=inject, _imports=imports)

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
    def is_leader(self) -> bool:
        """True while this candidate holds the Lease, judged at the moment of the call.

        Turns false at the renew deadline on the monotonic clock, even if the elector thread
        is stuck, and before ``leader.lost`` is sent.
        """
        if self._pid != os.getpid():
            return False
        if self._standalone:
            return self._phase == "started"
        elector = self._elector
        return elector is not None and elector.is_leader

    @property
    def standalone(self) -> bool:
        """True when no cluster was found and this process assumed leadership."""
        return self._standalone

    @property
    def state(self) -> State:
        """Where this candidate is in the election (``State``)."""
        if self._standalone:
            return State.LEADING if self._phase == "started" else State.STOPPED
        elector = self._elector
        return elector.machine.state if elector is not None else State.STOPPED

    @property
    def leader_identity(self) -> str | None:
        """The holder this candidate last observed (itself included); ``None`` if nobody."""
        if self._standalone:
            return self.identity if self._phase == "started" else None
        elector = self._elector
        if elector is None:
            return None
        machine = elector.machine
        if machine.observed is None or machine.lease_missing:
            return None
        holder = machine.observed.record.holder_identity
        return holder or None

    @property
    def fencing_token(self) -> int | None:
        """``leaseTransitions`` of the current term while leader, else ``None``."""
        if self._pid != os.getpid():
            return None
        if self._standalone:
            return 0 if self._phase == "started" else None
        elector = self._elector
        # From the elector's published term: a re-elected leader never shows the token of
        # its previous term, not even for the instant before leader.elected is queued.
        return elector.fencing_token if elector is not None else None

    @property
    def last_error(self) -> ApiError | None:
        """The last API error met, until a request succeeds again."""
        elector = self._elector
        return elector.last_error if elector is not None else None

    def healthy(self, grace: float | datetime.timedelta | None = None) -> bool:
        """client-go's HealthzAdaptor check: false when the elector is stuck.

        False when this candidate still considers itself leader (state ``LEADING``) although
        it has not renewed for ``renew_deadline + grace`` — the elector steps down at the
        renew deadline, so it must be stuck — or when the elector thread of a started module
        died. True otherwise: before ``start()``, after ``stop()``, in standalone mode, for
        followers, and for a leader that stepped down because the API server is unreachable
        (restarting the pod would not help it). Wire it to a liveness probe.

        ``grace`` is in seconds (or a ``timedelta``); default: one ``renewal_interval``.
        Like client-go's tolerance, it absorbs a late wake-up. Raises ``ConfigurationError``
        for a negative or non-numeric grace.
        """
        if grace is not None:
            grace = _grace_seconds(grace)
        if self._phase != "started" or self._standalone:
            return True
        elector = self._elector
        if elector is None or not elector.alive:
            return False
        machine = elector.machine
        if machine.state is not State.LEADING:
            return True
        if grace is None:
            grace = self.options.renewal_interval.total_seconds()
        return self.options.clock.monotonic() <= machine.deadline + grace

    def wait_for_leadership(self, timeout: float | None = None) -> bool:
        """Block until this candidate leads (True) or ``timeout`` seconds pass (False)."""
        with self._leading:
            self._leading.wait_for(lambda: self.is_leader or self._phase == "stopped", timeout)
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

    def run_while_leader(
        self, fn: Callable[[threading.Event], Any], *, name: str | None = None
    ) -> Callable[[threading.Event], Any]:
        """Run ``fn(stop_event)`` in its own thread during each leadership term.

        A new thread starts each time leadership is gained; ``stop_event`` is set the moment
        it is lost (or the module stops), and ``fn`` should return then. Usable as a
        decorator; returns ``fn``.
        """
        label = name or getattr(fn, "__name__", "job")
        job = _LeaderJob(fn, f"{self._thread_prefix()}-job-{label}")
        with self._jobs_lock:
            self._jobs.append(job)
            if self.is_leader:
                job.begin()
        return fn

    def add_observer(self, observer: ElectionObserver) -> None:
        """Register an instrumentation hook (e.g. ``leader_election.metrics``)."""
        self._observers.append(observer)

    def _notify(self, method: str, *args: Any) -> None:
        for observer in list(self._observers):
            try:
                getattr(observer, method)(self, *args)
            except Exception:
                logger.exception("%r: observer %r raised in %s", self, observer, method)

    def _on_request(self, op: Op, seconds: float, failure: Failure | None) -> None:
        if self._observers:
            self._notify("on_request", op.value, seconds, failure.value if failure else None)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LeaderElectionModule:
        """Start competing for the Lease; returns self.

        Raises ``ConfigurationError`` (a for_root_async factory failed, a kubeconfig cannot be
        loaded) and ``MisuseError`` (started twice, started after stop). With
        ``await_leadership``, returns once the first round is decided and raises the
        ``ApiError`` (403, missing namespace) that prevented deciding it.
        """
        with self._lifecycle:
            if self._phase == "started":
                raise MisuseError(
                    f"{self!r} is already started; call stop() before starting it again"
                )
            if self._phase == "stopped":
                raise MisuseError(
                    f"{self!r} was stopped; a module runs once: create a new one with "
                    "LeaderElectionModule.for_root(...)"
                )
            options = self._resolve_options()
            connection = resolve_connection(options)
            self._launch(options, connection)
            self._phase = "started"
            process.register(self)
        if options.await_leadership:
            self._await_first_round(options)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop competing; a leader releases the Lease first (``release_on_stop``).

        Waits up to ``timeout`` seconds (default: the renew deadline plus 5 s) for the
        release, the threads and the delivery of ``leader.lost``. Safe to call twice, from a
        receiver, or before ``start()``.
        """
        with self._lifecycle:
            if self._phase != "started":
                self._phase = "stopped"
                process.unregister(self)  # it may wait to start in forked workers
                return
            self._phase = "stopped"
            process.unregister(self)
        with self._leading:
            self._leading.notify_all()
        options = self.options
        assert options.renew_deadline is not None
        budget = (
            timeout if timeout is not None else options.renew_deadline.total_seconds() + _JOIN_GRACE
        )
        deadline = time.monotonic() + budget
        current = threading.current_thread()
        if self._standalone:
            self._emit(Lost(LostReason.STOPPED, 0))
        elif self._elector is not None:
            self._elector.request_stop()
            if not self._elector.join(budget):
                logger.warning("%r: the elector did not stop within %.1f s", self, budget)
        with self._jobs_lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.end()
        for job in jobs:
            thread = job.thread
            if thread is not None and thread is not current and thread.is_alive():
                thread.join(max(deadline - time.monotonic(), 0.1))
                if thread.is_alive():
                    logger.warning(
                        "%s did not return after its stop_event was set", job.thread_name
                    )
        if self._dispatcher is not None:
            if self._dispatcher.is_current_thread():
                self._dispatcher.request_stop()
            else:
                self._dispatcher.stop(max(deadline - time.monotonic(), 0.1))
        if self._connection is not None:
            self._connection.close()

    def __enter__(self) -> LeaderElectionModule:
        return self.start()

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

    # -- process hooks (process.py) --------------------------------------------------------
    @property
    def handle_signals(self) -> bool:
        return self._options is not None and self._options.handle_signals

    def _stop_for_process_exit(self) -> None:
        self.stop()

    def _stop_budget(self) -> float:
        """The longest ``stop()`` waits (seconds): the renew deadline plus the join grace."""
        renew_deadline = self.options.renew_deadline
        assert renew_deadline is not None
        return renew_deadline.total_seconds() + _JOIN_GRACE

    def _restart_after_fork(self) -> None:
        """In a forked child: the parent's threads are gone; compete as a new candidate.

        Runs with no other thread alive: locks a parent thread held at the fork are never
        taken (they may stay locked forever), only replaced.
        """
        options = self.options
        connection = self._connection.reopen() if self._connection is not None else None
        standalone = self._standalone
        elector = self._elector
        parent_led = standalone or (elector is not None and elector.machine.state is State.LEADING)
        token = elector.machine.token if elector is not None else 0
        job_specs = [(job.fn, job.thread_name) for job in self._jobs]
        self._lifecycle = threading.RLock()
        self._init_runtime()
        self._jobs = [_LeaderJob(fn, name) for fn, name in job_specs]
        if parent_led:
            # Receivers may track leadership in memory this child inherited: tell them the
            # parent's term does not continue here (identity: the parent's).
            self._dispatcher = Dispatcher(f"{self._thread_prefix()}-events", self)
            self._dispatcher.start()
            self._emit(Lost(LostReason.STOPPED, token))
            dispatcher = self._dispatcher
        else:
            dispatcher = None
        identity = _forked_identity(options.identity)
        self._options = dataclasses.replace(options, identity=identity)
        logger.info(
            "lease %s: forked child %s competes as a new candidate",
            options.lease_description,
            identity,
        )
        self._launch(self._options, None if standalone else connection, dispatcher=dispatcher)
        process.register(self)

    def _start_in_child(self) -> None:
        """In a forked worker, start a module its parent deferred (``start_in_children``)."""
        self._lifecycle = threading.RLock()
        if self._options is not None:
            identity = _forked_identity(self._options.identity)
            self._options = dataclasses.replace(self._options, identity=identity)
        self.start()

    # -- internals -------------------------------------------------------------------------
    def _thread_prefix(self) -> str:
        if self._options is None:
            return "leader-election[async]"
        return f"leader-election[{self._options.lease_description}]"

    def _resolve_options(self) -> LeaderElectionOptions:
        if self._options is not None:
            return self._options
        assert self._factory is not None
        name = getattr(self._factory, "__qualname__", repr(self._factory))
        source = f"for_root_async factory {name}"
        try:
            for item in self._imports:
                item()
            result = self._factory(*self._inject)
            if inspect.isawaitable(result):
                result = _run_awaitable(result)
        except ConfigurationError:
            raise
        except Exception as exc:
            raise ConfigurationError(
                f"{source} raised {type(exc).__name__}: {exc}",
                option="use_factory",
                value=self._factory,
            ) from exc
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
    ) -> None:
        prefix = self._thread_prefix()
        self._connection = connection
        self._pid = os.getpid()
        if dispatcher is None:
            dispatcher = Dispatcher(f"{prefix}-events", self)
            dispatcher.start()
        self._dispatcher = dispatcher
        if connection is None:
            self._standalone = True
            logger.warning(
                "lease %s: no Kubernetes cluster found (no api_client, kubeconfig, in-cluster "
                "environment or ~/.kube/config); running standalone: %s assumes leadership",
                options.lease_description,
                options.identity,
            )
            self._emit(Acquired(0))
            self._emit(Changed(options.identity))
            return
        lock = LeaseLock(Transport(connection.api_client), options.namespace, options.lease_name)
        self._elector = Elector(
            options, lock, self._emit, thread_name=prefix, on_request=self._on_request
        )
        self._elector.start()

    def _await_first_round(self, options: LeaderElectionOptions) -> None:
        elector = self._elector
        if elector is None:
            return
        assert options.lease_duration is not None
        assert options.renew_deadline is not None
        limit = (options.lease_duration + options.renew_deadline).total_seconds()
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

    def _emit(self, event: Acquired | Lost | Changed) -> None:
        """Called on the elector thread: must not block. Queues the public event."""
        options = self.options
        dispatcher = self._dispatcher
        assert dispatcher is not None
        common = {
            "lease_name": options.lease_name,
            "namespace": options.namespace,
            "identity": options.identity,
        }
        if isinstance(event, Acquired | Lost):
            self._notify("on_leadership", isinstance(event, Acquired))
        if isinstance(event, Acquired):
            with self._leading:
                self._leading.notify_all()
            with self._jobs_lock:
                for job in self._jobs:
                    job.begin()
            dispatcher.put(
                leader_elected,
                LeaderElectedEvent(
                    **common, fencing_token=event.token, standalone=self._standalone
                ),
            )
        elif isinstance(event, Lost):
            with self._leading:
                self._leading.notify_all()
            with self._jobs_lock:
                for job in self._jobs:
                    job.end()
            dispatcher.put(
                leader_lost,
                LeaderLostEvent(
                    **common,
                    reason=event.reason,
                    fencing_token=event.token,
                    standalone=self._standalone,
                ),
            )
        else:
            dispatcher.put(leader_changed, LeaderChangedEvent(**common, leader=event.holder))


def _forked_identity(identity: str) -> str:
    """A new identity for a forked child: never its parent's, whose Lease it would renew.

    A default identity (``default_identity()``) is drawn again; an explicit one gets a
    random suffix.
    """
    base, _, suffix = identity.rpartition("_")
    if base == default_identity().rpartition("_")[0] and re.fullmatch(r"[0-9a-f]{8}", suffix):
        return default_identity()
    return f"{identity}_{uuid.uuid4().hex[:8]}"


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


def _run_awaitable(awaitable: Awaitable[Any]) -> Any:
    """Run a factory's awaitable to completion from synchronous code."""

    # Imported here: asyncio costs more import time than the rest of this package, and only
    # async factories need it.
    import asyncio  # noqa: PLC0415

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # start() was called from inside a running event loop: run ours on a helper thread.
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = asyncio.run(wait())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="leader-election[async]-factory", daemon=True)
    thread.start()
    thread.join(_FACTORY_TIMEOUT)
    if thread.is_alive():
        raise TimeoutError(f"the awaitable did not complete within {_FACTORY_TIMEOUT:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["result"]
