"""Conformance: watching Leases with ``kubernetes.watch.Watch``, as kube-apiserver streams them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from support import lease

from leader_election.testing import wait_for


def collect(stream: Iterator[dict[str, Any]], count: int, w: watch.Watch) -> list[dict[str, Any]]:
    """The first ``count`` events of a stream (a watch has a timeout as the backstop)."""
    events = []
    for event in stream:
        events.append(event)
        if len(events) == count:
            w.stop()
            break
    return events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["raw_object"]["metadata"].get("name", "")) for e in events]


class Collector:
    """Runs a watch in a thread so changes can be made while it is open."""

    def __init__(self, func: Any, *args: Any, **kwargs: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._stopping = False
        self._watch = watch.Watch()
        self._thread = threading.Thread(
            target=self._run, args=(func, args, kwargs), name="test-watch"
        )
        self._thread.start()

    def _run(self, func: Any, args: Any, kwargs: Any) -> None:
        try:
            for event in self._watch.stream(func, *args, **kwargs):
                self.events.append(event)
        except BaseException as exc:  # reported by the test
            # Watch.stop() shuts the socket down under the reader; that is not a failure.
            if not self._stopping:
                self.error = exc
        finally:
            self.finished.set()

    def stop(self) -> None:
        self._stopping = True
        self._watch.stop()
        self._thread.join(30)
        assert not self._thread.is_alive()


def test_changes_arrive_in_order_with_increasing_resource_versions(
    leases: Any, namespace: str
) -> None:
    start = leases.list_namespaced_lease(namespace).metadata.resource_version
    created = leases.create_namespaced_lease(namespace, lease("ordered", holder_identity="a"))
    created.spec.holder_identity = "b"
    updated = leases.replace_namespaced_lease("ordered", namespace, created)
    leases.delete_namespaced_lease("ordered", namespace)
    w = watch.Watch()
    events = collect(
        w.stream(
            leases.list_namespaced_lease, namespace, resource_version=start, timeout_seconds=20
        ),
        3,
        w,
    )
    assert summary(events) == [
        ("ADDED", "ordered"),
        ("MODIFIED", "ordered"),
        ("DELETED", "ordered"),
    ]
    versions = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    assert versions[0] == int(created.metadata.resource_version)
    assert versions[1] == int(updated.metadata.resource_version)
    # A DELETED event carries the object's last state, stamped with the deletion's version.
    assert versions[2] > versions[1]
    assert events[2]["raw_object"]["spec"]["holderIdentity"] == "b"
    assert events[0]["raw_object"]["kind"] == "Lease"
    assert events[0]["raw_object"]["apiVersion"] == "coordination.k8s.io/v1"
    assert isinstance(events[0]["object"], client.V1Lease)


@pytest.mark.parametrize("resource_version", [None, "0"])
def test_a_watch_without_a_version_starts_with_the_current_objects(
    leases: Any, namespace: str, resource_version: str | None
) -> None:
    leases.create_namespaced_lease(namespace, lease("existing-a"))
    leases.create_namespaced_lease(namespace, lease("existing-b"))
    collector = Collector(
        leases.list_namespaced_lease,
        namespace,
        timeout_seconds=20,
        **({"resource_version": resource_version} if resource_version else {}),
    )
    try:
        wait_for(lambda: len(collector.events) >= 2, what="synthetic ADDED events")
        leases.create_namespaced_lease(namespace, lease("later"))
        wait_for(lambda: len(collector.events) >= 3, what="the live ADDED event")
    finally:
        collector.stop()
    assert sorted(summary(collector.events[:2])) == [
        ("ADDED", "existing-a"),
        ("ADDED", "existing-b"),
    ]
    assert summary(collector.events[2:]) == [("ADDED", "later")]


def test_a_compacted_resource_version_ends_the_watch_with_410_expired(
    leases: Any, namespace: str
) -> None:
    # "1" is older than any apiserver's watch window.
    with pytest.raises(ApiException) as info:
        list(
            watch.Watch().stream(
                leases.list_namespaced_lease, namespace, resource_version="1", timeout_seconds=10
            )
        )
    assert info.value.status == 410
    assert info.value.reason.startswith("Expired: too old resource version: 1 (")


def test_a_field_selector_watch_sees_only_its_object(leases: Any, namespace: str) -> None:
    start = leases.list_namespaced_lease(namespace).metadata.resource_version
    leases.create_namespaced_lease(namespace, lease("other"))
    leases.create_namespaced_lease(namespace, lease("mine"))
    leases.patch_namespaced_lease(
        "other",
        namespace,
        {"spec": {"holderIdentity": "x"}},
        _content_type="application/merge-patch+json",
    )
    leases.patch_namespaced_lease(
        "mine",
        namespace,
        {"spec": {"holderIdentity": "y"}},
        _content_type="application/merge-patch+json",
    )
    w = watch.Watch()
    events = collect(
        w.stream(
            leases.list_namespaced_lease,
            namespace,
            resource_version=start,
            field_selector="metadata.name=mine",
            timeout_seconds=20,
        ),
        2,
        w,
    )
    assert summary(events) == [("ADDED", "mine"), ("MODIFIED", "mine")]


def test_a_label_selector_watch_sees_objects_enter_and_leave(leases: Any, namespace: str) -> None:
    start = leases.list_namespaced_lease(namespace).metadata.resource_version
    leases.create_namespaced_lease(
        namespace,
        client.V1Lease(metadata=client.V1ObjectMeta(name="moving", labels={"role": "other"})),
    )
    leases.patch_namespaced_lease(
        "moving",
        namespace,
        {"metadata": {"labels": {"role": "leader"}}},
        _content_type="application/merge-patch+json",
    )
    leases.patch_namespaced_lease(
        "moving",
        namespace,
        {"spec": {"holderIdentity": "z"}},
        _content_type="application/merge-patch+json",
    )
    leases.patch_namespaced_lease(
        "moving",
        namespace,
        {"metadata": {"labels": {"role": "other"}}},
        _content_type="application/merge-patch+json",
    )
    w = watch.Watch()
    events = collect(
        w.stream(
            leases.list_namespaced_lease,
            namespace,
            resource_version=start,
            label_selector="role=leader",
            timeout_seconds=20,
        ),
        3,
        w,
    )
    # Starting to match is ADDED, stopping to match is DELETED (with the last matching state).
    assert summary(events) == [("ADDED", "moving"), ("MODIFIED", "moving"), ("DELETED", "moving")]
    assert events[2]["raw_object"]["metadata"]["labels"] == {"role": "leader"}


def test_timeout_seconds_closes_the_stream_cleanly(leases: Any, namespace: str) -> None:
    started = time.monotonic()
    events = list(
        watch.Watch().stream(
            leases.list_namespaced_lease,
            namespace,
            resource_version=leases.list_namespaced_lease(namespace).metadata.resource_version,
            timeout_seconds=1,
        )
    )
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.5 <= elapsed < 15


def test_bookmarks_carry_only_a_resource_version(leases: Any, namespace: str) -> None:
    start = leases.list_namespaced_lease(namespace).metadata.resource_version
    # A watch that allows bookmarks gets one shortly before its timeout (and then periodically).
    events = list(
        watch.Watch().stream(
            leases.list_namespaced_lease,
            namespace,
            resource_version=start,
            allow_watch_bookmarks=True,
            timeout_seconds=4,
        )
    )
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, "no BOOKMARK before the watch timed out"
    for bookmark in bookmarks:
        obj = bookmark["raw_object"]
        assert obj["kind"] == "Lease"
        assert obj["apiVersion"] == "coordination.k8s.io/v1"
        assert int(obj["metadata"]["resourceVersion"]) >= int(start)
        assert set(obj["metadata"]) <= {"resourceVersion", "creationTimestamp", "annotations"}


def test_a_watch_across_all_namespaces(leases: Any, core: Any, namespace: str) -> None:
    start = leases.list_lease_for_all_namespaces(limit=1).metadata.resource_version
    leases.create_namespaced_lease(namespace, lease("everywhere-a"))
    w = watch.Watch()
    events = collect(
        w.stream(
            leases.list_lease_for_all_namespaces,
            resource_version=start,
            field_selector=f"metadata.namespace={namespace}",
            timeout_seconds=20,
        ),
        1,
        w,
    )
    assert [(e["type"], e["raw_object"]["metadata"]["namespace"]) for e in events] == [
        ("ADDED", namespace)
    ]


def test_live_changes_reach_an_open_watch(leases: Any, namespace: str) -> None:
    start = leases.list_namespaced_lease(namespace).metadata.resource_version
    collector = Collector(
        leases.list_namespaced_lease, namespace, resource_version=start, timeout_seconds=30
    )
    try:
        for i in range(5):
            leases.create_namespaced_lease(namespace, lease(f"live-{i}"))
        wait_for(lambda: len(collector.events) >= 5, what="five live ADDED events")
    finally:
        collector.stop()
    assert summary(collector.events) == [("ADDED", f"live-{i}") for i in range(5)]
    assert collector.error is None
