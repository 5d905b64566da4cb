"""Authentication, RBAC and TLS end to end: the real ``kubernetes`` client and kubectl against
the embedded server, answering as kube-apiserver would.

The expected 401/403 bodies and kubectl lines are written out literally (not computed with
``leader_election.testing.auth``) so that these tests check the wire, not the helper.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from support import ROLE_YAML, ROLEBINDING_YAML

from leader_election.testing import LeaseAPIServer, in_cluster_environment
from leader_election.testing.auth import service_account_groups, service_account_username
from leader_election.testing.tls import ServerTLS

TIMEOUT = 10  # seconds, for every request

SA_USER = service_account_username("default", "leader-election")


READER_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: lease-reader, namespace: default}
rules:
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["get", "list", "watch"]
"""


def forbidden_body(message: str, details: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    }


def lease_body(name: str, holder: str = "me") -> client.V1Lease:
    return client.V1Lease(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1LeaseSpec(holder_identity=holder, lease_duration_seconds=15),
    )


def kubeconfig_ca(kubeconfig_path: str) -> bytes:
    data = yaml.safe_load(Path(kubeconfig_path).read_text())
    return base64.b64decode(data["clusters"][0]["cluster"]["certificate-authority-data"])


@pytest.fixture
def server() -> Iterator[LeaseAPIServer]:
    with LeaseAPIServer(tls=True, authentication=True, rbac=True) as srv:
        yield srv


@pytest.fixture
def ca_file(server: LeaseAPIServer, tmp_path: Path) -> str:
    path = tmp_path / "ca.crt"
    path.write_bytes(kubeconfig_ca(server.kubeconfig_path))
    return str(path)


@pytest.fixture
def admin(server: LeaseAPIServer) -> Iterator[client.CoordinationV1Api]:
    with server.api_client() as api_client:
        yield client.CoordinationV1Api(api_client)


def token_client(server: LeaseAPIServer, ca_file: str, token: str | None) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = server.url
    configuration.ssl_ca_cert = ca_file
    if token is not None:
        configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


# -- 401 ----------------------------------------------------------------------------------


def test_an_unknown_token_is_401_with_kube_apiservers_status(
    server: LeaseAPIServer, ca_file: str
) -> None:
    with (
        token_client(server, ca_file, "not-a-token") as api_client,
        pytest.raises(ApiException) as info,
    ):
        client.CoordinationV1Api(api_client).read_namespaced_lease(
            "x", "default", _request_timeout=TIMEOUT
        )
    assert info.value.status == 401
    assert status_of(info.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_no_credentials_is_system_anonymous_and_forbidden(
    server: LeaseAPIServer, ca_file: str
) -> None:
    with (
        token_client(server, ca_file, None) as api_client,
        pytest.raises(ApiException) as info,
    ):
        client.CoordinationV1Api(api_client).list_namespaced_lease(
            "default", _request_timeout=TIMEOUT
        )
    assert info.value.status == 403
    assert status_of(info.value)["message"] == (
        'leases.coordination.k8s.io is forbidden: User "system:anonymous" cannot list resource '
        '"leases" in API group "coordination.k8s.io" in the namespace "default"'
    )


# -- 403 ----------------------------------------------------------------------------------


def test_a_role_without_the_verb_gives_the_exact_403(
    server: LeaseAPIServer, ca_file: str, admin: client.CoordinationV1Api
) -> None:
    server.rbac.load(READER_ROLE)
    token = server.add_user("bob")
    server.rbac.bind("lease-reader", namespace="default", user="bob")
    admin.create_namespaced_lease("default", lease_body("x"), _request_timeout=TIMEOUT)

    with token_client(server, ca_file, token) as api_client:
        bob = client.CoordinationV1Api(api_client)
        lease = bob.read_namespaced_lease("x", "default", _request_timeout=TIMEOUT)
        lease.spec.holder_identity = "bob"
        with pytest.raises(ApiException) as info:
            bob.replace_namespaced_lease("x", "default", lease, _request_timeout=TIMEOUT)

    assert info.value.status == 403
    assert status_of(info.value) == forbidden_body(
        'leases.coordination.k8s.io "x" is forbidden: User "bob" cannot update resource '
        '"leases" in API group "coordination.k8s.io" in the namespace "default"',
        {"name": "x", "group": "coordination.k8s.io", "kind": "leases"},
    )


def test_a_binding_to_a_missing_role_says_so_in_the_403(
    server: LeaseAPIServer, ca_file: str
) -> None:
    # The rolebinding.yaml alone, without its role.yaml: a classic deployment mistake.
    server.rbac.load(ROLEBINDING_YAML)
    token = server.add_user(SA_USER, service_account_groups("default"))
    with (
        token_client(server, ca_file, token) as api_client,
        pytest.raises(ApiException) as info,
    ):
        client.CoordinationV1Api(api_client).read_namespaced_lease(
            "my-lease", "default", _request_timeout=TIMEOUT
        )
    assert status_of(info.value)["message"] == (
        'leases.coordination.k8s.io "my-lease" is forbidden: User '
        '"system:serviceaccount:default:leader-election" cannot get resource "leases" in API '
        'group "coordination.k8s.io" in the namespace "default": RBAC: '
        'role.rbac.authorization.k8s.io "leader-election" not found'
    )


def test_a_role_from_yaml_files_with_resource_names_behaves_as_on_a_cluster(
    server: LeaseAPIServer, ca_file: str, tmp_path: Path
) -> None:
    (tmp_path / "role.yaml").write_text(ROLE_YAML)
    (tmp_path / "rolebinding.yaml").write_text(ROLEBINDING_YAML)
    server.rbac.load(tmp_path / "role.yaml")
    server.rbac.load(tmp_path / "rolebinding.yaml")
    token = server.add_user(SA_USER, service_account_groups("default"))

    with token_client(server, ca_file, token) as api_client:
        api = client.CoordinationV1Api(api_client)

        def denied(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            with pytest.raises(ApiException) as info:
                call(*args, _request_timeout=TIMEOUT, **kwargs)
            assert info.value.status == 403
            return status_of(info.value)

        # create has no name to check, so its own rule allows any name ...
        api.create_namespaced_lease("default", lease_body("my-lease"), _request_timeout=TIMEOUT)
        api.create_namespaced_lease("default", lease_body("another"), _request_timeout=TIMEOUT)
        # ... while get and update are held to resourceNames.
        lease = api.read_namespaced_lease("my-lease", "default", _request_timeout=TIMEOUT)
        lease.spec.holder_identity = "le-pod"
        api.replace_namespaced_lease("my-lease", "default", lease, _request_timeout=TIMEOUT)
        assert denied(api.read_namespaced_lease, "another", "default")["message"] == (
            'leases.coordination.k8s.io "another" is forbidden: User '
            '"system:serviceaccount:default:leader-election" cannot get resource "leases" in API '
            'group "coordination.k8s.io" in the namespace "default"'
        )
        # A list without a name cannot match a rule that lists names ...
        assert denied(api.list_namespaced_lease, "default")["message"] == (
            "leases.coordination.k8s.io is forbidden: User "
            '"system:serviceaccount:default:leader-election" cannot list resource "leases" in API '
            'group "coordination.k8s.io" in the namespace "default"'
        )
        # ... but a list or watch narrowed by metadata.name carries the name, as kube-apiserver's
        # RequestInfo resolver sets it from the field selector.
        one = api.list_namespaced_lease(
            "default", field_selector="metadata.name=my-lease", _request_timeout=TIMEOUT
        )
        assert [item.metadata.name for item in one.items] == ["my-lease"]
        response = api.list_namespaced_lease(
            "default",
            field_selector="metadata.name=my-lease",
            watch=True,
            timeout_seconds=1,
            _preload_content=False,
            _request_timeout=TIMEOUT,
        )
        try:
            assert response.status == 200
        finally:
            response.release_conn()
        assert denied(api.delete_namespaced_lease, "my-lease", "default")["details"] == {
            "name": "my-lease",
            "group": "coordination.k8s.io",
            "kind": "leases",
        }


# -- TLS ----------------------------------------------------------------------------------


def test_the_kubeconfig_carries_the_ca_and_the_client_verifies_the_server(
    server: LeaseAPIServer,
) -> None:
    kubeconfig = yaml.safe_load(Path(server.kubeconfig_path).read_text())
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == server.url
    assert cluster["server"].startswith("https://127.0.0.1:")
    assert "insecure-skip-tls-verify" not in cluster
    assert kubeconfig_ca(server.kubeconfig_path).startswith(b"-----BEGIN CERTIFICATE-----")

    with config.new_client_from_config(config_file=server.kubeconfig_path) as api_client:
        leases = client.CoordinationV1Api(api_client).list_namespaced_lease(
            "default", _request_timeout=TIMEOUT
        )
    assert leases.items == []


def test_a_client_trusting_another_ca_refuses_the_server(
    server: LeaseAPIServer, tmp_path: Path
) -> None:
    stranger = tmp_path / "other-ca.crt"
    stranger.write_bytes(ServerTLS().ca_pem)
    configuration = client.Configuration()
    configuration.host = server.url
    configuration.ssl_ca_cert = str(stranger)
    configuration.retries = False
    with client.ApiClient(configuration) as api_client, pytest.raises(ApiException) as info:
        client.CoordinationV1Api(api_client).list_namespaced_lease(
            "default", _request_timeout=TIMEOUT
        )
    # client-python reports a transport failure as status 0 with the SSL error as reason.
    assert info.value.status == 0
    assert "CERTIFICATE_VERIFY_FAILED" in info.value.reason


def test_a_client_certificate_authenticates_as_cn_with_o_as_groups(
    server: LeaseAPIServer, tmp_path: Path
) -> None:
    server.rbac.load(READER_ROLE)
    server.rbac.bind("lease-reader", namespace="default", group="lease-readers")
    server.add_user("carol", ["lease-readers"])
    path = server.write_kubeconfig(
        tmp_path / "carol.kubeconfig", user="carol", client_certificate=True
    )
    user = yaml.safe_load(Path(path).read_text())["users"][0]["user"]
    # Only the certificate identifies carol: no token travels.
    assert set(user) == {"client-certificate-data", "client-key-data"}
    subject = x509.load_pem_x509_certificate(
        base64.b64decode(user["client-certificate-data"])
    ).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "carol"
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "lease-readers"
    ]

    with config.new_client_from_config(config_file=path) as api_client:
        api = client.CoordinationV1Api(api_client)
        # Granted through the group the certificate's O names ...
        assert api.list_namespaced_lease("default", _request_timeout=TIMEOUT).items == []
        # ... and denied as the user its CN names.
        with pytest.raises(ApiException) as info:
            api.create_namespaced_lease("default", lease_body("x"), _request_timeout=TIMEOUT)
    assert status_of(info.value)["message"] == (
        'leases.coordination.k8s.io is forbidden: User "carol" cannot create resource "leases" '
        'in API group "coordination.k8s.io" in the namespace "default"'
    )


def test_a_system_masters_certificate_may_do_everything(
    server: LeaseAPIServer, tmp_path: Path
) -> None:
    server.add_user("root", ["system:masters"])
    path = server.write_kubeconfig(
        tmp_path / "root.kubeconfig", user="root", client_certificate=True
    )
    with config.new_client_from_config(config_file=path) as api_client:
        api = client.CoordinationV1Api(api_client)
        api.create_namespaced_lease("kube-system", lease_body("x"), _request_timeout=TIMEOUT)
        api.delete_namespaced_lease("x", "kube-system", _request_timeout=TIMEOUT)


# -- in-cluster configuration ---------------------------------------------------------------


def test_load_incluster_config_authenticates_as_the_service_account(
    server: LeaseAPIServer,
) -> None:
    server.rbac.load(ROLE_YAML + "---\n" + ROLEBINDING_YAML)
    with in_cluster_environment(server) as env:
        assert env.user == SA_USER
        config.load_incluster_config()
        with client.ApiClient() as api_client:
            api = client.CoordinationV1Api(api_client)
            created = api.create_namespaced_lease(
                "default", lease_body("my-lease", holder="pod-1"), _request_timeout=TIMEOUT
            )
            assert created.spec.holder_identity == "pod-1"
            with pytest.raises(ApiException) as info:
                api.read_namespaced_lease("not-mine", "default", _request_timeout=TIMEOUT)
    assert status_of(info.value)["message"] == (
        'leases.coordination.k8s.io "not-mine" is forbidden: User '
        '"system:serviceaccount:default:leader-election" cannot get resource "leases" in API '
        'group "coordination.k8s.io" in the namespace "default"'
    )
    # The lease really was written by the service account's client.
    stored = server.get_object("leases", "default", "my-lease")
    assert stored is not None
    assert stored["spec"]["holderIdentity"] == "pod-1"


def test_the_pods_token_stops_working_when_the_pod_is_gone(
    server: LeaseAPIServer, ca_file: str
) -> None:
    with in_cluster_environment(server) as env:
        token = env.token
    with (
        token_client(server, ca_file, token) as api_client,
        pytest.raises(ApiException) as info,
    ):
        client.CoordinationV1Api(api_client).list_namespaced_lease(
            "default", _request_timeout=TIMEOUT
        )
    assert info.value.status == 401


# -- kubectl ------------------------------------------------------------------------------

KUBECTL = shutil.which("kubectl")


def kubectl(kubeconfig: str, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
def test_kubectl_over_tls_prints_kube_apiservers_forbidden_line(
    server: LeaseAPIServer, admin: client.CoordinationV1Api, tmp_path: Path
) -> None:
    server.rbac.load(READER_ROLE)
    server.add_user("bob")
    server.rbac.bind("lease-reader", namespace="default", user="bob")
    admin.create_namespaced_lease("default", lease_body("my-lease"), _request_timeout=TIMEOUT)
    bob = server.write_kubeconfig(tmp_path / "bob.kubeconfig", user="bob")
    cache = tmp_path / "kube-cache"

    # Discovery and a granted verb work for the restricted user ...
    got = kubectl(bob, cache, "get", "lease", "my-lease", "-n", "default", "-o", "name")
    assert got.returncode == 0, got.stderr
    assert got.stdout == "lease.coordination.k8s.io/my-lease\n"

    # ... and a denied one prints exactly what kubectl prints against a cluster.
    denied = kubectl(bob, cache, "delete", "lease", "my-lease", "-n", "default")
    assert denied.returncode == 1
    assert denied.stderr == (
        'Error from server (Forbidden): leases.coordination.k8s.io "my-lease" is forbidden: '
        'User "bob" cannot delete resource "leases" in API group "coordination.k8s.io" in the '
        'namespace "default"\n'
    )


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
def test_kubectl_with_an_unknown_token_must_log_in(server: LeaseAPIServer, tmp_path: Path) -> None:
    server.add_user("bob", token="good-token")
    path = Path(server.write_kubeconfig(tmp_path / "bob.kubeconfig", user="bob"))
    path.write_text(path.read_text().replace("good-token", "bad-token"))
    result = kubectl(str(path), tmp_path / "kube-cache", "get", "leases", "-n", "default")
    assert result.returncode == 1
    # kubectl meets the 401 in discovery first, where client-go reports the generic 401 text
    # rather than the Status message: the same line a real cluster gets for a stale token.
    assert result.stderr.splitlines()[-1] == (
        "error: You must be logged in to the server "
        "(the server has asked for the client to provide credentials)"
    )


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
def test_kubectl_presents_a_client_certificate_and_is_known_by_its_cn(
    server: LeaseAPIServer, tmp_path: Path
) -> None:
    # Go's TLS client must send its certificate although the server names no acceptable CAs.
    server.add_user("carol", ["lease-watchers"])
    path = server.write_kubeconfig(
        tmp_path / "carol.kubeconfig", user="carol", client_certificate=True
    )
    result = kubectl(path, tmp_path / "kube-cache", "get", "leases", "-n", "kube-system")
    assert result.returncode == 1
    assert result.stderr == (
        'Error from server (Forbidden): leases.coordination.k8s.io is forbidden: User "carol" '
        'cannot list resource "leases" in API group "coordination.k8s.io" in the namespace '
        '"kube-system"\n'
    )
