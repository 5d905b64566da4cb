"""The group elector: one thread running the state machines of many Leases.

A ``LeaderElectionGroup`` competes for many Leases, each with its own ``state.Machine``
driven by ``state.step`` — the very rules of a single election — but not with a thread per
Lease. Here:

- **one elector thread** owns every machine. It waits on one wake-up event until the
  earliest wake-up of a heap (one entry per machine's ``wake_at``) or the group's tick, and
  steps the machine an observation is for;
- **a small pool of request workers** sends the requests, so a slow answer for one Lease
  never delays the renewal of another. A machine has at most one request in flight: what is
  observed for it meanwhile waits in its own inbox and is fed after the request's outcome,
  exactly as the single elector feeds a request's outcome before anything else;
- **one watch** for the whole namespace, with the group's label selector, feeds every
  machine (and the membership) the changes of the Leases the group labels. A Lease without
  the label (created by someone else) is read by polling, as a single election without a
  watch does (``state.py``, rule 10), until the group writes its label on acquiring it;
- **one heartbeat Lease** per member, renewed by a machine of its own like any Lease, tells
  the other members this one is alive (``balance.Membership``).

The balance (``balance.py``) decides which Leases this member should hold. A Lease it
should not hold is *gated*: its machine's ``sit_out_until`` is held at infinity, so it does
not acquire the Lease when it is free or expired (rule 8, used as the gate); if it leads
it, it resigns it — drain, then release — and the member the Lease is assigned to takes it.

Hand-offs go only to *confirmed* members (``Membership.confirmed``: seen renewing), so the
Lease is released when its new owner is past its settle and takes it at once, and never to
a dead member whose old heartbeat a newcomer cannot yet tell from a live one. A Lease whose
owner is not confirmed is kept by the member leading it; if free, it is *rescued* by any
member once it stayed free for a renewal interval after that member's settle.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import logging
import math
import queue
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from leader_election.balance import Membership, assign
from leader_election.clock import Clock
from leader_election.errors import ApiError
from leader_election.lock import LeaseLock
from leader_election.options import LeaderElectionOptions
from leader_election.record import ObservedLease, observe
from leader_election.state import (
    Acquired,
    Changed,
    DrainAbandoned,
    Drained,
    Emit,
    Failure,
    Get,
    LeaseRead,
    Lost,
    LostReason,
    Machine,
    Observation,
    Op,
    Put,
    RequestFailed,
    ResignRequested,
    Started,
    State,
    StopRequested,
    TimerFired,
    WatchEvent,
    WatchStatus,
    WriteSucceeded,
    step,
)
from leader_election.transport import Transport, WatchStream, lease_path
from leader_election.watcher import LeaseWatcher

__all__ = ["GROUP_LABEL", "MEMBER_LABEL", "GroupElector", "GroupEventCallback"]

logger = logging.getLogger(__name__)

GROUP_LABEL = "leader-election.group"
"""Label on every Lease a group writes (its Leases and its members' heartbeats)."""
MEMBER_LABEL = "leader-election.group/member"
"""Label on a member's heartbeat Lease only."""

REQUEST_WORKERS = 2
"""Threads sending requests. With the elector, the watch and the dispatcher: five."""

_MAX_WAIT = 60.0
_NOT_LEADING = (-math.inf, -1)
_MIN_TIMEOUT = 0.01

Event = Acquired | Lost | Changed | DrainAbandoned
GroupEventCallback = Callable[[str, Event], None]
"""Called on the elector thread with a Lease name and its event; must not block."""
RequestCallback = Callable[[str, Op, float, Failure | None], None]


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcome:
    """The outcome of a machine's in-flight request (fed before its waiting observations)."""

    observation: Observation


class _Call:
    """A call scheduled on the elector thread (``GroupElector.schedule``)."""

    def __init__(self, at: float, callback: Callable[[], None]) -> None:
        self.at = at
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclasses.dataclass(frozen=True, slots=True)
class _StopGroup:
    """``stop()``: stop every Lease, then the heartbeat."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Seen:
    """The namespace watch saw a labelled Lease change (``lease`` None: deleted)."""

    lease: ObservedLease | None
    member: bool


class _Slot:
    """One Lease's machine and what the elector knows about it (elector thread only)."""

    def __init__(self, lock: LeaseLock, machine: Machine, *, heartbeat: bool) -> None:
        self.lock = lock
        self.name = lock.name
        self.machine = machine
        self.heartbeat = heartbeat
        self.in_flight = False
        self.pending: collections.deque[Observation] = collections.deque()
        self.scheduled = math.inf
        self.gated = not heartbeat
        self.own_sit_out = -math.inf
        self.reported_error = ""
        self.free_since = math.inf  # since when the balance saw the Lease free (rescue)


class _SelectorLock(LeaseLock):
    """The Leases of a namespace carrying a label: only ``watch`` is used."""

    def __init__(self, transport: Transport, namespace: str, selector: str) -> None:
        super().__init__(transport, namespace, f"[{selector}]")
        self.selector = selector

    @property
    def description(self) -> str:
        return f"{self.namespace} leases with {self.selector}"

    @property
    def what(self) -> str:
        return (
            f'leases.coordination.k8s.io with labels "{self.selector}" '
            f'in namespace "{self.namespace}"'
        )

    def watch(
        self,
        resource_version: str,
        *,
        timeout_seconds: int,
        connect_timeout: float,
        idle_timeout: float | None = None,
    ) -> WatchStream:
        query = {
            "watch": "true",
            "labelSelector": self.selector,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if resource_version:
            query["resourceVersion"] = resource_version
        return self.transport.watch(
            lease_path(self.namespace),
            query,
            what=self.what,
            connect_timeout=connect_timeout,
            read_timeout=idle_timeout if idle_timeout is not None else timeout_seconds + 30.0,
        )


class _GroupWatcher(LeaseWatcher):
    """The one watch of a group: every labelled Lease of the namespace, by name."""

    def __init__(
        self,
        lock: _SelectorLock,
        post: Callable[[str | None, Any], None],
        *,
        group_name: str,
        name: str,
        identity: str,
        connect_timeout: float,
        idle_timeout: float,
    ) -> None:
        super().__init__(
            lock,
            lambda observation: post(None, observation),
            name=name,
            identity=identity,
            connect_timeout=connect_timeout,
            idle_timeout=idle_timeout,
        )
        self._post_named = post
        self._group_name = group_name

    def _handle(self, event: dict[str, Any], resource_version: str) -> str:
        kind = event.get("type")
        obj = event.get("object")
        if kind not in ("ADDED", "MODIFIED", "DELETED") or not isinstance(obj, dict):
            return super()._handle(event, resource_version)
        metadata = obj.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        labels = metadata.get("labels")
        labels = labels if isinstance(labels, dict) else {}
        name = metadata.get("name")
        if isinstance(name, str):
            member = labels.get(MEMBER_LABEL) == self._group_name
            lease = None if kind == "DELETED" else observe(obj)
            self._post_named(name, _Seen(lease, member))
        rv = metadata.get("resourceVersion")
        return rv if isinstance(rv, str) and rv else resource_version


class GroupElector:
    """Runs the machines of a group's Leases and its heartbeat (see the module docstring)."""

    def __init__(
        self,
        options: LeaderElectionOptions,
        transport: Transport,
        *,
        group_name: str,
        lease_names: Iterable[str],
        heartbeat_name: str,
        on_event: GroupEventCallback,
        on_request: RequestCallback | None = None,
        thread_prefix: str,
        workers: int = REQUEST_WORKERS,
    ) -> None:
        from leader_election.elector import policy_for  # noqa: PLC0415 - a leaf helper

        self._options = options
        self._identity = options.identity
        self._timing = options.timing
        self._clock: Clock = options.clock
        self._group_name = group_name
        self._on_event = on_event
        self._on_request = on_request
        self._level = logging.DEBUG if options.log_at_level == "debug" else logging.INFO
        policy = policy_for(options)
        labels = {GROUP_LABEL: group_name}
        self._slots: dict[str, _Slot] = {
            name: _Slot(
                LeaseLock(transport, options.namespace, name, labels),
                Machine(policy),
                heartbeat=False,
            )
            for name in lease_names
        }
        self._shard_names = frozenset(self._slots)
        self._heartbeat = _Slot(
            LeaseLock(
                transport,
                options.namespace,
                heartbeat_name,
                {**labels, MEMBER_LABEL: group_name},
            ),
            Machine(policy),
            heartbeat=True,
        )
        self._slots[heartbeat_name] = self._heartbeat
        self._membership = Membership()
        self._members: frozenset[str] = frozenset()
        self._desired: frozenset[str] = frozenset()
        self._owners: dict[str, str] = {}  # Lease -> the member the balance assigns it to
        self._confirmed: frozenset[str] = frozenset()
        self._ready_said = False
        self._inbox: collections.deque[tuple[str | None, Any]] = collections.deque()
        self._wake = threading.Event()
        self._heap: list[tuple[float, int, str]] = []
        self._calls: list[tuple[float, int, _Call]] = []
        self._seq = itertools.count()
        self._random = random.Random()  # noqa: S311 - jitter, not security
        self._terms: dict[str, tuple[float, int]] = {}
        self._stopping = False
        self._started_at = 0.0
        self._tick_at = 0.0
        self._watch_healthy = False
        self._watch_heard_at = -math.inf
        self._stepped = threading.Condition()
        self._requests: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._thread = threading.Thread(target=self._run, name=thread_prefix, daemon=True)
        self._workers = [
            threading.Thread(
                target=self._work, name=f"{thread_prefix}-request-{index}", daemon=True
            )
            for index in range(workers)
        ]
        self._watcher = _GroupWatcher(
            _SelectorLock(transport, options.namespace, f"{GROUP_LABEL}={group_name}"),
            self.post,
            group_name=group_name,
            name=f"{thread_prefix}-watch",
            identity=self._identity,
            connect_timeout=self._timing.follower_timeout,
            idle_timeout=self._timing.watch_idle_timeout,
        )

    # -- public surface (any thread) -------------------------------------------------------
    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        self._thread.start()
        self._watcher.start()

    def post(self, name: str | None, observation: Any) -> None:
        """Hand an observation for Lease ``name`` (None: the group) to the elector thread."""
        self._inbox.append((name, observation))
        self._wake.set()

    def request_stop(self) -> None:
        self.post(None, _StopGroup())

    def schedule(self, delay: float, callback: Callable[[], None]) -> _Call:
        """Call ``callback()`` on the elector thread after ``delay`` seconds (unless
        cancelled); it must be quick. The overrun checks of the group's work use it."""
        call = _Call(self._clock.monotonic() + delay, callback)
        self.post(None, call)
        return call

    def drained(self, name: str, token: int) -> None:
        self.post(name, Drained(token))

    def join(self, timeout: float) -> bool:
        """Wait for the elector (every release included), the workers and the watch."""
        deadline = self._clock.monotonic() + timeout
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        for _ in self._workers:
            # A unique sequence number: two sentinels must never be compared by their None.
            self._requests.put((-1, next(self._seq), None))
        for worker in self._workers:
            worker.join(max(deadline - self._clock.monotonic(), 1.0))
        watch_stopped = self._watcher.stop(1.0)
        return stopped and watch_stopped and not any(w.is_alive() for w in self._workers)

    def is_leader(self, name: str) -> bool:
        return self._clock.monotonic() < self._terms.get(name, _NOT_LEADING)[0]

    def fencing_token(self, name: str) -> int | None:
        until, token = self._terms.get(name, _NOT_LEADING)
        return token if self._clock.monotonic() < until else None

    def machine(self, name: str) -> Machine | None:
        slot = self._slots.get(name)
        return slot.machine if slot is not None else None

    @property
    def members(self) -> frozenset[str]:
        """The live members as this one last judged them (itself included while running)."""
        return self._members

    @property
    def assigned(self) -> frozenset[str]:
        """The Leases the balance gives this member now."""
        return self._desired

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds after some step (True), or ``timeout`` seconds."""
        with self._stepped:
            return (
                self._stepped.wait_for(lambda: predicate() or not self._thread.is_alive(), timeout)
                and predicate()
            )

    # -- the elector thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            now = self._clock.monotonic()
            self._started_at = now
            self._tick_at = now
            for slot in self._slots.values():
                self._feed(slot, Started())
            while not self._finished():
                self._wait()
                self._wake.clear()
                while self._inbox:
                    name, item = self._inbox.popleft()
                    self._route(name, item)
                self._fire_timers()
                if self._clock.monotonic() >= self._tick_at:
                    self._tick()
                with self._stepped:
                    self._stepped.notify_all()
        except BaseException:
            logger.exception(
                "group %s (%s): the elector thread failed; this member stops competing",
                self._group_name,
                self._identity,
            )
            for slot in self._slots.values():
                if slot.machine.state is State.LEADING and not slot.heartbeat:
                    self._terms[slot.name] = _NOT_LEADING
                    self._on_event(slot.name, Lost(LostReason.RENEW_FAILED, slot.machine.token))
            raise
        finally:
            self._terms.clear()
            with self._stepped:
                self._stepped.notify_all()

    def _finished(self) -> bool:
        return self._stopping and all(
            slot.machine.state is State.STOPPED for slot in self._slots.values()
        )

    def _wait(self) -> None:
        wake = self._tick_at
        while self._heap and self._heap[0][0] != self._slots[self._heap[0][2]].scheduled:
            heapq.heappop(self._heap)  # superseded by a later schedule of the same machine
        if self._heap:
            wake = min(wake, self._heap[0][0])
        if self._calls:
            wake = min(wake, self._calls[0][0])
        wait = wake - self._clock.monotonic()
        if wait > 0 and not self._inbox:
            self._wake.wait(min(wait, _MAX_WAIT))

    def _fire_timers(self) -> None:
        now = self._clock.monotonic()
        while self._calls and self._calls[0][0] <= now:
            _, _, call = heapq.heappop(self._calls)
            if not call.cancelled:
                try:
                    call.callback()
                except Exception:
                    logger.exception("group %s: a scheduled call raised", self._group_name)
        while self._heap and self._heap[0][0] <= now:
            at, _, name = heapq.heappop(self._heap)
            slot = self._slots[name]
            if slot.scheduled != at or slot.in_flight:
                continue
            slot.scheduled = math.inf
            self._feed(slot, TimerFired())

    def _route(self, name: str | None, item: Any) -> None:
        if name is None:
            self._group_observation(item)
            return
        slot = self._slots.get(name)
        if isinstance(item, _Seen):
            self._watch_heard_at = self._clock.monotonic()
            if item.member:
                record = item.lease.record if item.lease is not None else None
                now = self._clock.monotonic()
                self._membership.observe(name, record, now, self._clock.now())
                if (
                    self._membership.alive(now) | {self._identity} != self._members
                    or self._membership.confirmed(now) | {self._identity} != self._confirmed
                ):
                    self._tick_at = now  # a member came, went or was confirmed: rebalance now
            if slot is not None:
                self._feed(slot, WatchEvent(item.lease))
            return
        if slot is None:
            return
        if isinstance(item, _Outcome):
            self._feed(slot, item.observation, outcome=True)
        else:
            self._feed(slot, item)

    def _group_observation(self, item: Any) -> None:
        if isinstance(item, _Call):
            heapq.heappush(self._calls, (item.at, next(self._seq), item))
        elif isinstance(item, _StopGroup):
            if not self._stopping:
                self._stopping = True
                # The heartbeat goes at once, with the Leases: the others then assign this
                # member's Leases among themselves, and each is taken the moment it is
                # released after its drain (it stays held, so not taken, until then).
                for slot in self._slots.values():
                    slot.gated = not slot.heartbeat
                    self._feed(slot, StopRequested())
        elif isinstance(item, WatchStatus):
            self._watch_healthy = item.healthy
            if item.healthy:
                self._watch_heard_at = self._clock.monotonic()
            else:
                # Changes may have been missed: every machine reads its Lease (rule 10).
                for slot in self._slots.values():
                    self._feed(slot, item)

    # -- one machine -----------------------------------------------------------------------
    def _feed(self, slot: _Slot, observation: Observation, *, outcome: bool = False) -> None:
        """Step ``slot``'s machine with ``observation``; an observation arriving while a
        request is in flight waits for the request's outcome."""
        if slot.in_flight and not outcome:
            slot.pending.append(observation)
            return
        slot.in_flight = False
        self._step(slot, observation)
        while not slot.in_flight and slot.pending:
            self._step(slot, slot.pending.popleft())
        if not slot.in_flight:
            self._schedule(slot)

    def _step(self, slot: _Slot, observation: Observation) -> None:
        before = self._gate(slot)
        machine, actions = step(
            before,
            observation,
            now=self._clock.monotonic(),
            wall=self._clock.now(),
            jitter=self._random.random(),
        )
        if machine.sit_out_until != math.inf:
            slot.own_sit_out = machine.sit_out_until
        slot.machine = machine
        if slot.heartbeat and machine.state is State.DRAINING:
            # A heartbeat has no work to drain: release at once.
            slot.pending.append(Drained(machine.token))
        # Publish before any event goes out, as the single elector does.
        leading = machine.state is State.LEADING
        self._terms[slot.name] = (machine.deadline, machine.token) if leading else _NOT_LEADING
        for action in actions:
            if isinstance(action, Emit):
                self._log_event(slot, action.event)
                if not slot.heartbeat:
                    self._on_event(slot.name, action.event)
            else:
                self._submit(slot, action)

    def _gate(self, slot: _Slot) -> Machine:
        """The machine with the balance's gate applied: a gated machine does not take its
        Lease when free (``sit_out_until`` = inf); an ungated one gets its own sit-out back."""
        machine = slot.machine
        if slot.heartbeat:
            # Nobody else competes for a member's heartbeat: no sit-out (rule 8 leaves a
            # Lease to the others; here it would only make the member look dead for longer).
            if machine.sit_out_until != -math.inf:
                machine = dataclasses.replace(machine, sit_out_until=-math.inf)
            return machine
        if slot.gated and machine.sit_out_until != math.inf:
            slot.own_sit_out = machine.sit_out_until
            machine = dataclasses.replace(machine, sit_out_until=math.inf)
        elif not slot.gated and machine.sit_out_until == math.inf:
            machine = dataclasses.replace(machine, sit_out_until=slot.own_sit_out)
        return machine

    def _schedule(self, slot: _Slot) -> None:
        at = slot.machine.wake_at
        if at == slot.scheduled:
            return
        slot.scheduled = at
        if math.isfinite(at):
            heapq.heappush(self._heap, (at, next(self._seq), slot.name))

    def _submit(self, slot: _Slot, action: Get | Put) -> None:
        slot.in_flight = True
        slot.scheduled = math.inf
        # A leader's writes go first: a follower's read can wait, a renewal cannot.
        priority = 0 if action.op in (Op.RENEW, Op.RELEASE) or slot.heartbeat else 1
        sent_at = self._clock.monotonic()
        self._requests.put((priority, next(self._seq), (slot, action, sent_at)))

    # -- the balance -----------------------------------------------------------------------
    def _tick(self) -> None:
        """Every half renewal interval (and on a membership change): who is alive, which
        Leases are ours, and the watch's word to the followers."""
        now = self._clock.monotonic()
        timing = self._timing
        self._tick_at = min(
            now + timing.renewal_interval / 2, self._membership.next_expiry(now) + 0.001
        )
        if self._stopping:
            return
        members = self._membership.alive(now) | {self._identity}
        if members != self._members:
            if self._members:
                logger.log(
                    self._level,
                    "group %s (%s): %d live members: %s",
                    self._group_name,
                    self._identity,
                    len(members),
                    ", ".join(sorted(members)),
                )
            self._members = members
            assignment = assign(self._shard_names, members)
            self._desired = assignment.get(self._identity, frozenset())
            self._owners = {name: who for who, names in assignment.items() for name in names}
        # At first nobody takes anything (group_settle): the heartbeats of members starting
        # together are seen by then, so they do not all grab every Lease and hand most back.
        settled_at = self._started_at + timing.group_settle
        settled = now >= settled_at
        if not settled:
            # Take the Leases handed over the moment the settle ends, not up to a tick later.
            self._tick_at = min(self._tick_at, settled_at)
        elif not self._ready_said:
            self._say_ready(now)
        confirmed = self._membership.confirmed(now) | {self._identity}
        self._confirmed = confirmed
        watching = self._watch_healthy and now < self._watch_heard_at + timing.watch_silence
        quiet = timing.renewal_interval / 2
        for name in self._shard_names:
            slot = self._slots[name]
            machine = slot.machine
            free = machine.lease_missing or (
                machine.observed is not None
                and (not machine.observed.record.is_held or now >= machine.expiry())
            )
            if not free:
                slot.free_since = math.inf
            elif slot.free_since == math.inf:
                slot.free_since = now
            unconfirmed = self._owners.get(name) not in confirmed
            keep = unconfirmed and (
                machine.state in (State.LEADING, State.DRAINING)
                or now >= max(slot.free_since, settled_at) + timing.renewal_interval
            )
            if unconfirmed and machine.state is not State.LEADING and free:
                # Wake when it may be rescued, not half an interval later.
                rescue_at = max(slot.free_since, settled_at) + timing.renewal_interval
                if rescue_at > now:
                    self._tick_at = min(self._tick_at, rescue_at)
            gated = not settled or (name not in self._desired and not keep)
            if gated != slot.gated:
                slot.gated = gated
                if not gated:
                    self._feed(slot, TimerFired())  # may take it now
            machine = slot.machine
            if gated and machine.state is State.LEADING:
                logger.log(
                    self._level,
                    "lease %s/%s (%s): handing over to balance the group",
                    self._options.namespace,
                    name,
                    self._identity,
                )
                self._feed(slot, ResignRequested())
            elif (
                watching
                and machine.state is State.FOLLOWING
                and (not machine.watch_healthy or now - machine.heard_at >= quiet)
                and self._labelled(machine)
            ):
                # The one watch speaks for every labelled Lease, also for one that nobody
                # renews (free, or its holder gone): no reads (rule 10).
                self._feed(slot, WatchStatus(healthy=True))

    def _say_ready(self, now: float) -> None:
        """Renew the heartbeat once the settle is over: the others confirm this member (and
        hand it its share) now, not a renewal interval after it started."""
        slot = self._heartbeat
        if slot.machine.state is not State.LEADING or slot.in_flight:
            return  # not created yet, or a write on its way: that one says it
        self._ready_said = True
        slot.machine = dataclasses.replace(slot.machine, renew_at=now)
        self._feed(slot, TimerFired())

    def _labelled(self, machine: Machine) -> bool:
        if machine.lease_missing:
            return True
        observed = machine.observed
        if observed is None:
            return False
        metadata = observed.body.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
        return isinstance(labels, Mapping) and labels.get(GROUP_LABEL) == self._group_name

    # -- the request workers ---------------------------------------------------------------
    def _work(self) -> None:
        while True:
            _, _, job = self._requests.get()
            if job is None:
                return
            slot, action, sent_at = job
            try:
                outcome = self._request(slot, action, sent_at)
            except Exception:  # a bug must not leave a machine waiting forever
                logger.exception("lease %s: request failed unexpectedly", slot.lock.description)
                outcome = RequestFailed(action.op, Failure.TRANSIENT, sent_at)
            if self._on_request is not None:
                failure = outcome.failure if isinstance(outcome, RequestFailed) else None
                try:
                    self._on_request(
                        slot.name, action.op, self._clock.monotonic() - sent_at, failure
                    )
                except Exception:
                    logger.exception("lease %s: a request observer raised", slot.name)
            self.post(slot.name, _Outcome(outcome))

    def _request(self, slot: _Slot, action: Get | Put, sent_at: float) -> Observation:
        # The request may have waited for a worker: it gets what is left of its timeout, and
        # counts as sent when it was queued (earlier, so a renewal's deadline is never late).
        timeout = max(action.timeout - (self._clock.monotonic() - sent_at), _MIN_TIMEOUT)
        lock = slot.lock
        try:
            if isinstance(action, Get):
                return LeaseRead(lock.get(timeout))
            if action.base is None:
                lease = lock.create(action.record, timeout)
            else:
                lease = lock.replace(action.base, action.record, timeout)
        except ApiError as exc:
            self._report_failure(slot, action.op, exc)
            return RequestFailed(action.op, exc.failure, sent_at, retry_after=exc.retry_after)
        slot.reported_error = ""
        return WriteSucceeded(action.op, lease, sent_at)

    def _report_failure(self, slot: _Slot, op: Op, exc: ApiError) -> None:
        lease = slot.lock.description
        if exc.failure is Failure.CONFLICT:
            logger.debug("lease %s (%s): %s lost a race: %s", lease, self._identity, op.value, exc)
            return
        message = str(exc)
        if message == slot.reported_error:
            logger.debug("lease %s (%s): %s failed again: %s", lease, self._identity, op.value, exc)
            return
        slot.reported_error = message
        (logger.error if exc.fatal else logger.warning)(
            "lease %s (%s): %s failed: %s", lease, self._identity, op.value, exc
        )

    def _log_event(self, slot: _Slot, event: Event) -> None:
        lease = slot.lock.description
        if isinstance(event, Acquired):
            logger.log(
                self._level,
                "lease %s: %s became leader (fencing token %d)",
                lease,
                self._identity,
                event.token,
            )
        elif isinstance(event, Lost):
            unexpected = event.reason in (
                LostReason.RENEW_FAILED,
                LostReason.TAKEN_OVER,
                LostReason.LEASE_DELETED,
            )
            logger.log(
                logging.ERROR if unexpected else self._level,
                "lease %s: %s stopped leading: %s",
                lease,
                self._identity,
                event.reason.value,
            )
