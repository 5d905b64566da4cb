"""Suite-wide guards: a test that leaves a thread, a server or a receiver connected to one of
the library's signals behind fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Iterator
from typing import Any

import pytest

from leader_election.events import leader_changed, leader_elected, leader_lost

# Every thread the library or the embedded server starts has a name with one of these prefixes.
OWN_THREAD_PREFIXES = ("leader-election", "lease-api-server")


def _own_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.is_alive() and t.name.startswith(OWN_THREAD_PREFIXES)
    ]


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = set(_own_threads())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [t for t in _own_threads() if t not in before]
        if not leaked or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"test left threads running: {sorted(t.name for t in leaked)}"


SIGNALS = {
    "leader_elected": leader_elected,
    "leader_lost": leader_lost,
    "leader_changed": leader_changed,
}


def _connected(signal: Any) -> dict[Hashable, Any]:
    """Receiver id -> receiver of those still connected to some sender (or to any).

    Not ``signal.receivers`` alone: ``disconnect(fn, sender=x)`` removes the association but
    leaves ``fn`` in ``receivers`` (blinker 1.9); ``_by_receiver`` holds each receiver's senders.
    """
    by_receiver: dict[Hashable, set[Hashable]] = signal._by_receiver
    return {rid: signal.receivers[rid] for rid, senders in by_receiver.items() if senders}


@pytest.fixture(autouse=True)
def _no_leftover_receivers() -> Iterator[None]:
    before = {name: set(_connected(signal)) for name, signal in SIGNALS.items()}
    yield
    leaked = {}
    for name, signal in SIGNALS.items():
        connected = _connected(signal)
        new = [connected[rid] for rid in connected.keys() - before[name]]
        if new:
            leaked[name] = new
    assert not leaked, f"test left receivers connected (disconnect them): {leaked}"
