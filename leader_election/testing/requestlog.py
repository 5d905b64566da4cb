"""The request log: every request the embedded server answered (or held, or dropped).

Tests and benchmarks read it to count what clients did: ``server.requests.count(verb="update",
user="candidate-1")``, requests per minute from ``count(since=t0)``, or the full entries. An
entry is written when the request ends (a watch when its stream closes); requests still in
progress are listed by ``in_flight()``. Recording is one append under a lock, so it is cheap
enough to stay on while benchmarking.
"""

from __future__ import annotations

import datetime
import itertools
import threading
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["RequestLog", "RequestLogEntry"]


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """One request.

    Attributes:
        monotonic: ``time.monotonic()`` when the request arrived (seconds).
        wall: UTC wall time when the request arrived.
        user: the authenticated user name (``admin`` for the default kubeconfig).
        verb: the Kubernetes verb (get list watch create update patch delete deletecollection),
            or the lower-case HTTP method for non-resource paths such as ``/version``.
        resource: plural resource (``leases``), ``""`` for non-resource paths.
        namespace, name, subresource: from the URL, ``""`` when absent.
        code: the HTTP status answered; 0 when no answer was sent (dropped, blackholed).
        duration: seconds from arrival to the end of the answer (or of the watch stream).
        method, path: the HTTP request line.
        fault: the injected fault that shaped the answer (``latency``, ``error``, ``drop``,
            ``blackhole``) or ``""``.
    """

    monotonic: float
    wall: datetime.datetime
    user: str
    verb: str
    resource: str
    namespace: str
    name: str
    code: int
    duration: float
    method: str = ""
    path: str = ""
    subresource: str = ""
    fault: str = ""


_FILTERABLE = frozenset(
    {
        "user",
        "verb",
        "resource",
        "namespace",
        "name",
        "code",
        "method",
        "path",
        "subresource",
        "fault",
    }
)


def _matches(entry: RequestLogEntry, filters: dict[str, Any]) -> bool:
    for key, wanted in filters.items():
        value = getattr(entry, key)
        if isinstance(wanted, Collection) and not isinstance(wanted, str):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def _check_filters(filters: dict[str, Any]) -> None:
    unknown = set(filters) - _FILTERABLE
    if unknown:
        raise TypeError(
            f"unknown request log filter(s) {sorted(unknown)}; filter on {sorted(_FILTERABLE)}"
        )


class RequestLog:
    """Thread-safe, bounded log of ``RequestLogEntry`` (oldest entries fall off past ``maxlen``)."""

    def __init__(self, maxlen: int = 200_000) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen={maxlen!r} must be at least 1 (entries kept)")
        self._lock = threading.Lock()
        self._entries: deque[RequestLogEntry] = deque(maxlen=maxlen)
        self._in_flight: dict[int, RequestLogEntry] = {}
        self._ids = itertools.count()

    def begin(self, entry: RequestLogEntry) -> int:
        """Register a request in progress; returns a token for ``end``."""
        token = next(self._ids)
        with self._lock:
            self._in_flight[token] = entry
        return token

    def update(self, token: int, **changes: Any) -> None:
        """Amend a request in progress (its user becomes known after authentication)."""
        with self._lock:
            entry = self._in_flight.get(token)
            if entry is not None:
                self._in_flight[token] = replace(entry, **changes)

    def end(self, token: int, *, code: int, duration: float, fault: str = "") -> None:
        """Move a request from in flight to the log with its outcome."""
        with self._lock:
            entry = self._in_flight.pop(token, None)
            if entry is not None:
                self._entries.append(replace(entry, code=code, duration=duration, fault=fault))

    def entries(self, *, since: float | None = None, **filters: Any) -> list[RequestLogEntry]:
        """Finished requests, oldest first, matching every filter (a collection means "any of").

        ``since`` keeps entries whose ``monotonic`` arrival time is at or after it.
        """
        _check_filters(filters)
        with self._lock:
            snapshot = list(self._entries)
        return [
            e for e in snapshot if (since is None or e.monotonic >= since) and _matches(e, filters)
        ]

    def count(self, *, since: float | None = None, **filters: Any) -> int:
        """How many finished requests match (see ``entries``)."""
        _check_filters(filters)
        with self._lock:
            if since is None and not filters:
                return len(self._entries)
            snapshot = list(self._entries)
        return sum(
            1 for e in snapshot if (since is None or e.monotonic >= since) and _matches(e, filters)
        )

    def in_flight(self, **filters: Any) -> list[RequestLogEntry]:
        """Requests still being served (open watches, held or delayed requests)."""
        _check_filters(filters)
        with self._lock:
            snapshot = list(self._in_flight.values())
        return [e for e in snapshot if _matches(e, filters)]

    def clear(self) -> None:
        """Forget finished requests (requests in flight stay)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
