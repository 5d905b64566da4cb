"""TLS for the embedded server: a throwaway CA, a serving certificate, client certificates.

Every real cluster serves HTTPS from a cluster CA and accepts client certificates signed by it
as identities (CN = user, O = groups). ``ServerTLS`` makes one such CA per server with
``trustme``: the serving certificate covers the server's addresses (IPs and DNS names), and
``issue_client_certificate`` signs certificates kube-apiserver would accept for a user.

Needs ``trustme`` (the ``testing`` extra); a missing extra fails with an install hint.
"""

from __future__ import annotations

import datetime
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from leader_election.errors import ConfigurationError, MissingExtraError

__all__ = ["ClientCertificate", "ServerTLS"]

_INSTALL_HINT = "pip install 'leader-election[testing]'"


def _import_trustme() -> ModuleType:
    try:
        import trustme  # noqa: PLC0415 - optional extra, imported only when TLS is asked for
    except ImportError as exc:
        raise MissingExtraError(
            f"TLS for the embedded Lease API server needs trustme, which is not installed: "
            f"{_INSTALL_HINT}",
            name="trustme",
        ) from exc
    return trustme


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A client certificate and key (PEM) that authenticates as CN = user, O = groups."""

    user: str
    groups: tuple[str, ...]
    cert_pem: bytes
    key_pem: bytes


class ServerTLS:
    """A CA made for one server, and a serving certificate for ``hosts``.

    ``hosts`` are the names clients dial: IP addresses (``127.0.0.1``, ``::1``) and DNS names
    (``localhost``); each becomes a subject alternative name. Raises ``MissingExtraError``
    when ``trustme`` is not installed and ``ConfigurationError`` for an empty or unusable
    ``hosts``.
    """

    def __init__(self, hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> None:
        trustme = _import_trustme()
        if isinstance(hosts, str) or not hosts:
            raise ConfigurationError(
                f"hosts={hosts!r}: pass a list of the IP addresses and DNS names clients "
                "dial, e.g. ['127.0.0.1', 'localhost']",
                option="hosts",
                value=hosts,
            )
        self._hosts = tuple(hosts)
        self._ca: Any = trustme.CA(
            organization_name="leader-election", organization_unit_name="lease-api-server CA"
        )
        try:
            self._serving: Any = self._ca.issue_cert(*self._hosts, common_name="lease-api-server")
        except ValueError as exc:
            raise ConfigurationError(
                f"hosts={list(self._hosts)!r}: {exc}; each host must be an IP address or a "
                "DNS name",
                option="hosts",
                value=hosts,
            ) from exc

    @property
    def hosts(self) -> tuple[str, ...]:
        """The names the serving certificate is valid for."""
        return self._hosts

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate (PEM): what a kubeconfig's certificate-authority-data carries."""
        return bytes(self._ca.cert_pem.bytes())

    def server_context(self) -> ssl.SSLContext:
        """A server-side context that asks for (but does not require) a client certificate and
        verifies any it gets against this CA.

        Only ``http/1.1`` is offered by ALPN: Go clients (kubectl) would otherwise try HTTP/2,
        which the embedded server does not speak.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._serving.configure_cert(context)
        # CERT_OPTIONAL: a request without a certificate goes on to token authentication, and
        # a certificate this CA did not sign fails the handshake.
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=self.ca_pem.decode("ascii"))
        context.set_alpn_protocols(["http/1.1"])
        return context

    def client_context(self, certificate: ClientCertificate | None = None) -> ssl.SSLContext:
        """A client-side context that trusts this CA and, when given, presents ``certificate``.

        For tests that talk TLS to the server without the ``kubernetes`` client.
        """
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        if certificate is not None:
            # ssl loads a certificate chain only from a file; keep it only while loading.
            with tempfile.TemporaryDirectory(prefix="lease-api-server-tls-") as directory:
                cert_path = Path(directory, "client.crt")
                key_path = Path(directory, "client.key")
                cert_path.write_bytes(certificate.cert_pem)
                key_path.write_bytes(certificate.key_pem)
                context.load_cert_chain(cert_path, key_path)
        return context

    def issue_client_certificate(self, user: str, groups: Sequence[str] = ()) -> ClientCertificate:
        """Issue a client certificate with CN = ``user`` and one O per group.

        Raises ``ConfigurationError`` for an empty user, a bare string as groups, or a name
        longer than X.509 allows (64 characters for CN and O).
        """
        if not user:
            raise ConfigurationError(
                "user='' cannot be a certificate's CN: kube-apiserver ignores a certificate "
                "without a common name",
                option="user",
                value=user,
            )
        if isinstance(groups, str):
            raise ConfigurationError(
                f"groups={groups!r} is a string; pass a list of group names, e.g. [{groups!r}]",
                option="groups",
                value=groups,
            )
        # cryptography comes with trustme; both are the testing extra.
        from cryptography import x509  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

        ca_cert = x509.load_pem_x509_certificate(self.ca_pem)
        ca_key = serialization.load_pem_private_key(self._ca.private_key_pem.bytes(), None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):  # pragma: no cover - trustme's
            raise TypeError(f"unexpected CA key type {type(ca_key).__name__}")
        key = ec.generate_private_key(ec.SECP256R1())
        try:
            # O before CN, as kubeadm and `openssl req -subj /O=.../CN=...` write them.
            subject = x509.Name(
                [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
                + [x509.NameAttribute(NameOID.COMMON_NAME, user)]
            )
        except ValueError as exc:
            raise ConfigurationError(
                f"user={user!r}, groups={list(groups)!r}: {exc}",
                option="user",
                value=user,
            ) from exc
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # An hour of slack for clocks that differ between test processes.
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            # kube-apiserver only accepts certificates valid for client authentication.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        return ClientCertificate(
            user=user,
            groups=tuple(groups),
            cert_pem=certificate.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
