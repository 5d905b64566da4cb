"""Leadership events and the blinker signals that carry them.

One named signal per event, as Flask's ``signals.py`` does, named after the NestJS module's
events so ``blinker.signal("leader.elected")`` is the same object:

- ``leader_elected`` (``"leader.elected"``) — this candidate became leader;
- ``leader_lost`` (``"leader.lost"``) — this candidate stopped being leader, with a reason;
- ``leader_changed`` (``"leader.changed"``) — the observed holder changed (client-go's
  OnNewLeader), sent to every candidate.

The sender is the ``LeaderElectionModule``; receivers get the event as ``event=``::

    @leader_elected.connect_via(election)      # or .connect(fn, sender=election)
    def on_elected(sender, event): ...

    @on_event(LeaderLostEvent.event)           # mirrors NestJS's @OnEvent
    def on_lost(event): ...

Events are delivered by a dispatcher thread per module, in order: for one module
``leader.elected`` and ``leader.lost`` strictly alternate. A receiver that raises is logged and
skipped; a receiver that blocks delays later events, never a renewal.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import blinker

from leader_election.errors import ConfigurationError
from leader_election.state import LostReason

__all__ = [
    "LeaderChangedEvent",
    "LeaderElectedEvent",
    "LeaderEvent",
    "LeaderLostEvent",
    "LostReason",
    "leader_changed",
    "leader_elected",
    "leader_lost",
    "on_event",
]

leader_elected: blinker.NamedSignal = blinker.signal(
    "leader.elected", doc="Sent when this candidate becomes leader; event=LeaderElectedEvent."
)
leader_lost: blinker.NamedSignal = blinker.signal(
    "leader.lost", doc="Sent when this candidate stops being leader; event=LeaderLostEvent."
)
leader_changed: blinker.NamedSignal = blinker.signal(
    "leader.changed", doc="Sent when the observed holder changes; event=LeaderChangedEvent."
)


@dataclass(frozen=True, slots=True)
class LeaderElectedEvent:
    """This candidate became leader of ``namespace/lease_name``.

    ``fencing_token`` is the Lease's ``leaseTransitions`` for this term: it grows with every
    new term, so downstream systems can reject writes from an older leader.
    ``standalone`` is true when no cluster was found and leadership was assumed.
    ``since`` is when the term began, on ``time.monotonic()`` (the send time of the write that
    won it): events are delivered shortly after the fact — later still if the process was
    paused — and ``since`` orders terms as they happened.
    """

    event: ClassVar[str] = "leader.elected"
    lease_name: str
    namespace: str
    identity: str
    fencing_token: int
    standalone: bool = False
    since: float = field(default=math.nan, compare=False)


@dataclass(frozen=True, slots=True)
class LeaderLostEvent:
    """This candidate stopped being leader of ``namespace/lease_name``, for ``reason``."""

    event: ClassVar[str] = "leader.lost"
    lease_name: str
    namespace: str
    identity: str
    reason: LostReason
    fencing_token: int
    standalone: bool = False


@dataclass(frozen=True, slots=True)
class LeaderChangedEvent:
    """The holder of ``namespace/lease_name`` is now ``leader`` (``None``: nobody).

    ``identity`` is the receiving candidate's own identity; ``is_self`` tells whether the new
    leader is this candidate.
    """

    event: ClassVar[str] = "leader.changed"
    lease_name: str
    namespace: str
    identity: str
    leader: str | None

    @property
    def is_self(self) -> bool:
        return self.leader is not None and self.leader == self.identity


LeaderEvent = LeaderElectedEvent | LeaderLostEvent | LeaderChangedEvent

_SIGNALS: dict[str, blinker.NamedSignal] = {
    LeaderElectedEvent.event: leader_elected,
    LeaderLostEvent.event: leader_lost,
    LeaderChangedEvent.event: leader_changed,
}

F = TypeVar("F", bound=Callable[..., Any])


def signal_for(name: str) -> blinker.NamedSignal:
    """The signal of an event name (``"leader.elected"``, ...); ``ConfigurationError`` if none."""
    try:
        return _SIGNALS[name]
    except KeyError:
        raise ConfigurationError(
            f"event={name!r}: unknown event; expected one of {sorted(_SIGNALS)}",
            option="event",
            value=name,
        ) from None


def on_event(name: str, *, sender: Any = blinker.ANY) -> Callable[[F], F]:
    """Decorator mirroring NestJS's ``@OnEvent``: call ``fn(event)`` on each event ``name``.

    ``name`` is ``"leader.elected"``, ``"leader.lost"`` or ``"leader.changed"`` (use
    ``LeaderElectedEvent.event`` and friends). ``sender`` restricts it to one module. The
    receiver is held strongly (a lambda or closure keeps working); disconnect it with
    ``fn.disconnect()`` (set by this decorator). Returns ``fn`` unchanged otherwise.
    """
    signal = signal_for(name)

    def decorate(fn: F) -> F:
        def receiver(_sender: Any, *, event: LeaderEvent, **_: Any) -> None:
            fn(event)

        signal.connect(receiver, sender=sender, weak=False)

        def disconnect() -> None:
            # Without sender=: blinker keeps a strongly held receiver in Signal.receivers after
            # a per-sender disconnect, and this closure is connected for one sender only.
            signal.disconnect(receiver)

        # Builtins and slotted callables cannot take attributes; they just lack the shortcut.
        with contextlib.suppress(AttributeError):
            fn.disconnect = disconnect  # type: ignore[attr-defined]
        return fn

    return decorate
