"""The object store: etcd plus the watch cache, as a client of kube-apiserver sees them.

* One cluster-wide, monotonically increasing ``resourceVersion``: every write gets the next one
  (an opaque string on the wire, an ``int`` here).
* Per resource a bounded history of changes (the watch cache's window). A watch may start from
  any resourceVersion still covered; an older one fails with 410 Expired ``too old resource
  version: N (M)``. ``compact()`` drops the history, as an etcd compaction does.
* Watchers get every change of their resource in commit order; ADDED/MODIFIED/DELETED are
  decided per watcher against its selectors, as the cacher does (an object that stops matching
  is DELETED for that watcher).
* ``snapshot(resource, rv)`` rebuilds the state at an older resourceVersion from the history,
  which serves ``resourceVersionMatch=Exact`` lists and ``continue`` tokens consistently.

Everything happens under one lock; a write runs its checks and its commit inside ``transact``
so optimistic concurrency is decided atomically. Stored objects are never mutated after commit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from leader_election.testing import status
from leader_election.testing.resources import RESOURCES, ResourceType
from leader_election.testing.schema import dumps

__all__ = ["Bookmark", "Change", "Record", "Store", "Transaction", "Watcher"]

T = TypeVar("T")

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


class Record:
    """One stored version of an object, with its serialized forms cached."""

    __slots__ = ("_item_json", "obj", "rtype", "rv")

    def __init__(self, rtype: ResourceType, obj: dict[str, Any], rv: int) -> None:
        self.rtype = rtype
        self.obj = obj
        self.rv = rv
        self._item_json: bytes | None = None

    @property
    def key(self) -> Key:
        meta = self.obj["metadata"]
        return meta.get("namespace", ""), meta["name"]

    def item_json(self) -> bytes:
        """The object as a list item (no kind/apiVersion), without the trailing newline."""
        data = self._item_json
        if data is None:
            data = dumps(self.obj)[:-1]
            self._item_json = data
        return data

    def full_json(self) -> bytes:
        """The object with kind and apiVersion, as single-object responses carry it."""
        head = f'{{"kind":"{self.rtype.kind}","apiVersion":"{self.rtype.api_version}",'
        return head.encode() + self.item_json()[1:]

    def full(self) -> dict[str, Any]:
        return {"kind": self.rtype.kind, "apiVersion": self.rtype.api_version, **self.obj}


@dataclass(frozen=True, slots=True)
class Change:
    """A committed change of one object: what the watch cache keeps."""

    type: str  # ADDED, MODIFIED, DELETED
    rv: int
    record: Record  # the new state; for DELETED the last state, stamped with the delete's rv
    prev: Record | None


@dataclass(frozen=True, slots=True)
class Bookmark:
    """A point in the stream: every change up to ``rv`` has been delivered."""

    rv: int


class Watcher:
    """One watch's queue of changes; filled under the store lock, drained by its HTTP thread."""

    def __init__(
        self,
        store: Store,
        rtype: ResourceType,
        namespace: str,
        name: str,
        max_queue: int,
    ) -> None:
        self._store = store
        self.rtype = rtype
        self.namespace = namespace
        self.name = name
        self._queue: deque[Change | Bookmark] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._max_queue = max_queue
        self.closed = False
        self.overflowed = False

    def _push(self, item: Change | Bookmark) -> None:
        with self._cond:
            if self.closed:
                return
            if len(self._queue) >= self._max_queue:
                # The cacher drops a watcher that cannot keep up; its client re-watches.
                self.overflowed = True
                self.closed = True
            else:
                self._queue.append(item)
            self._cond.notify()

    def get(self, timeout: float) -> list[Change | Bookmark]:
        """Everything queued, waiting up to ``timeout`` seconds for something to arrive."""
        with self._cond:
            if not self._queue and not self.closed:
                self._cond.wait(timeout)
            items = list(self._queue)
            self._queue.clear()
            return items

    def request_bookmark(self) -> None:
        """Queue a bookmark at the current resourceVersion (after every change up to it)."""
        self._store._bookmark(self)

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify()
        self._store._forget(self)


@dataclass
class _Collection:
    """One resource's objects, change history and watchers."""

    rtype: ResourceType
    floor: int  # watches from a resourceVersion below this are too old
    capacity: int
    objects: dict[Key, Record] = field(default_factory=dict)
    history: deque[Change] = field(default_factory=deque)
    evicted: bool = False
    watchers: set[Watcher] = field(default_factory=set)

    def record_change(self, change: Change) -> None:
        self.history.append(change)
        while len(self.history) > self.capacity:
            self.history.popleft()
            self.evicted = True
        if self.evicted and self.history:
            self.floor = self.history[0].rv - 1
        elif self.evicted:
            self.floor = change.rv


class Transaction:
    """Reads and writes inside ``Store.transact``; each write commits and notifies at once."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def resource_version(self) -> int:
        return self._store._rv

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Record | None:
        return self._store._collections[rtype.resource].objects.get((namespace, name))

    def items(self, rtype: ResourceType, namespace: str | None = None) -> list[Record]:
        objects = self._store._collections[rtype.resource].objects
        if namespace is None:
            return [objects[k] for k in sorted(objects)]
        return [objects[k] for k in sorted(objects) if k[0] == namespace]

    def put(self, rtype: ResourceType, obj: dict[str, Any]) -> Record:
        """Store ``obj`` (a new dict, never mutated later) under the next resourceVersion."""
        store = self._store
        store._rv += 1
        rv = store._rv
        meta = dict(obj["metadata"])
        meta["resourceVersion"] = str(rv)
        obj = {**obj, "metadata": meta}
        collection = store._collections[rtype.resource]
        record = Record(rtype, obj, rv)
        prev = collection.objects.get(record.key)
        collection.objects[record.key] = record
        store._publish(collection, Change("MODIFIED" if prev else "ADDED", rv, record, prev))
        return record

    def delete(self, rtype: ResourceType, namespace: str, name: str) -> Record:
        """Remove an object; returns its last state stamped with the delete's resourceVersion."""
        store = self._store
        collection = store._collections[rtype.resource]
        prev = collection.objects.pop((namespace, name))
        store._rv += 1
        rv = store._rv
        meta = dict(prev.obj["metadata"])
        meta["resourceVersion"] = str(rv)
        record = Record(rtype, {**prev.obj, "metadata": meta}, rv)
        store._publish(collection, Change("DELETED", rv, record, prev))
        return prev


class Store:
    """All objects of all served resources, one lock, one resourceVersion counter."""

    def __init__(self, *, history: int = 1000, max_watch_queue: int = 10_000) -> None:
        if history < 1:
            raise ValueError(f"history={history!r} must be at least 1 (changes kept per resource)")
        self._lock = threading.Lock()
        self._rv = 0
        self._max_watch_queue = max_watch_queue
        self._collections = {
            rtype.resource: _Collection(rtype, floor=0, capacity=history) for rtype in RESOURCES
        }
        self._closed = False
        # Wakes list requests waiting for a resourceVersion the store has not reached.
        self._advanced = threading.Condition(self._lock)

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def transact(self, fn: Callable[[Transaction], T]) -> T:
        """Run ``fn`` under the store lock. ``fn`` must raise before its first write, if at all."""
        with self._lock:
            return fn(Transaction(self))

    def seal_history(self) -> None:
        """Start every watch window at the current resourceVersion (after bootstrap objects)."""
        with self._lock:
            for collection in self._collections.values():
                collection.history.clear()
                collection.floor = self._rv
                collection.evicted = False

    def compact(self) -> int:
        """Forget all history, as an etcd compaction at the current revision; returns it."""
        with self._lock:
            for collection in self._collections.values():
                collection.history.clear()
                collection.floor = self._rv
                collection.evicted = True
            return self._rv

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Record | None:
        with self._lock:
            return self._collections[rtype.resource].objects.get((namespace, name))

    def list_objects(
        self, rtype: ResourceType, namespace: str | None, at: int | None = None
    ) -> tuple[list[Record], int]:
        """Objects (sorted by namespace/name) and the resourceVersion of the list.

        ``at`` asks for the state at an older resourceVersion (410 Expired when it is no longer
        covered by the history).
        """
        with self._lock:
            collection = self._collections[rtype.resource]
            if at is None or at == self._rv:
                objects = collection.objects
                rv = self._rv
            else:
                objects = self._snapshot(collection, at)
                rv = at
            keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
            return [objects[k] for k in keys], rv

    def wait_for(self, rv: int, timeout: float) -> bool:
        """Wait until the store reaches ``rv``; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._rv < rv and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._advanced.wait(remaining)
            return self._rv >= rv

    def _snapshot(self, collection: _Collection, rv: int) -> dict[Key, Record]:
        if rv > self._rv:
            raise status.too_large_resource_version(rv, self._rv)
        if rv < collection.floor:
            raise status.expired(f"too old resource version: {rv} ({collection.floor})")
        objects = dict(collection.objects)
        for change in reversed(collection.history):
            if change.rv <= rv:
                break
            key = change.record.key
            if change.prev is None:
                objects.pop(key, None)
            else:
                objects[key] = change.prev
        return objects

    def watch(
        self,
        rtype: ResourceType,
        *,
        namespace: str = "",
        name: str = "",
        since: int | None,
    ) -> tuple[Watcher, list[Change]]:
        """Register a watcher; returns it and the changes it must see first.

        ``since=None`` (resourceVersion unset or "0") yields synthetic ADDED changes for every
        current object; ``since=N`` yields the retained changes after N, or raises 410 Expired.
        """
        with self._lock:
            collection = self._collections[rtype.resource]
            initial: list[Change] = []
            if since is None:
                for key in sorted(collection.objects):
                    record = collection.objects[key]
                    if _in_scope(key, namespace, name):
                        initial.append(Change("ADDED", record.rv, record, None))
            else:
                if since < collection.floor:
                    raise status.expired(f"too old resource version: {since} ({collection.floor})")
                for change in collection.history:
                    if change.rv > since and _in_scope(change.record.key, namespace, name):
                        initial.append(change)
            watcher = Watcher(self, rtype, namespace, name, self._max_watch_queue)
            if self._closed:
                watcher.closed = True
            else:
                collection.watchers.add(watcher)
            return watcher, initial

    def watcher_count(self) -> int:
        with self._lock:
            return sum(len(c.watchers) for c in self._collections.values())

    def close(self) -> None:
        """Close every watcher (their streams end) and refuse new ones."""
        with self._lock:
            self._closed = True
            watchers = [w for c in self._collections.values() for w in c.watchers]
            for collection in self._collections.values():
                collection.watchers.clear()
            self._advanced.notify_all()
        for watcher in watchers:
            watcher.close()

    def records(self) -> Iterator[Record]:
        with self._lock:
            items = [r for c in self._collections.values() for r in c.objects.values()]
        return iter(items)

    # -- internals (called under the lock) -------------------------------------------------------

    def _publish(self, collection: _Collection, change: Change) -> None:
        collection.record_change(change)
        key = change.record.key
        for watcher in collection.watchers:
            if _in_scope(key, watcher.namespace, watcher.name):
                watcher._push(change)
        self._advanced.notify_all()

    def _bookmark(self, watcher: Watcher) -> None:
        with self._lock:
            watcher._push(Bookmark(self._rv))

    def _forget(self, watcher: Watcher) -> None:
        with self._lock:
            self._collections[watcher.rtype.resource].watchers.discard(watcher)


def _in_scope(key: Key, namespace: str, name: str) -> bool:
    return (not namespace or key[0] == namespace) and (not name or key[1] == name)


def sorted_records(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=lambda r: r.key)
