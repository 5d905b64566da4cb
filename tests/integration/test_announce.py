"""What a leader announces, end to end: the leader label on its Pod, Events on the Lease.

The label moves with leadership and leaves the old leader's Pod *before* the Lease is released
(it is part of the drain), so a Service selecting it never routes to two Pods for longer than
the API server takes to apply a patch, and never to a Pod whose term is over.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from leader_election import LeaderElectionModule
from leader_election.errors import ConfigurationError
from leader_election.testing import LeaseAPIServer, wait_for

FAST = {"renewal_interval": 200, "lease_duration": 1000, "handle_signals": False}


@pytest.fixture
def server() -> Iterator[LeaseAPIServer]:
    with LeaseAPIServer() as api_server:
        yield api_server


def make_pod(server: LeaseAPIServer, name: str, **labels: str) -> None:
    with server.api_client() as api:
        client.CoreV1Api(api).create_namespaced_pod(
            "default",
            {
                "metadata": {"name": name, "labels": labels},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
        )


def list_events(server: LeaseAPIServer) -> list[dict[str, Any]]:
    with server.api_client() as api:
        answer = client.CoreV1Api(api).list_namespaced_event("default")
        return [api.sanitize_for_serialization(item) for item in answer.items]


def pod_labels(server: LeaseAPIServer, name: str) -> dict[str, str]:
    pod = server.get_object("pods", "default", name)
    assert pod is not None
    return dict(pod["metadata"].get("labels") or {})


def candidate(server: LeaseAPIServer, pod: str, **options: Any) -> LeaderElectionModule:
    return LeaderElectionModule.for_root(
        lease_name="routed",
        identity=f"{pod}_0000000{pod[-1]}",
        api_client=server.api_client(user=pod),
        leader_pod_label="role=leader",
        **FAST,
        **options,
    )


def test_the_leader_label_follows_leadership_and_leaves_before_the_release(
    server: LeaseAPIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_pod(server, "pod-a", app="web", role="leader")  # left over from an earlier container
    make_pod(server, "pod-b", app="web")
    a = candidate(server, "pod-a")
    b = candidate(server, "pod-b")
    try:
        monkeypatch.setenv("POD_NAME", "pod-b")
        b.start()  # a follower clears a stale label from its own Pod: pod-b has none
        monkeypatch.setenv("POD_NAME", "pod-a")
        wait_for(lambda: b.leader_identity is not None, 10, what="b to lead")
        a.start()
        assert b.wait_for_leadership(10)
        wait_for(lambda: "role" not in pod_labels(server, "pod-a"), 5, what="a's stale label")
        wait_for(lambda: pod_labels(server, "pod-b").get("role") == "leader", 5, what="b's label")
        server.requests.clear()
        b.stop()
        assert a.wait_for_leadership(10)
        wait_for(lambda: pod_labels(server, "pod-a").get("role") == "leader", 5, what="a label")
        assert "role" not in pod_labels(server, "pod-b")
        assert pod_labels(server, "pod-b") == {"app": "web"}
        # b cleared its label, then released: in that order, from b's own requests.
        b_requests = [
            (e.verb, e.resource)
            for e in server.requests.entries(user="pod-b")
            if e.resource in ("pods", "leases") and e.verb in ("patch", "update")
        ]
        assert ("patch", "pods") in b_requests and ("update", "leases") in b_requests
        assert b_requests.index(("patch", "pods")) < len(b_requests) - 1
        assert b_requests[-1] == ("update", "leases"), "the release comes last"
    finally:
        a.stop()
        b.stop()
    assert "role" not in pod_labels(server, "pod-a")


def test_leadership_events_are_recorded_on_the_lease(server: LeaseAPIServer) -> None:
    a = LeaderElectionModule.for_root(
        lease_name="described", identity="a", api_client=server.api_client(user="a"), **FAST
    )
    with a:
        assert a.wait_for_leadership(10)
    events = list_events(server)
    messages = [e["message"] for e in events if e["involvedObject"]["name"] == "described"]
    # Listed by name, which carries no order: compare as a set.
    assert sorted(messages) == ["a became leader", "a stopped leading (released)"]
    assert {e["reason"] for e in events} == {"LeaderElection"}
    assert all(e["involvedObject"]["kind"] == "Lease" for e in events)


def test_record_events_false_records_none(server: LeaseAPIServer) -> None:
    a = LeaderElectionModule.for_root(
        lease_name="quiet",
        identity="a",
        api_client=server.api_client(user="a"),
        record_events=False,
        **FAST,
    )
    with a:
        assert a.wait_for_leadership(10)
    assert list_events(server) == []


def test_an_invalid_pod_label_is_refused_at_configuration_time() -> None:
    with pytest.raises(ConfigurationError, match=r"leader_pod_label='role'"):
        LeaderElectionModule.for_root(leader_pod_label="role")


def test_lease_labels_are_written_onto_the_lease(server: LeaseAPIServer) -> None:
    a = LeaderElectionModule.for_root(
        lease_name="labelled",
        identity="a",
        api_client=server.api_client(user="a"),
        lease_labels={"app.kubernetes.io/name": "my-app"},
        **FAST,
    )
    with a:
        assert a.wait_for_leadership(10)
        lease = server.get_object("leases", "default", "labelled")
        assert lease is not None
        assert lease["metadata"]["labels"] == {"app.kubernetes.io/name": "my-app"}


def test_invalid_lease_labels_are_refused_at_configuration_time() -> None:
    with pytest.raises(ConfigurationError, match=r"lease_labels: 'bad key!' is not a valid"):
        LeaderElectionModule.for_root(lease_labels={"bad key!": "x"})
