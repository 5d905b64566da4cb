"""ServerTLS: a real TLS handshake on 127.0.0.1, client certificates as identities."""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from leader_election.errors import ConfigurationError, MissingExtraError
from leader_election.testing.auth import ANONYMOUS, Authenticator, UserInfo
from leader_election.testing.tls import ServerTLS

TIMEOUT = 10.0


@dataclass
class Handshake:
    """What the server side saw of one connection."""

    peer_cert: dict[str, Any] | None = None
    alpn: str | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class OneShotTLSServer:
    """Accepts one TLS connection on 127.0.0.1, records the handshake, answers one byte."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(TIMEOUT)
        self.port = self._listener.getsockname()[1]
        self.result = Handshake()
        self._thread = threading.Thread(target=self._serve, name="lease-api-server-tls-test")
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    self.result.peer_cert = tls.getpeercert()
                    self.result.alpn = tls.selected_alpn_protocol()
                    tls.sendall(b"k")
        except (OSError, ssl.SSLError) as exc:
            self.result.error = exc
        finally:
            self.result.done.set()

    def close(self) -> None:
        self._listener.close()
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "TLS test server thread did not stop"


@pytest.fixture(scope="module")
def tls() -> ServerTLS:
    return ServerTLS()


@pytest.fixture
def server(tls: ServerTLS) -> Iterator[OneShotTLSServer]:
    srv = OneShotTLSServer(tls.server_context())
    try:
        yield srv
    finally:
        srv.close()


def connect(
    port: int, context: ssl.SSLContext, server_hostname: str = "127.0.0.1"
) -> tuple[bytes, str | None]:
    data, alpn, _ = connect_full(port, context, server_hostname)
    return data, alpn


def connect_full(
    port: int, context: ssl.SSLContext, server_hostname: str = "127.0.0.1"
) -> tuple[bytes, str | None, dict[str, Any] | None]:
    """One byte from the server, the ALPN protocol chosen and the server's certificate."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as conn,
    ):
        return conn.recv(1), conn.selected_alpn_protocol(), conn.getpeercert()


def test_a_client_certificate_authenticates_as_cn_and_o(
    tls: ServerTLS, server: OneShotTLSServer
) -> None:
    cert = tls.issue_client_certificate("alice", ["team-a", "system:masters"])
    assert connect(server.port, tls.client_context(cert))[0] == b"k"
    assert server.result.done.wait(TIMEOUT)
    assert server.result.error is None
    user = Authenticator().authenticate(None, server.result.peer_cert)
    assert user == UserInfo("alice", ("team-a", "system:masters", "system:authenticated"))


def test_without_a_client_certificate_the_handshake_succeeds_and_is_anonymous(
    tls: ServerTLS, server: OneShotTLSServer
) -> None:
    assert connect(server.port, tls.client_context())[0] == b"k"
    assert server.result.done.wait(TIMEOUT)
    assert server.result.peer_cert is None
    assert Authenticator().authenticate(None, server.result.peer_cert) == ANONYMOUS


def test_a_certificate_from_another_ca_is_refused(tls: ServerTLS, server: OneShotTLSServer) -> None:
    stranger = ServerTLS().issue_client_certificate("mallory", ["system:masters"])
    # The server's CA, but the client presents a certificate another CA signed.
    context = tls.client_context(stranger)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        # TLS 1.3 reports the server's refusal on the first read, not in the handshake.
        connect(server.port, context)
    assert server.result.done.wait(TIMEOUT)
    assert isinstance(server.result.error, ssl.SSLError)
    assert server.result.peer_cert is None


def test_only_http1_is_offered_so_go_clients_do_not_try_h2(
    tls: ServerTLS, server: OneShotTLSServer
) -> None:
    context = tls.client_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    assert connect(server.port, context)[1] == "http/1.1"
    assert server.result.done.wait(TIMEOUT)
    assert server.result.alpn == "http/1.1"


@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost"])
def test_the_serving_certificate_is_valid_for_each_host(
    tls: ServerTLS, server: OneShotTLSServer, hostname: str
) -> None:
    assert connect(server.port, tls.client_context(), server_hostname=hostname)[0] == b"k"


def test_a_client_that_trusts_another_ca_refuses_the_server(
    tls: ServerTLS, server: OneShotTLSServer
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(server.port, ServerTLS().client_context())
    assert server.result.done.wait(TIMEOUT)


def test_hosts_include_ipv6_and_dns_names() -> None:
    tls = ServerTLS(["::1", "127.0.0.1", "lease-api.test"])
    assert tls.hosts == ("::1", "127.0.0.1", "lease-api.test")
    server = OneShotTLSServer(tls.server_context())
    try:
        # Dialled at 127.0.0.1 but verified as the DNS name the certificate also carries.
        _, _, peer = connect_full(server.port, tls.client_context(), "lease-api.test")
    finally:
        server.close()
    assert peer is not None
    assert set(peer["subjectAltName"]) == {
        ("IP Address", "0:0:0:0:0:0:0:1"),
        ("IP Address", "127.0.0.1"),
        ("DNS", "lease-api.test"),
    }


def test_ca_pem_is_a_pem_certificate(tls: ServerTLS) -> None:
    assert tls.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_client_certificate_carries_user_and_groups(tls: ServerTLS) -> None:
    cert = tls.issue_client_certificate("system:serviceaccount:default:le", ["a", "b"])
    assert cert.user == "system:serviceaccount:default:le"
    assert cert.groups == ("a", "b")
    assert b"PRIVATE KEY" in cert.key_pem


@pytest.mark.parametrize(
    ("user", "groups", "option"),
    [("", (), "user"), ("u", "system:masters", "groups"), ("x" * 65, (), "user")],
)
def test_client_certificate_rejects_unusable_input(
    tls: ServerTLS, user: str, groups: Any, option: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        tls.issue_client_certificate(user, groups)
    assert info.value.option == option


@pytest.mark.parametrize("hosts", [(), "127.0.0.1", ["not a host!"]])
def test_unusable_hosts_are_refused(hosts: Any) -> None:
    with pytest.raises(ConfigurationError, match="hosts="):
        ServerTLS(hosts)


def test_missing_trustme_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "trustme", None)
    with pytest.raises(ImportError, match=r"pip install 'leader-election\[testing\]'") as info:
        ServerTLS()
    assert isinstance(info.value, MissingExtraError)
    assert info.value.name == "trustme"
