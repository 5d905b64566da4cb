"""The embedded Kubernetes Lease API server: ``LeaseAPIServer``.

CONTRACT STUB: the public interface below is what the election engine's tests, the benchmarks,
the chaos suite and users' tests program against. The bodies are being written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from leader_election.testing.auth import Authenticator, RBACAuthorizer

__all__ = ["LeaseAPIServer"]


class LeaseAPIServer:
    """An in-process kube-apiserver for Leases, ConfigMaps, Namespaces and Events.

    Threaded HTTP/1.1 on ``host``:``port`` (a free port by default). Use as a context manager
    or call ``start()`` / ``stop()``; ``stop()`` closes every connection and joins every thread.

    Args:
        tls: serve HTTPS with a throwaway CA; client certificates authenticate.
        authentication: when true, unknown tokens get 401 and requests without credentials are
            ``system:anonymous``; when false every request is allowed and a known token still
            names its user (for per-user request logs and faults).
        rbac: when truthy, RBAC decides (403 Forbidden); a path or YAML text is loaded into it.
        namespaces: the namespaces that exist at start (``default`` and ``kube-system`` always).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        authentication: bool = False,
        rbac: bool | str | os.PathLike[str] = False,
        namespaces: Sequence[str] = (),
    ) -> None:
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LeaseAPIServer:
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> None:
        raise NotImplementedError

    def __enter__(self) -> LeaseAPIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- how clients reach it --------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``tls=True``)."""
        raise NotImplementedError

    @property
    def kubeconfig_path(self) -> str:
        """A kubeconfig file for the admin user (group ``system:masters``)."""
        raise NotImplementedError

    def add_user(self, name: str, groups: Sequence[str] = (), *, token: str | None = None) -> str:
        """Register a bearer token for ``name`` and return it."""
        raise NotImplementedError

    def write_kubeconfig(self, path: str | os.PathLike[str], *, user: str | None = None) -> str:
        """Write a kubeconfig for ``user`` (admin when ``None``) to ``path``; return the path."""
        raise NotImplementedError

    def api_client(self, *, user: str | None = None) -> Any:
        """A configured ``kubernetes.client.ApiClient`` for ``user`` (admin when ``None``)."""
        raise NotImplementedError

    @property
    def authenticator(self) -> Authenticator:
        raise NotImplementedError

    @property
    def rbac(self) -> RBACAuthorizer:
        raise NotImplementedError

    # -- inspection and faults --------------------------------------------------------------
    @property
    def requests(self) -> Any:
        """The request log (see ``requestlog.RequestLog``)."""
        raise NotImplementedError

    @property
    def faults(self) -> Any:
        """Fault injection (see ``faults.FaultInjector``)."""
        raise NotImplementedError

    def get_object(self, resource: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The stored object as the API would return it, or ``None``."""
        raise NotImplementedError
