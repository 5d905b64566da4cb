"""``LeaderElectionGroup``: many Leases per process, balanced across the replicas.

Each Lease of a group is a full election — its own ``state.Machine`` under ``state.step``,
client-go's rules, renew deadline, fencing token, drain-then-release — interoperable with a
``LeaderElectionModule`` (or a Go controller) on the same Lease. What a group shares:

- one elector thread, a pool of request workers, one watch of the namespace and one
  heartbeat Lease per member (``multiplex.py``);
- one dispatcher thread delivering ``leader.elected`` / ``leader.lost`` / ``leader.changed``
  with the group as sender; the event's ``lease_name`` says which Lease;
- per Lease, the leader-only work of ``runtime.Runtime`` / ``work.LeaderWork``:
  ``run_while_leader(fn)`` calls ``fn(term, lease_name)`` once per term and Lease.

Which Leases a member competes for is the balance's choice (``balance.py``): with ``M``
live members, each is assigned at most ``ceil(N / M)`` of the ``N`` Leases. See
``docs/groups.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from leader_election import process
from leader_election.balance import member_lease_name
from leader_election.connection import Connection, resolve_connection
from leader_election.dispatch import Dispatcher
from leader_election.errors import ConfigurationError, MisuseError
from leader_election.events import LeaderLostEvent, leader_lost
from leader_election.factory import call_factory
from leader_election.multiplex import Event, GroupElector
from leader_election.options import LeaderElectionOptions, forked_identity
from leader_election.runtime import Lifecycle, Runtime, job_label
from leader_election.state import LostReason, Machine, State
from leader_election.transport import Transport
from leader_election.work import JobFunction, Term

__all__ = ["GroupLease", "GroupOptions", "LeaderElectionGroup"]

logger = logging.getLogger(__name__)

J = TypeVar("J", bound=Callable[..., Any])

_GROUP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
GROUP_NAME_MAX = 40
"""Leaves room for ``-member-<10 hex>`` in a 63-character name, and fits a label value."""
MAX_SHARDS = 100_000


def _fail(option: str, value: object, rule: str) -> ConfigurationError:
    return ConfigurationError(f"{option}={value!r}: {rule}", option=option, value=value)


@dataclasses.dataclass(frozen=True, slots=True)
class GroupOptions:
    """Validated options of a group: its Leases, its name, and the options every Lease
    shares (``election``: a ``LeaderElectionOptions`` whose ``lease_name`` is unused)."""

    lease_names: tuple[str, ...]
    group_name: str
    election: LeaderElectionOptions

    @classmethod
    def build(
        cls,
        *,
        lease_names: Sequence[str] | None = None,
        shards: int | None = None,
        lease_prefix: str | None = None,
        group_name: str | None = None,
        **options: Any,
    ) -> GroupOptions:
        """Validate; raises ``ConfigurationError`` naming the option and the rule."""
        if (lease_names is None) == (shards is None):
            raise ConfigurationError(
                "give either lease_names=[...] or shards=N with lease_prefix=..., not both "
                "and not neither",
                option="lease_names",
                value=lease_names,
            )
        if shards is not None:
            if isinstance(shards, bool) or not isinstance(shards, int):
                raise _fail("shards", shards, "must be a whole number of Leases")
            if not 1 <= shards <= MAX_SHARDS:
                raise _fail("shards", shards, f"must be between 1 and {MAX_SHARDS}")
            if not lease_prefix:
                raise _fail(
                    "lease_prefix",
                    lease_prefix,
                    "is required with shards= (Leases are named "
                    "<lease_prefix>-0 ... <lease_prefix>-<shards - 1>)",
                )
            names = [f"{lease_prefix}-{index}" for index in range(shards)]
        else:
            if isinstance(lease_names, str) or not isinstance(lease_names, Sequence):
                raise _fail("lease_names", lease_names, "must be a list of Lease names")
            if lease_prefix is not None:
                raise _fail("lease_prefix", lease_prefix, "goes with shards=, not lease_names=")
            names = list(lease_names)
            if not names:
                raise _fail("lease_names", lease_names, "must name at least one Lease")
        if len(set(names)) != len(names):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            raise _fail("lease_names", lease_names, f"names {duplicates} more than once")
        if "lease_name" in options:
            raise _fail(
                "lease_name", options["lease_name"], "a group takes lease_names= or shards="
            )
        if group_name is None:
            group_name = lease_prefix
        if group_name is None:
            raise _fail(
                "group_name",
                group_name,
                "is required with lease_names= (it labels the group's Leases and names the "
                "members' heartbeat Leases); with shards= it defaults to lease_prefix",
            )
        if (
            not isinstance(group_name, str)
            or len(group_name) > GROUP_NAME_MAX
            or not _GROUP_NAME.match(group_name)
        ):
            raise _fail(
                "group_name",
                group_name,
                f"must be a lowercase RFC 1123 label of at most {GROUP_NAME_MAX} characters "
                "(lower case alphanumeric characters or '-'), e.g. 'workers'",
            )
        if options.get("await_leadership") in (True, "true", "1", "yes", "on"):
            raise _fail(
                "await_leadership",
                options["await_leadership"],
                "is not supported by a group (which Leases it leads is the balance's choice): "
                "wait with wait_for_held(count, timeout) after start()",
            )
        settings = {"await_leadership": False, **options}
        election = LeaderElectionOptions.from_mapping(
            {**settings, "lease_name": names[0]}, source="LeaderElectionGroup"
        )
        for name in names:
            # Each name must be a valid Lease name: validated as the module validates it.
            dataclasses.replace(election, lease_name=name)
        heartbeat = member_lease_name(group_name, election.identity)
        if heartbeat in names:
            raise _fail("lease_names", lease_names, f"{heartbeat!r} is the heartbeat Lease name")
        return cls(tuple(names), group_name, election)

    def with_identity(self, identity: str) -> GroupOptions:
        return dataclasses.replace(
            self, election=dataclasses.replace(self.election, identity=identity)
        )


class LeaderElectionGroup:
    """Leader election over many Leases, balanced across the members of the group.

    Create with ``for_root`` or ``for_root_async``; ``start()`` / ``stop()`` or ``with``.
    """

    def __init__(self, options: GroupOptions | None = None) -> None:
        self._options = options
        self._factory: Callable[..., Any] | None = None
        self._inject: tuple[Any, ...] = ()
        self._lock = threading.RLock()
        self._lifecycle = Lifecycle.NEW
        self._jobs: list[tuple[JobFunction, str]] = []
        self._runtimes: dict[str, _LeaseRuntime] = {}
        self._elector: GroupElector | None = None
        self._dispatcher: Dispatcher | None = None
        self._connection: Connection | None = None
        self._waiters = threading.Condition()
        self._observers: list[Any] = []
        self._prefix = "leader-election[group]"
        self._stop_thread: threading.Thread | None = None
        self._views: dict[str, GroupLease] = {}
        # The loop `async with` was entered on: coroutine jobs and receivers run there.
        self._loop: Any = None
        # A group configured before a fork (a gunicorn master) and started after it takes a
        # new identity: two processes must never share one.
        self._created_pid = os.getpid()
        # The process whose threads run the group: a copy in a forked child that no hook
        # restarted never believes it leads (its parent's deadlines are in its memory).
        self._started_pid: int | None = None
        # leader.lost events a restarted child owes its receivers (the parent's terms).
        self._inherited_lost: list[LeaderLostEvent] = []
        self._inherited_connection: Connection | None = None
        self.process_hooks = _GroupProcessHooks(self)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def for_root(
        cls,
        *,
        lease_names: Sequence[str] | None = None,
        shards: int | None = None,
        lease_prefix: str | None = None,
        group_name: str | None = None,
        **options: Any,
    ) -> LeaderElectionGroup:
        """Configure a group now; invalid options raise ``ConfigurationError`` here.

        ``lease_names=[...]`` (with ``group_name``), or ``shards=N`` with ``lease_prefix``
        (Leases ``<prefix>-0`` ... ``<prefix>-(N-1)``; ``group_name`` defaults to the
        prefix). Every other option is ``LeaderElectionModule.for_root``'s, with the same
        names and units (``renewal_interval`` in milliseconds, ...), shared by every Lease.
        """
        return cls(
            GroupOptions.build(
                lease_names=lease_names,
                shards=shards,
                lease_prefix=lease_prefix,
                group_name=group_name,
                **options,
            )
        )

    @classmethod
    def for_root_async(
        cls, *, use_factory: Callable[..., Any], inject: Sequence[Any] = ()
    ) -> LeaderElectionGroup:
        """Configure a group whose options ``use_factory(*inject)`` returns (a dict of
        ``for_root``'s keywords, or an awaitable of one) when it starts."""
        if not callable(use_factory):
            raise _fail("use_factory", use_factory, "must be callable")
        if isinstance(inject, str | bytes) or not isinstance(inject, Sequence):
            raise _fail("inject", inject, "must be a list of values passed to the factory")
        group = cls(None)
        group._factory = use_factory
        group._inject = tuple(inject)
        return group

    # -- what users read -------------------------------------------------------------------
    @property
    def options(self) -> GroupOptions:
        """The validated options; for ``for_root_async`` only once ``start()`` ran."""
        if self._options is None:
            raise MisuseError(
                "options of a for_root_async group are computed by its factory in start(); "
                "read them after start()"
            )
        return self._options

    @property
    def lease_names(self) -> tuple[str, ...]:
        return self.options.lease_names

    @property
    def group_name(self) -> str:
        return self.options.group_name

    @property
    def namespace(self) -> str:
        return self.options.election.namespace

    @property
    def identity(self) -> str:
        """This member's ``holderIdentity`` on every Lease of the group."""
        return self.options.election.identity

    @property
    def heartbeat_lease_name(self) -> str:
        """The Lease this member renews to tell the others it is alive."""
        return member_lease_name(self.group_name, self.identity)

    @property
    def held(self) -> frozenset[str]:
        """The Leases this member leads now (judged at the call, as ``is_leader``)."""
        elector = self._running_elector()
        if elector is None:
            return frozenset()
        return frozenset(name for name in self.lease_names if elector.is_leader(name))

    @property
    def members(self) -> frozenset[str]:
        """The identities of the live members, as this member last judged them."""
        elector = self._elector
        return elector.members if elector is not None else frozenset()

    @property
    def assigned(self) -> frozenset[str]:
        """The Leases the balance gives this member now (it leads them once free)."""
        elector = self._elector
        return elector.assigned if elector is not None else frozenset()

    @property
    def work_overruns(self) -> int:
        """How many terms, over all Leases, had leader-only work still running when another
        member could lead (see ``LeaderElectionModule.healthy``)."""
        return sum(runtime.work.overruns for runtime in self._runtimes.values())

    def is_leader(self, lease_name: str) -> bool:
        """True while this member leads ``lease_name`` (false at its renew deadline)."""
        self._known(lease_name)
        elector = self._running_elector()
        return elector is not None and elector.is_leader(lease_name)

    def fencing_token(self, lease_name: str) -> int | None:
        """``leaseTransitions`` of the current term of ``lease_name`` while leader."""
        self._known(lease_name)
        elector = self._running_elector()
        return elector.fencing_token(lease_name) if elector is not None else None

    def leader_of(self, lease_name: str) -> str | None:
        """The holder of ``lease_name`` this member last observed; ``None`` if nobody."""
        machine = self.machine(lease_name)
        if machine is None or machine.observed is None or machine.lease_missing:
            return None
        return machine.observed.record.holder_identity or None

    def state(self, lease_name: str) -> State:
        machine = self.machine(lease_name)
        return machine.state if machine is not None else State.STOPPED

    def machine(self, lease_name: str) -> Machine | None:
        """The election state of ``lease_name`` (for diagnostics and tests)."""
        self._known(lease_name)
        elector = self._elector
        return elector.machine(lease_name) if elector is not None else None

    def wait_for_held(self, count: int, timeout: float | None = None) -> bool:
        """Block until this member leads at least ``count`` Leases (True) or ``timeout``."""
        with self._waiters:
            self._waiters.wait_for(
                lambda: len(self.held) >= count or self._lifecycle is Lifecycle.STOPPED, timeout
            )
        return len(self.held) >= count

    def _running_elector(self) -> GroupElector | None:
        """The elector, if its threads run in this process."""
        return self._elector if self._started_pid == os.getpid() else None

    def _known(self, lease_name: str) -> None:
        if lease_name not in self.options.lease_names:
            raise MisuseError(
                f"{lease_name!r} is not a Lease of group {self.group_name!r}; its Leases: "
                + ", ".join(self.options.lease_names[:5])
                + (" ..." if len(self.options.lease_names) > 5 else "")
            )

    def lease(self, lease_name: str) -> GroupLease:
        """One Lease of the group seen as a single election (``lease_name``, ``namespace``,
        ``identity``, ``is_leader``, ``fencing_token``): what observers receive."""
        self._known(lease_name)
        view = self._views.get(lease_name)
        if view is None:
            view = self._views.setdefault(lease_name, GroupLease(self, lease_name))
        return view

    def add_observer(self, observer: Any) -> None:
        """Register an instrumentation hook (``leader_election.metrics.instrument(group)``).

        Its methods are ``LeaderElectionModule``'s observer methods (``on_request``,
        ``on_leadership``, ``on_overrun``), called with the ``GroupLease`` they concern in
        place of the module; they run on the group's threads and must be fast."""
        self._observers.append(observer)

    # -- work ------------------------------------------------------------------------------
    def run_while_leader(self, fn: J, *, name: str | None = None) -> J:
        """Run ``fn(term, lease_name)`` on its own thread for each term of each Lease.

        ``term`` (a ``Term``) is set when that Lease's term ends; ``fn`` should return then.
        A Lease handed to another member is released only after ``fn`` returned (within
        ``drain_timeout``). Coroutine functions run on the loop of ``async with group`` (or
        the loop running where ``start()`` was called), with an ``AsyncTerm`` to await.
        Usable as a decorator; returns ``fn``.
        """
        label = job_label(fn, name)
        job: JobFunction
        if inspect.iscoroutinefunction(fn):

            async def job_async(term: Term) -> Any:
                return await fn(term, term.lease_name)

            job = job_async
        else:

            def job_sync(term: Term) -> Any:
                return fn(term, term.lease_name)

            job = job_sync
        functools.update_wrapper(job, fn)
        with self._lock:
            self._jobs.append((job, label))
            for runtime in self._runtimes.values():
                runtime.work.add(job, label)
        return fn

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LeaderElectionGroup:
        """Start competing; returns self. Raises ``ConfigurationError`` (a factory failed, no
        cluster found) and ``MisuseError`` (started twice, started after stop)."""
        with self._lock:
            if self._lifecycle is not Lifecycle.NEW:
                raise MisuseError(
                    f"{self!r} was already started; a group runs once: create a new one"
                )
            options = self._resolve_options()
            if self._created_pid != os.getpid():
                options = options.with_identity(forked_identity(options.election.identity))
                self._options = options
                self._created_pid = os.getpid()
            election = options.election
            connection = self._inherited_connection or resolve_connection(
                dataclasses.replace(election, standalone=False)
            )
            assert connection is not None  # standalone=False raises instead
            self._inherited_connection = None
            self._connection = connection
            prefix = f"leader-election[{election.namespace}/group:{options.group_name}]"
            self._prefix = prefix
            dispatcher = Dispatcher(f"{prefix}-events", self)
            self._dispatcher = dispatcher
            for lease_name in options.lease_names:
                runtime = _LeaseRuntime(
                    self,
                    dataclasses.replace(election, lease_name=lease_name),
                    connection,
                    functools.partial(self._notify, lease_name),
                    leading=self._waiters,
                    jobs=list(self._jobs),
                    dispatcher=dispatcher,
                    loop=self._loop,
                )
                self._runtimes[lease_name] = runtime
            self._elector = GroupElector(
                election,
                Transport(connection.api_client),
                group_name=options.group_name,
                lease_names=options.lease_names,
                heartbeat_name=member_lease_name(options.group_name, election.identity),
                on_event=self._on_event,
                on_request=self._on_request,
                thread_prefix=prefix,
            )
            for runtime in self._runtimes.values():
                # Overrun checks on the elector thread: losing many Leases at once (a
                # partition) starts no timer thread per Lease.
                runtime.work.schedule = self._elector.schedule
            for event in self._inherited_lost:
                self._notify(event.lease_name, "on_leadership", False)
                dispatcher.put(leader_lost, event)
            self._inherited_lost = []
            dispatcher.start()
            self._started_pid = os.getpid()
            self._elector.start()
            self._lifecycle = Lifecycle.STARTED
            process.register(self.process_hooks)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop competing: every Lease drains, then is released; the heartbeat at once (the
        others take each Lease as soon as it is released).

        Waits up to ``timeout`` seconds (default: the drain timeout plus the renew deadline
        plus 5 s). Safe to call twice or before ``start()``.
        """
        with self._lock:
            process.unregister(self.process_hooks)
            if self._lifecycle is not Lifecycle.STARTED:
                self._lifecycle = Lifecycle.STOPPED
                return
            self._lifecycle = Lifecycle.STOPPED
        if self._on_own_thread():
            # Called by a receiver or a leader-only function: the drain waits for that caller
            # to return, so the rest of the stop runs on a thread of its own.
            self._stop_thread = threading.Thread(
                target=self._stop,
                args=(timeout,),
                name=f"{self._prefix}-stop",
                daemon=True,
            )
            self._stop_thread.start()
            process.finish_before_exit(
                self._stop_thread,
                timeout if timeout is not None else self.options.election.timing.stop_budget,
            )
            return
        self._stop(timeout)

    def _on_own_thread(self) -> bool:
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher.is_current_thread():
            return True
        return any(runtime.work.is_work_thread() for runtime in self._runtimes.values())

    def _stop(self, timeout: float | None) -> None:
        timing = self.options.election.timing
        budget = timeout if timeout is not None else timing.stop_budget
        clock = self.options.election.clock
        started = clock.monotonic()
        deadline = started + budget
        elector = self._elector
        assert elector is not None
        elector.request_stop()
        if not elector.join(budget):
            logger.warning(
                "group %s (%s): the elector did not stop within %.1f s",
                self.group_name,
                self.identity,
                budget,
            )
        for runtime in self._runtimes.values():
            left = min(started + timing.drain_timeout, deadline) - clock.monotonic()
            if runtime.work.wait_drained(left):
                runtime.work.join(deadline)
            else:
                logger.error(
                    "%s: %s still running after stop(); leaving it to finish on its own",
                    runtime.prefix,
                    ", ".join(runtime.running_work()) or "leader-only work",
                )
                runtime.work.join(clock.monotonic())
        if self._dispatcher is not None:
            self._dispatcher.stop(max(deadline - clock.monotonic(), 0.1))
        if self._connection is not None:
            self._connection.close()
        with self._waiters:
            self._waiters.notify_all()

    def __enter__(self) -> LeaderElectionGroup:
        return self.start()

    async def __aenter__(self) -> LeaderElectionGroup:
        """``async with group:`` — ``start()`` off the event loop; coroutine jobs and
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
        """``stop()`` off the event loop: every Lease drains (coroutine jobs included),
        then is released."""
        import asyncio  # noqa: PLC0415

        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._options is None:
            return "<LeaderElectionGroup (options from a factory)>"
        return (
            f"<LeaderElectionGroup {self.namespace}/{self.group_name} "
            f"leases={len(self.lease_names)} identity={self.identity!r} "
            f"{self._lifecycle.value}>"
        )

    # -- internals -------------------------------------------------------------------------
    def _resolve_options(self) -> GroupOptions:
        if self._options is not None:
            return self._options
        assert self._factory is not None
        result = call_factory(self._factory, self._inject)
        if not isinstance(result, Mapping):
            raise _fail("use_factory", result, "must return a dict of for_root's options")
        self._options = GroupOptions.build(**dict(result))
        return self._options

    def _on_event(self, lease_name: str, event: Event) -> None:
        runtime = self._runtimes.get(lease_name)
        if runtime is not None:
            runtime.on_event(event)

    def _drained(self, lease_name: str, token: int) -> None:
        elector = self._elector
        if elector is not None:
            elector.drained(lease_name, token)

    def _on_request(self, lease_name: str, op: Any, seconds: float, failure: Any) -> None:
        if lease_name in self.options.lease_names:  # not the heartbeat
            self._notify(lease_name, "on_request", op, seconds, failure)

    def _notify(self, lease_name: str, method: str, *args: Any) -> None:
        """Call ``method`` of every observer with the Lease's view (Runtime's notify)."""
        if not self._observers:
            return
        view = self.lease(lease_name)
        for observer in list(self._observers):
            hook = getattr(observer, method, None)
            if hook is None:
                continue
            try:
                hook(view, *args)
            except Exception:
                logger.exception("%r: observer %r raised in %s", self, observer, method)


class GroupLease:
    """One Lease of a group, with the attributes an observer reads of an election."""

    def __init__(self, group: LeaderElectionGroup, lease_name: str) -> None:
        self.group = group
        self.lease_name = lease_name

    @property
    def namespace(self) -> str:
        return self.group.namespace

    @property
    def identity(self) -> str:
        return self.group.identity

    @property
    def is_leader(self) -> bool:
        return self.group.is_leader(self.lease_name)

    @property
    def fencing_token(self) -> int | None:
        return self.group.fencing_token(self.lease_name)

    def __repr__(self) -> str:
        return f"<GroupLease {self.namespace}/{self.lease_name} of {self.group!r}>"


class _LeaseRuntime(Runtime):
    """The work and events of one Lease of a group (``Runtime.on_event``), run by the
    group's elector instead of an elector of its own."""

    group: LeaderElectionGroup
    # A thread per Lease and term for Events would break the group's thread budget: a group
    # records no Events and labels no Pod (docs/groups.md).
    announces = False

    def __init__(self, group: LeaderElectionGroup, *args: Any, **kwargs: Any) -> None:
        super().__init__(group, *args, **kwargs)
        self.group = group

    @property
    def is_leader(self) -> bool:
        elector = self.group._elector
        return elector is not None and elector.is_leader(self.options.lease_name)

    @property
    def machine(self) -> Machine | None:
        elector = self.group._elector
        return elector.machine(self.options.lease_name) if elector is not None else None

    def _drained(self, token: int) -> None:
        self.group._drained(self.options.lease_name, token)


class _GroupProcessHooks:
    """``ProcessHooks`` of a group: stop at exit and on SIGTERM/SIGINT, restart after fork."""

    def __init__(self, group: LeaderElectionGroup) -> None:
        self._group = group

    @property
    def handle_signals(self) -> bool:
        options = self._group._options
        return options is not None and options.election.handle_signals

    def stop_for_process_exit(self) -> None:
        self._group.stop()

    def stop_budget(self) -> float:
        return self._group.options.election.timing.stop_budget

    def restart_after_fork(self) -> None:
        """In a forked child: the parent's threads are gone; compete as a new member.

        As ``LeaderElectionModule``'s: a new identity (so a new heartbeat Lease), a new
        connection, and a ``leader.lost`` (reason ``stopped``, the parent's identity) for
        every Lease the parent led at the fork. Runs with no other thread alive: the locks a
        parent thread may have held are replaced, never taken.
        """
        group = self._group
        parent = group._elector
        options = group.options
        inherited = []
        for name in options.lease_names:
            machine = parent.machine(name) if parent is not None else None
            if machine is not None and machine.state in (State.LEADING, State.DRAINING):
                inherited.append(
                    LeaderLostEvent(
                        lease_name=name,
                        namespace=options.election.namespace,
                        identity=options.election.identity,
                        reason=LostReason.STOPPED,
                        fencing_token=machine.token,
                        standalone=False,
                    )
                )
        connection = group._connection
        self._reset(group)
        group._inherited_lost = inherited
        # The same configuration, a new pool: the parent's sockets carry the parent's requests.
        group._inherited_connection = connection.reopen() if connection is not None else None
        logger.info(
            "group %s: forked child %s competes as a new member",
            options.group_name,
            group.identity,
        )
        group.start()

    def start_in_child(self) -> None:
        """In a forked worker, start a group its parent deferred (``start_in_children``)."""
        group = self._group
        self._reset(group)
        group.start()

    @staticmethod
    def _reset(group: LeaderElectionGroup) -> None:
        group._lock = threading.RLock()
        group._waiters = threading.Condition()
        group._lifecycle = Lifecycle.NEW
        group._elector = None
        group._dispatcher = None
        group._connection = None
        group._runtimes = {}
        group._stop_thread = None
        group._loop = None  # the parent's event loop does not run in this process
        group._started_pid = None
        if group._options is not None:
            group._options = group._options.with_identity(
                forked_identity(group._options.election.identity)
            )
        group._created_pid = os.getpid()
