"""Junk never hurts the server: random methods, paths, queries, headers and bodies.

Every answer must be a proper Status for errors and never a 5xx, except the two 500s the real
kube-apiserver itself gives for well-formed objects its storage layer rejects (documented in
``leader_election.testing.api``); and the server must keep answering normal requests.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client

from leader_election.testing import LeaseAPIServer

# The real server's own 500s for well-formed input (its storage layer's plain errors).
REAL_SERVER_500S = (
    "resourceVersion should not be set on objects to be created",
    "strconv.ParseUint: parsing ",
)

PREFIXES = [
    "/api",
    "/api/v1",
    "/apis",
    "/apis/coordination.k8s.io",
    "/apis/coordination.k8s.io/v1",
    "/apis/coordination.k8s.io/v1/leases",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases/junk",
    "/apis/coordination.k8s.io/v1/namespaces/nowhere/leases/junk",
    "/api/v1/namespaces",
    "/api/v1/namespaces/default",
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/configmaps/junk",
    "/api/v1/namespaces/default/events",
    "/api/v1/watch/namespaces/default/configmaps",
    "/version",
    "/healthz",
    "/",
]
QUERY_KEYS = [
    "watch",
    "limit",
    "continue",
    "timeoutSeconds",
    "resourceVersion",
    "resourceVersionMatch",
    "labelSelector",
    "fieldSelector",
    "fieldValidation",
    "dryRun",
    "pretty",
    "includeObject",
    "allowWatchBookmarks",
    "propagationPolicy",
    "gracePeriodSeconds",
    "sendInitialEvents",
]
CONTENT_TYPES = [
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
    "",
]
ACCEPTS = [
    "application/json",
    "application/json;as=Table;v=v1;g=meta.k8s.io",
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "*/*",
    "",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "name",
        "namespace",
        "labels",
        "annotations",
        "resourceVersion",
        "uid",
        "finalizers",
        "generateName",
        "holderIdentity",
        "leaseDurationSeconds",
        "acquireTime",
        "renewTime",
        "leaseTransitions",
        "strategy",
        "preferredHolder",
        "data",
        "binaryData",
        "immutable",
        "op",
        "path",
        "value",
        "from",
        "preconditions",
        "kind",
        "apiVersion",
        "metadata",
        "spec",
        "$patch",
        "involvedObject",
    ]
)
shaped = st.recursive(
    json_values,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(field_names, children, max_size=5)
    ),
    max_leaves=16,
)
bodies = st.one_of(
    st.binary(max_size=200),
    shaped.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda kind, meta, spec: json.dumps(
            {"apiVersion": "coordination.k8s.io/v1", "kind": kind, "metadata": meta, "spec": spec}
        ).encode(),
        st.sampled_from(["Lease", "ConfigMap", "Foo", ""]),
        st.dictionaries(field_names, shaped, max_size=4),
        st.dictionaries(field_names, shaped, max_size=4),
    ),
)
paths = st.one_of(
    st.sampled_from(PREFIXES),
    st.builds(
        lambda p, s: p + "/" + quote(s, safe=""), st.sampled_from(PREFIXES), st.text(max_size=15)
    ),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30).map(
        lambda t: "/" + t.replace("?", "")
    ),
)


@pytest.fixture(scope="module")
def junk_server() -> Iterator[LeaseAPIServer]:
    with LeaseAPIServer() as server:
        yield server


def exchange(
    port: int, method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """One raw request; returns status, headers and (for non-streams) the body."""
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + body)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        names = {k.lower(): v for k, v in response.getheaders()}
        if response.status == 200 and "stream=watch" in names.get("content-type", ""):
            return response.status, names, b""  # an endless watch: the status is what matters
        data = response.read()
        response.close()
        return response.status, names, data


def check(method: str, status: int, headers: dict[str, str], data: bytes) -> None:
    if status < 400:
        return
    assert headers.get("content-type", "").startswith("application/json"), (status, data[:200])
    if method == "HEAD":
        return  # a HEAD answer has no body
    body: dict[str, Any] = json.loads(data)
    assert body["kind"] == "Status", body
    assert body["status"] == "Failure", body
    assert body["code"] == status, body
    if status >= 500:
        assert body.get("message", "").startswith(REAL_SERVER_500S), body


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "BREW"]),
    path=paths,
    query=st.dictionaries(st.sampled_from(QUERY_KEYS), st.text(max_size=12), max_size=4),
    content_type=st.sampled_from(CONTENT_TYPES),
    accept=st.sampled_from(ACCEPTS),
    body=bodies,
)
def test_junk_requests_get_status_answers(
    junk_server: LeaseAPIServer,
    *,
    method: str,
    path: str,
    query: dict[str, str],
    content_type: str,
    accept: str,
    body: bytes,
) -> None:
    # Never wait on an endless watch stream: give every watch a short life.
    query = {**query, "timeoutSeconds": "1"} if "watch" in query or "/watch/" in path else query
    target = path + ("?" + urlencode(query) if query else "")
    headers = [("Authorization", f"Bearer {junk_server.token_for()}")]
    if content_type:
        headers.append(("Content-Type", content_type))
    if accept:
        headers.append(("Accept", accept))
    status, names, data = exchange(junk_server.port, method, target, headers, body)
    check(method, status, names, data)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(min_size=1, max_size=400))
def test_bytes_that_are_not_http_get_a_status_or_a_closed_connection(
    junk_server: LeaseAPIServer, garbage: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", junk_server.port), timeout=30) as sock:
        sock.sendall(garbage + b"\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if data:
        head, _, payload = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        assert 400 <= status < 500
        assert json.loads(payload)["kind"] == "Status"


def test_the_server_still_answers_after_the_junk(junk_server: LeaseAPIServer) -> None:
    api_client = junk_server.api_client()
    try:
        api = client.CoordinationV1Api(api_client)
        created = api.create_namespaced_lease(
            "default", client.V1Lease(metadata=client.V1ObjectMeta(name="after-junk"))
        )
        assert (
            api.read_namespaced_lease("after-junk", "default").metadata.uid == created.metadata.uid
        )
    finally:
        # The server outlives this test (module scope): hang up so its connection thread ends.
        api_client.rest_client.pool_manager.clear()
