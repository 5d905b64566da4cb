"""The embedded server itself: lifecycle, connections, kubeconfigs, users, inspection."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from support import lease

from leader_election.errors import ConfigurationError, MisuseError
from leader_election.testing import LeaseAPIServer, wait_for


def server_threads(server: LeaseAPIServer) -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name.startswith(f"lease-api-server[{server.port}]")
    ]


def test_stop_joins_every_thread_and_removes_the_kubeconfig() -> None:
    server = LeaseAPIServer().start()
    kubeconfig = Path(server.kubeconfig_path)
    api = server.api_client()
    client.CoordinationV1Api(api).list_namespaced_lease("default")
    assert kubeconfig.exists()
    assert server_threads(server)
    server.stop()
    assert server_threads(server) == []
    assert not kubeconfig.exists()
    server.stop()  # idempotent


def test_the_server_is_a_context_manager_on_a_free_loopback_port() -> None:
    with LeaseAPIServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.port > 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass


def test_misuse_is_refused_with_the_remedy() -> None:
    server = LeaseAPIServer()
    with pytest.raises(MisuseError, match="call start"):
        _ = server.url
    server.start()
    with pytest.raises(MisuseError, match="create a new LeaseAPIServer"):
        server.start()
    server.stop()
    with pytest.raises(MisuseError):
        server.start()


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"port": 70000}, "port"),
        ({"history": 0}, "history"),
        ({"bookmark_interval": 0}, "bookmark_interval"),
        ({"namespaces": ["Not_Valid"]}, "namespaces"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], option: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LeaseAPIServer(**options)
    assert info.value.option == option
    assert option in str(info.value)


def test_extra_namespaces_exist_at_start() -> None:
    with LeaseAPIServer(namespaces=["team-a"]) as server:
        assert server.get_object("namespaces", "", "team-a") is not None
        assert server.get_object("ns", "", "kube-node-lease") is not None


def test_the_admin_kubeconfig_loads_in_the_official_client(
    lease_api_server: LeaseAPIServer,
) -> None:
    document = yaml.safe_load(Path(lease_api_server.kubeconfig_path).read_text())
    assert document["clusters"][0]["cluster"]["server"] == lease_api_server.url
    api = config.new_client_from_config(config_file=lease_api_server.kubeconfig_path)
    try:
        client.CoordinationV1Api(api).create_namespaced_lease("default", lease("via-kubeconfig"))
    finally:
        api.close()
        api.rest_client.pool_manager.clear()
    [entry] = lease_api_server.requests.entries(verb="create")
    assert entry.user == "admin"


def test_users_are_told_apart_by_their_tokens(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    token = lease_api_server.add_user("candidate-1", ["candidates"])
    assert lease_api_server.token_for("candidate-1") == token
    path = lease_api_server.write_kubeconfig(
        tmp_path / "candidate-2.kubeconfig", user="candidate-2"
    )
    as_one = client.CoordinationV1Api(lease_api_server.api_client(user="candidate-1"))
    as_two_client = config.new_client_from_config(config_file=path)
    try:
        as_one.list_namespaced_lease("default")
        client.CoordinationV1Api(as_two_client).list_namespaced_lease("default")
        client.CoordinationV1Api(as_two_client).list_namespaced_lease("default")
    finally:
        as_two_client.close()
        as_two_client.rest_client.pool_manager.clear()
    assert lease_api_server.requests.count(user="candidate-1", verb="list") == 1
    assert lease_api_server.requests.count(user="candidate-2", verb="list") == 2


def test_get_object_returns_what_the_api_returns(lease_api_server: LeaseAPIServer) -> None:
    api = client.CoordinationV1Api(lease_api_server.api_client())
    created = api.create_namespaced_lease("default", lease("inspected", holder_identity="x"))
    found = lease_api_server.get_object("leases", "default", "inspected")
    assert found is not None
    assert found["kind"] == "Lease"
    assert found["spec"] == {"holderIdentity": "x"}
    assert found["metadata"]["resourceVersion"] == created.metadata.resource_version
    assert lease_api_server.get_object("Lease", "default", "missing") is None
    with pytest.raises(ValueError, match="unknown resource"):
        lease_api_server.get_object("secrets", "default", "x")


def test_persistent_connections_serve_many_requests(lease_api_server: LeaseAPIServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", lease_api_server.port, timeout=10)
    try:
        for _ in range(5):
            connection.request(
                "GET", "/api/v1/namespaces/default", headers={"Accept": "application/json"}
            )
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["metadata"]["name"] == "default"
        connection.request("GET", "/version", headers={"Connection": "close"})
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Connection") == "close"
        response.read()
    finally:
        connection.close()
    # All six came over one connection: one connection thread served them.
    assert lease_api_server.requests.count() == 6


def test_stop_closes_open_watches(lease_api_server_factory: Any) -> None:
    server = lease_api_server_factory()
    api = client.CoordinationV1Api(server.api_client())
    ended = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in watch.Watch().stream(api.list_namespaced_lease, "default", timeout_seconds=60):
                pass
        except BaseException as exc:  # the connection is closed under the client
            errors.append(exc)
        finally:
            ended.set()

    thread = threading.Thread(target=run, name="test-watch")
    thread.start()
    wait_for(lambda: server.requests.in_flight(verb="watch"), what="the watch to be open")
    server.stop()
    assert ended.wait(10)
    thread.join(10)
    assert server.requests.count(verb="watch") == 1


def test_compaction_makes_older_watches_expire(lease_api_server: LeaseAPIServer) -> None:
    api = client.CoordinationV1Api(lease_api_server.api_client())
    before = api.create_namespaced_lease("default", lease("compacted")).metadata.resource_version
    api.patch_namespaced_lease("compacted", "default", {"spec": {"holderIdentity": "a"}})
    current = lease_api_server.compact()
    with pytest.raises(ApiException) as info:
        list(
            watch.Watch().stream(
                api.list_namespaced_lease, "default", resource_version=before, timeout_seconds=5
            )
        )
    assert info.value.status == 410
    assert info.value.reason == f"Expired: too old resource version: {before} ({current})"


def test_the_watch_window_is_bounded_by_history() -> None:
    with LeaseAPIServer(history=3) as server:
        api = client.CoordinationV1Api(server.api_client())
        first = api.create_namespaced_lease("default", lease("windowed")).metadata.resource_version
        for holder in "abcd":
            api.patch_namespaced_lease("windowed", "default", {"spec": {"holderIdentity": holder}})
        with pytest.raises(ApiException) as info:
            list(
                watch.Watch().stream(
                    api.list_namespaced_lease, "default", resource_version=first, timeout_seconds=5
                )
            )
        assert info.value.status == 410


def test_server_side_tables_for_kubectl(lease_api_server: LeaseAPIServer) -> None:
    api = client.CoordinationV1Api(lease_api_server.api_client())
    api.create_namespaced_lease("default", lease("tabled", holder_identity="pod-1"))
    connection = http.client.HTTPConnection("127.0.0.1", lease_api_server.port, timeout=10)
    try:
        connection.request(
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/default/leases?limit=500",
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
        )
        table = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Holder", "Age"]
    [row] = table["rows"]
    assert row["cells"][:2] == ["tabled", "pod-1"]
    assert row["cells"][2].endswith("s")
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "tabled"


def test_the_cli_serves_until_terminated(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    kubeconfig = tmp_path / "serve.kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "leader_election", "serve", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert first.startswith("Lease API server listening on http://127.0.0.1:")
        assert second.strip() == f"kubeconfig: {kubeconfig}"
        api = config.new_client_from_config(config_file=str(kubeconfig))
        try:
            assert client.CoreV1Api(api).read_namespace("default").metadata.name == "default"
        finally:
            api.close()
            api.rest_client.pool_manager.clear()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()


def test_the_cli_reports_a_busy_port() -> None:
    from leader_election.cli import main

    with LeaseAPIServer() as server:
        assert main(["serve", "--port", str(server.port)]) == 1


def test_tls_authentication_and_rbac_are_wired_in(tmp_path: Path) -> None:
    # The full 401/403/TLS behaviour is tested with the auth module; this pins the wiring.
    with LeaseAPIServer(tls=True, authentication=True, rbac=True) as server:
        document = yaml.safe_load(Path(server.kubeconfig_path).read_text())
        assert "certificate-authority-data" in document["clusters"][0]["cluster"]
        admin = config.new_client_from_config(config_file=server.kubeconfig_path)
        try:
            assert client.CoreV1Api(admin).read_namespace("default").metadata.name == "default"
        finally:
            admin.close()
            admin.rest_client.pool_manager.clear()
        server.add_user("viewer")
        with pytest.raises(ApiException) as denied:
            client.CoordinationV1Api(server.api_client(user="viewer")).list_namespaced_lease(
                "default"
            )
        assert denied.value.status == 403
        assert json.loads(denied.value.body)["reason"] == "Forbidden"
        stranger = client.Configuration()
        stranger.host = server.url
        stranger.ssl_ca_cert = server.ca_path
        stranger.api_key = {"authorization": "not-a-token"}
        stranger.api_key_prefix = {"authorization": "Bearer"}
        with client.ApiClient(stranger) as unknown:
            try:
                with pytest.raises(ApiException) as unauthorized:
                    client.CoreV1Api(unknown).read_namespace("default")
            finally:
                unknown.rest_client.pool_manager.clear()
        assert unauthorized.value.status == 401
        cert_user = client.CoreV1Api(server.api_client(user="cert-user", client_certificate=True))
        with pytest.raises(ApiException) as as_cert:
            cert_user.read_namespace("default")
        assert 'User "cert-user"' in json.loads(as_cert.value.body)["message"]


def test_the_public_names_are_pinned() -> None:
    from leader_election import testing

    assert sorted(testing.__all__) == sorted(
        [
            "Fault",
            "FaultInjector",
            "InClusterEnvironment",
            "LeaseAPIServer",
            "RequestLog",
            "RequestLogEntry",
            "WaitTimeout",
            "in_cluster_environment",
            "wait_for",
        ]
    )


def test_a_watch_from_a_future_version_sees_only_later_changes(
    lease_api_server: LeaseAPIServer,
) -> None:
    api = client.CoordinationV1Api(lease_api_server.api_client())
    future = int(lease_api_server.resource_version) + 2
    seen: list[str] = []
    for i in range(3):
        api.create_namespaced_lease("default", lease(f"future-{i}"))
    w = watch.Watch()
    for event in w.stream(
        api.list_namespaced_lease, "default", resource_version=str(future), timeout_seconds=10
    ):
        seen.append(event["raw_object"]["metadata"]["name"])
        w.stop()
        break
    assert seen == ["future-2"]


def test_stop_does_not_wait_for_a_stalled_tls_handshake(lease_api_server_factory: Any) -> None:
    server = lease_api_server_factory(tls=True)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10):
        # Connected, but never a ClientHello: the connection thread sits in the handshake.
        wait_for(lambda: len(server_threads(server)) >= 2, what="a connection thread")
        started = time.monotonic()
        server.stop(timeout=5)
        assert time.monotonic() - started < 5


def test_chunked_request_bodies_and_expect_100_continue(lease_api_server: LeaseAPIServer) -> None:
    body = json.dumps({"metadata": {"name": "chunked"}}).encode()
    token = lease_api_server.token_for()
    with socket.create_connection(("127.0.0.1", lease_api_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /apis/coordination.k8s.io/v1/namespaces/default/leases HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n")
        half = len(body) // 2
        for piece in (body[:half], body[half:]):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        assert response.status == 201
        assert json.loads(response.read())["metadata"]["name"] == "chunked"
