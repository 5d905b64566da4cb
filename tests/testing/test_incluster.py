"""in_cluster_environment: files, environment and client-python's constants, set and restored.

These tests stand in for the server with a small fake that has the server's contract (``url``,
``kubeconfig_path``, ``add_user``, ``authenticator``): what is under test is the environment,
not HTTP. The end-to-end tests use the real server.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.config import incluster_config

from leader_election.errors import ConfigurationError, MisuseError
from leader_election.testing.auth import AuthenticationFailed, Authenticator, UserInfo
from leader_election.testing.incluster import in_cluster_environment
from leader_election.testing.tls import ServerTLS


class FakeServer:
    """The parts of LeaseAPIServer's contract that in_cluster_environment uses."""

    def __init__(self, tmp_path: Path, url: str, ca_pem: bytes | None) -> None:
        self.url = url
        self.authenticator = Authenticator()
        cluster: dict[str, str] = {"server": url}
        if ca_pem is not None:
            cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "lease-api-server", "cluster": cluster}],
            "users": [{"name": "admin", "user": {"token": "admin-token"}}],
            "contexts": [
                {"name": "admin", "context": {"cluster": "lease-api-server", "user": "admin"}}
            ],
            "current-context": "admin",
        }
        self.kubeconfig_path = str(tmp_path / "kubeconfig")
        Path(self.kubeconfig_path).write_text(yaml.safe_dump(kubeconfig))

    def add_user(self, name: str, groups: Sequence[str] = (), *, token: str | None = None) -> str:
        assert token is not None
        self.authenticator.add_token(token, name, groups)
        return token


@pytest.fixture(scope="module")
def tls() -> ServerTLS:
    return ServerTLS()


@pytest.fixture
def server(tmp_path: Path, tls: ServerTLS) -> FakeServer:
    return FakeServer(tmp_path, "https://127.0.0.1:6443", tls.ca_pem)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)


def snapshot() -> tuple[object, ...]:
    return (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
        incluster_config.SERVICE_TOKEN_FILENAME,
        incluster_config.SERVICE_CERT_FILENAME,
        client.Configuration._default,
    )


def test_files_environment_and_constants_inside(
    server: FakeServer, tls: ServerTLS, clean_env: None
) -> None:
    with in_cluster_environment(server, service_account="le", namespace="team-a") as env:
        assert env.user == "system:serviceaccount:team-a:le"
        assert env.token_path.read_text() == env.token
        assert env.ca_path.read_bytes() == tls.ca_pem
        assert env.namespace_path.read_text() == "team-a"
        assert os.environ["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
        assert os.environ["KUBERNETES_SERVICE_PORT"] == "6443"
        assert str(env.token_path) == incluster_config.SERVICE_TOKEN_FILENAME
        assert str(env.ca_path) == incluster_config.SERVICE_CERT_FILENAME
        # The token authenticates as the service account, with its groups.
        assert server.authenticator.authenticate(f"Bearer {env.token}", None) == UserInfo(
            "system:serviceaccount:team-a:le",
            ("system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"),
        )


def test_load_incluster_config_reads_what_was_laid_out(server: FakeServer, clean_env: None) -> None:
    with in_cluster_environment(server) as env:
        config.load_incluster_config()
        configuration = client.Configuration.get_default_copy()
        assert configuration.host == "https://127.0.0.1:6443"
        assert configuration.ssl_ca_cert == str(env.ca_path)
        assert configuration.api_key["BearerToken"] == f"bearer {env.token}"


def test_everything_is_restored_on_exit(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One variable set beforehand (it must come back), one absent (it must be gone again).
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    before = snapshot()
    with in_cluster_environment(server) as env:
        config.load_incluster_config()
        assert snapshot() != before
    assert snapshot() == before
    assert "KUBERNETES_SERVICE_PORT" not in os.environ
    assert not env.directory.exists()
    with pytest.raises(AuthenticationFailed):
        server.authenticator.authenticate(f"Bearer {env.token}", None)


def test_everything_is_restored_when_the_block_raises(server: FakeServer, clean_env: None) -> None:
    before = snapshot()
    with pytest.raises(RuntimeError, match="boom"), in_cluster_environment(server) as env:
        raise RuntimeError("boom")
    assert snapshot() == before
    assert not env.directory.exists()


def test_environments_nest(server: FakeServer, clean_env: None) -> None:
    before = snapshot()
    with in_cluster_environment(server, service_account="outer") as outer:
        with in_cluster_environment(server, service_account="inner") as inner:
            assert str(inner.token_path) == incluster_config.SERVICE_TOKEN_FILENAME
        assert str(outer.token_path) == incluster_config.SERVICE_TOKEN_FILENAME
    assert snapshot() == before


def test_a_given_token_is_used(server: FakeServer, clean_env: None) -> None:
    with in_cluster_environment(server, token="fixed-token") as env:
        assert env.token == "fixed-token"
        assert env.token_path.read_text() == "fixed-token"


def test_ipv6_host_is_given_without_brackets(
    tmp_path: Path, tls: ServerTLS, clean_env: None
) -> None:
    server = FakeServer(tmp_path, "https://[::1]:8443", tls.ca_pem)
    with in_cluster_environment(server):
        assert os.environ["KUBERNETES_SERVICE_HOST"] == "::1"
        config.load_incluster_config()
        # client-python brackets it again, as Go's net.JoinHostPort does.
        assert client.Configuration.get_default_copy().host == "https://[::1]:8443"


def test_a_plain_http_server_is_refused(tmp_path: Path, clean_env: None) -> None:
    server = FakeServer(tmp_path, "http://127.0.0.1:8080", None)
    before = snapshot()
    with (
        pytest.raises(MisuseError, match=r"LeaseAPIServer\(tls=True\)"),
        in_cluster_environment(server),
    ):
        pass
    assert snapshot() == before


def test_a_kubeconfig_without_ca_is_refused(tmp_path: Path, clean_env: None) -> None:
    server = FakeServer(tmp_path, "https://127.0.0.1:6443", None)
    with (
        pytest.raises(MisuseError, match="no certificate authority"),
        in_cluster_environment(server),
    ):
        pass


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"namespace": "Default"}, "namespace"),
        ({"namespace": "a" * 64}, "namespace"),
        ({"service_account": "le:x"}, "service_account"),
        ({"service_account": ""}, "service_account"),
    ],
)
def test_names_kubernetes_would_refuse_are_refused(
    server: FakeServer, clean_env: None, kwargs: dict[str, str], option: str
) -> None:
    before = snapshot()
    with pytest.raises(ConfigurationError) as info, in_cluster_environment(server, **kwargs):
        pass
    assert info.value.option == option
    assert snapshot() == before
