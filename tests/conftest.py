"""Suite-wide guards: a test that leaves a thread or a server behind fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

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
