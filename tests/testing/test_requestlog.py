"""The request log: what the server answered, to whom, how fast."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from leader_election.testing import LeaseAPIServer, RequestLog, RequestLogEntry


def test_every_request_is_logged_with_its_kubernetes_attributes(
    lease_api_server: LeaseAPIServer,
) -> None:
    api = client.CoordinationV1Api(lease_api_server.api_client(user="candidate-1"))
    before = time.monotonic()
    api.create_namespaced_lease(
        "default", client.V1Lease(metadata=client.V1ObjectMeta(name="logged"))
    )
    api.read_namespaced_lease("logged", "default")
    with pytest.raises(ApiException):
        api.read_namespaced_lease("absent", "default")
    api.list_namespaced_lease("default")
    api.delete_namespaced_lease("logged", "default")
    entries = lease_api_server.requests.entries()
    assert [(e.verb, e.name, e.code) for e in entries] == [
        ("create", "", 201),
        ("get", "logged", 200),
        ("get", "absent", 404),
        ("list", "", 200),
        ("delete", "logged", 200),
    ]
    for entry in entries:
        assert entry.user == "candidate-1"
        assert entry.resource == "leases"
        assert entry.namespace == "default"
        assert entry.monotonic >= before
        assert entry.duration >= 0
        assert entry.wall.tzinfo == datetime.timezone.utc
    assert entries[0].method == "POST"
    assert entries[0].path == "/apis/coordination.k8s.io/v1/namespaces/default/leases"


def test_count_filters_and_windows(lease_api_server: LeaseAPIServer) -> None:
    api = client.CoordinationV1Api(lease_api_server.api_client())
    api.list_namespaced_lease("default")
    middle = time.monotonic()
    api.list_namespaced_lease("kube-system")
    api.list_lease_for_all_namespaces()
    log = lease_api_server.requests
    assert log.count() == 3
    assert log.count(verb="list") == 3
    assert log.count(namespace="kube-system") == 1
    assert log.count(namespace=("default", "kube-system")) == 2
    assert log.count(since=middle) == 2
    assert log.count(code=200, user="admin") == 3
    with pytest.raises(TypeError, match="unknown request log filter"):
        log.count(usr="admin")
    log.clear()
    assert log.count() == 0
    assert len(log) == 0


def test_non_resource_requests_use_the_http_method_as_verb(
    lease_api_server: LeaseAPIServer,
) -> None:
    client.VersionApi(lease_api_server.api_client()).get_code()
    [entry] = lease_api_server.requests.entries()
    assert (entry.verb, entry.resource, entry.path, entry.code) == ("get", "", "/version/", 200)


def test_the_log_is_bounded_and_thread_safe() -> None:
    log = RequestLog(maxlen=100)
    wall = datetime.datetime.now(datetime.timezone.utc)

    def writer(user: str) -> None:
        for _ in range(200):
            token = log.begin(
                RequestLogEntry(
                    time.monotonic(), wall, user, "get", "leases", "default", "x", 0, 0.0
                )
            )
            log.end(token, code=200, duration=0.001)

    threads = [
        threading.Thread(target=writer, args=(f"u{i}",), name=f"test-writer-{i}") for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(log) == 100
    assert log.in_flight() == []
    with pytest.raises(ValueError, match="maxlen"):
        RequestLog(maxlen=0)
