"""Fault injection for the embedded server: slow, failing, dropping and partitioned clients.

Each call below returns a ``Fault`` handle; ``remove()`` (or leaving its ``with`` block)
lifts it, ``FaultInjector.clear()`` lifts them all. A fault applies to the requests matching
every criterion given (``user``, ``verb``, ``resource``, ``namespace``, ``name``; exact string
equality, ``None`` matches anything) and fires with probability ``rate``:

* ``latency(seconds)`` — delay the request before it is handled (latencies add up);
* ``error(status)`` — answer 429 (with ``Retry-After``), 500, 503 or 504 with a Status body;
* ``drop()`` — read the request and close the connection without answering;
* ``blackhole()`` — read the request and never answer, like a network partition. A held
  request ends when its client closes the connection, when the blackhole is removed (the
  connection is closed without an answer) or when the server stops. Watches already open
  for a matching request stall the same way: no more events until the blackhole is lifted,
  then their connection is closed and the client re-watches, as after a real partition.

Faults are checked after authentication (so per-user faults know the user) and before
authorization and handling.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from leader_election.errors import ConfigurationError

__all__ = ["Fault", "FaultDecision", "FaultInjector", "Match"]

ERROR_STATUSES = (429, 500, 503, 504)


@dataclass(frozen=True, slots=True)
class Match:
    """Which requests a fault applies to; ``None`` matches any value."""

    user: str | None = None
    verb: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None

    def matches(self, user: str, verb: str, resource: str, namespace: str, name: str) -> bool:
        return (
            (self.user is None or self.user == user)
            and (self.verb is None or self.verb == verb)
            and (self.resource is None or self.resource == resource)
            and (self.namespace is None or self.namespace == namespace)
            and (self.name is None or self.name == name)
        )


class Fault:
    """A live fault; ``remove()`` lifts it. Usable as a context manager."""

    def __init__(
        self,
        injector: FaultInjector,
        kind: str,
        match: Match,
        rate: float,
        *,
        latency: float = 0.0,
        status: int = 0,
        retry_after: int = 0,
        message: str = "",
    ) -> None:
        self._injector = injector
        self.kind = kind
        self.match = match
        self.rate = rate
        self.latency = latency
        self.status = status
        self.retry_after = retry_after
        self.message = message
        self.fired = 0
        self._active = True
        self._held: set[Callable[[], None]] = set()

    @property
    def active(self) -> bool:
        return self._active

    def remove(self) -> None:
        """Lift the fault; requests a blackhole holds are closed without an answer."""
        self._injector._remove(self)

    def hold(self, abort: Callable[[], None]) -> bool:
        """Register a held request's ``abort`` (closes its connection); False if lifted."""
        with self._injector._lock:
            if not self._active:
                return False
            self._held.add(abort)
            return True

    def release(self, abort: Callable[[], None]) -> None:
        with self._injector._lock:
            self._held.discard(abort)

    def __enter__(self) -> Fault:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"Fault({self.kind}, {self.match}, rate={self.rate}, fired={self.fired})"


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What the faults decided for one request."""

    latency: float = 0.0
    action: Fault | None = None  # an error, drop or blackhole fault that fired

    @property
    def kind(self) -> str:
        if self.action is not None:
            return self.action.kind
        return "latency" if self.latency else ""


_NO_FAULT = FaultDecision()


def _check_rate(rate: float) -> float:
    if not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise ConfigurationError(
            f"rate={rate!r} is not a probability; use a number from 0.0 (never) to 1.0 (always)",
            option="rate",
            value=rate,
        )
    return float(rate)


class FaultInjector:
    """The server's faults; switch them on and off while the server runs."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        # Dice for rate < 1, seedable for repeatable runs; not security.
        self._random = random.Random(seed)  # noqa: S311

    def seed(self, value: int | None) -> None:
        """Reseed the generator that decides whether a fault with ``rate < 1`` fires."""
        with self._lock:
            self._random.seed(value)

    @property
    def faults(self) -> list[Fault]:
        """The active faults, in the order they were added."""
        with self._lock:
            return list(self._faults)

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def latency(
        self,
        seconds: float,
        *,
        rate: float = 1.0,
        user: str | None = None,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> Fault:
        """Delay matching requests by ``seconds`` before handling them."""
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ConfigurationError(
                f"seconds={seconds!r} must be a non-negative number of seconds",
                option="seconds",
                value=seconds,
            )
        match = Match(user, verb, resource, namespace, name)
        return self._add(Fault(self, "latency", match, _check_rate(rate), latency=float(seconds)))

    def error(
        self,
        status: int = 500,
        *,
        rate: float = 1.0,
        retry_after: int = 1,
        message: str | None = None,
        user: str | None = None,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> Fault:
        """Answer matching requests with ``status`` (429, 500, 503 or 504) and a Status body.

        ``retry_after`` (seconds) goes into 429's ``Retry-After`` header and Status details.
        """
        if status not in ERROR_STATUSES:
            raise ConfigurationError(
                f"status={status!r} is not an injectable error; use one of {ERROR_STATUSES}",
                option="status",
                value=status,
            )
        if not isinstance(retry_after, int) or retry_after < 0:
            raise ConfigurationError(
                f"retry_after={retry_after!r} must be a non-negative whole number of seconds",
                option="retry_after",
                value=retry_after,
            )
        match = Match(user, verb, resource, namespace, name)
        fault = Fault(
            self,
            "error",
            match,
            _check_rate(rate),
            status=status,
            retry_after=retry_after,
            message=message or "",
        )
        return self._add(fault)

    def drop(
        self,
        *,
        rate: float = 1.0,
        user: str | None = None,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> Fault:
        """Close the connection of matching requests without answering."""
        match = Match(user, verb, resource, namespace, name)
        return self._add(Fault(self, "drop", match, _check_rate(rate)))

    def blackhole(
        self,
        *,
        rate: float = 1.0,
        user: str | None = None,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> Fault:
        """Accept matching requests and never answer them (a network partition)."""
        match = Match(user, verb, resource, namespace, name)
        return self._add(Fault(self, "blackhole", match, _check_rate(rate)))

    def _remove(self, fault: Fault) -> None:
        with self._lock:
            fault._active = False
            if fault in self._faults:
                self._faults.remove(fault)
            held = list(fault._held)
            fault._held.clear()
        for abort in held:
            abort()

    def clear(self) -> None:
        """Lift every fault (held requests are closed without an answer)."""
        for fault in self.faults:
            fault.remove()

    def partition(
        self, user: str, verb: str, resource: str, namespace: str, name: str
    ) -> Fault | None:
        """The blackhole (with ``rate`` 1) that cuts an ongoing request, such as an open watch.

        A partition also stalls connections that were open before it began: their streams stop
        until the blackhole is lifted, and then they are closed.
        """
        with self._lock:
            for fault in self._faults:
                if (
                    fault.kind == "blackhole"
                    and fault.rate >= 1.0
                    and fault.match.matches(user, verb, resource, namespace, name)
                ):
                    return fault
            return None

    def decide(
        self, user: str, verb: str, resource: str, namespace: str, name: str
    ) -> FaultDecision:
        """Roll the dice for one request."""
        with self._lock:
            if not self._faults:
                return _NO_FAULT
            latency = 0.0
            action: Fault | None = None
            for fault in self._faults:
                if not fault.match.matches(user, verb, resource, namespace, name):
                    continue
                if fault.kind == "latency":
                    if fault.rate >= 1.0 or self._random.random() < fault.rate:
                        latency += fault.latency
                        fault.fired += 1
                elif action is None and (fault.rate >= 1.0 or self._random.random() < fault.rate):
                    action = fault
                    fault.fired += 1
            if not latency and action is None:
                return _NO_FAULT
            return FaultDecision(latency, action)
