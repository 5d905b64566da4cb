"""Fault injection: latency, error answers, dropped connections and blackholes, per user."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from leader_election.errors import ConfigurationError
from leader_election.testing import LeaseAPIServer, wait_for


def coordination(server: LeaseAPIServer, user: str | None = None) -> Any:
    api_client = server.api_client(user=user)
    api_client.configuration.retries = False
    # The official client retries connection errors through urllib3 by default; a test of a
    # dropped connection wants to see the first failure.
    api_client.rest_client.pool_manager.connection_pool_kw["retries"] = False
    return client.CoordinationV1Api(api_client)


def test_latency_delays_matching_requests(lease_api_server: LeaseAPIServer) -> None:
    api = coordination(lease_api_server)
    with lease_api_server.faults.latency(0.3, verb="list") as fault:
        started = time.monotonic()
        api.list_namespaced_lease("default")
        assert time.monotonic() - started >= 0.3
    assert fault.fired == 1
    assert not fault.active
    started = time.monotonic()
    api.list_namespaced_lease("default")
    assert time.monotonic() - started < 0.3
    [delayed, plain] = lease_api_server.requests.entries(verb="list")
    assert delayed.fault == "latency"
    assert plain.fault == ""


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (429, "TooManyRequests"),
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
        (504, "Timeout"),
    ],
)
def test_error_answers_are_status_bodies(
    lease_api_server: LeaseAPIServer, code: int, reason: str
) -> None:
    api = coordination(lease_api_server)
    lease_api_server.faults.error(code, retry_after=2, resource="leases")
    with pytest.raises(ApiException) as info:
        api.list_namespaced_lease("default")
    body = json.loads(info.value.body)
    assert info.value.status == code
    assert body["kind"] == "Status"
    assert body["reason"] == reason
    assert body["code"] == code
    if code == 429:
        assert info.value.headers["Retry-After"] == "2"
        assert body["details"] == {"retryAfterSeconds": 2}
        assert body["message"] == "Too many requests, please try again later."
    # Other resources are untouched.
    client.CoreV1Api(lease_api_server.api_client()).read_namespace("default")
    assert lease_api_server.requests.count(code=code, fault="error") == 1


def test_a_rate_decides_how_often_a_fault_fires() -> None:
    with LeaseAPIServer(fault_seed=7) as server:
        api = coordination(server)
        never = server.faults.error(500, rate=0.0)
        for _ in range(5):
            api.list_namespaced_lease("default")
        assert never.fired == 0
        never.remove()
        sometimes = server.faults.error(503, rate=0.5)
        outcomes = []
        for _ in range(40):
            try:
                api.list_namespaced_lease("default")
                outcomes.append(200)
            except ApiException as exc:
                outcomes.append(exc.status)
        assert sometimes.fired == outcomes.count(503)
        assert 5 < outcomes.count(503) < 35


def test_a_dropped_connection_gets_no_answer(lease_api_server: LeaseAPIServer) -> None:
    api = coordination(lease_api_server)
    lease_api_server.faults.drop(verb="list")
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.list_namespaced_lease("default", _request_timeout=10)
    [entry] = lease_api_server.requests.entries(verb="list")
    assert entry.code == 0
    assert entry.fault == "drop"


def test_a_blackhole_partitions_one_user_while_others_work(
    lease_api_server: LeaseAPIServer,
) -> None:
    partitioned = coordination(lease_api_server, "candidate-1")
    healthy = coordination(lease_api_server, "candidate-2")
    fault = lease_api_server.faults.blackhole(user="candidate-1")
    with pytest.raises(urllib3.exceptions.HTTPError):  # read timeout: no answer ever came
        partitioned.list_namespaced_lease("default", _request_timeout=(5, 0.5))
    healthy.list_namespaced_lease("default", _request_timeout=5)
    # The client gave up and closed its socket: the held request ends (no lingering thread).
    wait_for(
        lambda: not lease_api_server.requests.in_flight(user="candidate-1"),
        what="the held request to end",
    )
    [held] = lease_api_server.requests.entries(user="candidate-1")
    assert held.code == 0
    assert held.fault == "blackhole"
    fault.remove()
    partitioned.list_namespaced_lease("default", _request_timeout=5)


def test_lifting_a_blackhole_closes_held_connections(lease_api_server: LeaseAPIServer) -> None:
    fault = lease_api_server.faults.blackhole(resource="leases")
    connection = http.client.HTTPConnection("127.0.0.1", lease_api_server.port, timeout=30)
    outcome: list[BaseException | int] = []

    def request() -> None:
        try:
            connection.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases")
            outcome.append(connection.getresponse().status)
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    thread = threading.Thread(target=request, name="test-held-request")
    thread.start()
    try:
        wait_for(
            lambda: lease_api_server.requests.in_flight(resource="leases"),
            what="the request to be held",
        )
        fault.remove()
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(outcome[0], BaseException), "a lifted blackhole must close, not answer"
    finally:
        connection.close()


def test_stop_ends_held_requests(lease_api_server_factory: Any) -> None:
    server = lease_api_server_factory()
    server.faults.blackhole()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    done = threading.Event()

    def request() -> None:
        try:
            connection.request("GET", "/version")
            connection.getresponse()
        except (OSError, http.client.HTTPException):
            pass
        finally:
            done.set()

    thread = threading.Thread(target=request, name="test-held-request")
    thread.start()
    try:
        wait_for(server.requests.in_flight, what="the request to be held")
        server.stop()
        assert done.wait(10)
        thread.join(10)
    finally:
        connection.close()


def test_clear_lifts_every_fault(lease_api_server: LeaseAPIServer) -> None:
    faults = lease_api_server.faults
    faults.latency(1.0)
    faults.error(500, user="x")
    assert len(faults.faults) == 2
    faults.clear()
    assert faults.faults == []


@pytest.mark.parametrize(
    ("call", "option"),
    [
        (lambda f: f.error(404), "status"),
        (lambda f: f.error(500, rate=1.5), "rate"),
        (lambda f: f.drop(rate=-0.1), "rate"),
        (lambda f: f.latency(-1), "seconds"),
        (lambda f: f.error(429, retry_after=-1), "retry_after"),
    ],
)
def test_bad_fault_options_name_the_option(
    lease_api_server: LeaseAPIServer, call: Any, option: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        call(lease_api_server.faults)
    assert info.value.option == option


def test_a_blackhole_stalls_an_open_watch_and_closes_it_when_lifted(
    lease_api_server: LeaseAPIServer,
) -> None:
    watcher_api = client.CoordinationV1Api(lease_api_server.api_client(user="watcher"))
    admin = client.CoordinationV1Api(lease_api_server.api_client())
    start = admin.list_namespaced_lease("default").metadata.resource_version
    seen: list[str] = []
    ended = threading.Event()

    def run() -> None:
        try:
            for event in watch.Watch().stream(
                watcher_api.list_namespaced_lease,
                "default",
                resource_version=start,
                timeout_seconds=60,
            ):
                seen.append(event["raw_object"]["metadata"]["name"])
        except (urllib3.exceptions.HTTPError, OSError):
            pass  # the lifted partition closes the connection without a word
        finally:
            ended.set()

    thread = threading.Thread(target=run, name="test-partitioned-watch")
    thread.start()
    try:
        admin.create_namespaced_lease(
            "default", client.V1Lease(metadata=client.V1ObjectMeta(name="before"))
        )
        wait_for(lambda: seen == ["before"], what="the event before the partition")
        cut = lease_api_server.faults.blackhole(user="watcher")
        admin.create_namespaced_lease(
            "default", client.V1Lease(metadata=client.V1ObjectMeta(name="during"))
        )
        wait_for(
            lambda: lease_api_server.requests.in_flight(user="watcher", fault="blackhole"),
            what="the open watch to stall",
        )
        cut.remove()
        assert ended.wait(10)
    finally:
        thread.join(10)
    assert seen == ["before"]
    [entry] = wait_for(
        lambda: lease_api_server.requests.entries(user="watcher", verb="watch"),
        what="the cut watch in the log",
    )
    assert entry.fault == "blackhole"
