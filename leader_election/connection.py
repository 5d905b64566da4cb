"""Where the API server is: ``api_client`` / ``kubeconfig`` options, in-cluster, KUBECONFIG.

Resolution order (the first that applies wins):

1. the ``api_client`` option — used as given (its pool, its credentials);
2. the ``kubeconfig`` option — that file's current context;
3. in-cluster configuration, when ``KUBERNETES_SERVICE_HOST`` is set (the pod's
   ServiceAccount token, rotated tokens re-read as the official client does);
4. ``KUBECONFIG`` or ``~/.kube/config``, when such a file exists;
5. otherwise no cluster: *standalone* mode — this process assumes leadership, as the NestJS
   module does outside Kubernetes, and says so (a warning and ``standalone=True`` in events).

A ``Connection`` can be re-opened after ``fork()``: the child gets a new ``ApiClient`` (a new
connection pool) on the same configuration, never the parent's sockets.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from leader_election.errors import ConfigurationError
from leader_election.options import LeaderElectionOptions

__all__ = ["Connection", "resolve_connection"]

logger = logging.getLogger(__name__)


@dataclass
class Connection:
    """An ``ApiClient`` and how it was found."""

    api_client: Any
    source: str  # "api_client", "kubeconfig <path>", "in-cluster", "KUBECONFIG <path>"
    owned: bool  # we made the client, so we close it

    def reopen(self) -> Connection:
        """A new client on the same configuration (after fork: never share a pool)."""
        from kubernetes import client  # noqa: PLC0415 - see resolve_connection

        return Connection(client.ApiClient(self.api_client.configuration), self.source, True)

    def close(self) -> None:
        if not self.owned:
            return
        close = getattr(self.api_client, "close", None)
        try:
            if callable(close):
                close()
            else:
                self.api_client.rest_client.pool_manager.clear()
        except Exception:  # closing must never fail a stop()
            logger.debug("closing the API client failed", exc_info=True)


def _default_kubeconfig_paths() -> list[str]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def resolve_connection(options: LeaderElectionOptions) -> Connection | None:
    """Find the API server for ``options``; ``None`` means standalone mode.

    Raises ``ConfigurationError`` when a configuration exists but cannot be loaded (a broken
    kubeconfig, an in-cluster environment without its token).
    """
    if options.api_client is not None:
        return Connection(options.api_client, "api_client", owned=False)

    # Imported here: kubernetes.client takes about half a second to import, paid only by
    # processes that actually talk to a cluster.
    from kubernetes import client, config  # noqa: PLC0415

    configuration = client.Configuration()
    if options.kubeconfig is not None:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]  # kubernetes is untyped
                config_file=options.kubeconfig, client_configuration=configuration
            )
        except Exception as exc:
            raise ConfigurationError(
                f"kubeconfig={options.kubeconfig!r}: cannot be loaded: {exc}",
                option="kubeconfig",
                value=options.kubeconfig,
            ) from exc
        return Connection(client.ApiClient(configuration), f"kubeconfig {options.kubeconfig}", True)

    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise ConfigurationError(
                "KUBERNETES_SERVICE_HOST is set but the in-cluster configuration cannot be "
                f"loaded: {exc}. Mount the ServiceAccount token (automountServiceAccountToken) "
                "or pass kubeconfig= / api_client=",
                option="kubeconfig",
                value=None,
            ) from exc
        return Connection(client.ApiClient(configuration), "in-cluster", True)

    paths = [p for p in _default_kubeconfig_paths() if os.path.isfile(p)]
    if paths:
        try:
            # Pass the files explicitly: the client reads KUBECONFIG once, at its import.
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.pathsep.join(paths), client_configuration=configuration
            )
        except Exception as exc:
            raise ConfigurationError(
                f"the kubeconfig {os.pathsep.join(paths)!r} (from KUBECONFIG or ~/.kube/config) "
                f"cannot be loaded: {exc}",
                option="kubeconfig",
                value=os.pathsep.join(paths),
            ) from exc
        return Connection(client.ApiClient(configuration), f"KUBECONFIG {paths[0]}", True)
    return None
