"""TLS for the embedded server: a throwaway CA, a serving certificate, client certificates.

CONTRACT STUB: the signatures below are the interface the server (``server.py``) calls; the
bodies are being written. Needs ``trustme`` (the ``testing`` extra); a missing extra fails with
an install hint.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ClientCertificate", "ServerTLS"]


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A client certificate and key (PEM) that authenticates as CN = user, O = groups."""

    user: str
    groups: tuple[str, ...]
    cert_pem: bytes
    key_pem: bytes


class ServerTLS:
    """A CA made for one server, and a serving certificate for ``hosts``."""

    def __init__(self, hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> None:
        raise NotImplementedError

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate (PEM): what a kubeconfig's certificate-authority-data carries."""
        raise NotImplementedError

    def server_context(self) -> ssl.SSLContext:
        """A server-side context that asks for (but does not require) a client certificate and
        verifies any it gets against this CA."""
        raise NotImplementedError

    def issue_client_certificate(self, user: str, groups: Sequence[str] = ()) -> ClientCertificate:
        """Issue a client certificate with CN = ``user`` and one O per group."""
        raise NotImplementedError
