"""Where the API server is: ``api_client`` / ``kubeconfig`` options, in-cluster, KUBECONFIG.

Resolution order — controller-runtime's (``pkg/client/config``), which the official client
and client-node agree with: the first source that is *configured* wins, and a configured
source that cannot be used is a ``ConfigurationError`` naming it, never a fall-through.

1. the ``api_client`` option — used as given (its pool, its credentials);
2. the ``kubeconfig`` option — that file's current context;
3. the ``KUBECONFIG`` environment variable, when set — its files (missing ones are skipped,
   as client-go does; none existing is an error);
4. in-cluster configuration, when ``KUBERNETES_SERVICE_HOST`` is set (the pod's
   ServiceAccount token, rotated tokens re-read as the official client does);
5. ``~/.kube/config``, when it exists;
6. otherwise no cluster: *standalone* mode — this process assumes leadership, as the NestJS
   module does outside Kubernetes, and says so (a warning and ``standalone=True`` in events).
   With the option ``standalone=False`` this is a ``ConfigurationError`` instead: set it in
   production, where "no cluster" is always a mistake.

The source used is logged at INFO and kept in ``Connection.source``.

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
    source: str  # "api_client", "kubeconfig <path>", "KUBECONFIG <paths>", "in-cluster",
    # "~/.kube/config <path>"
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


def _kubeconfig_env_paths(value: str) -> list[str]:
    return [os.path.expanduser(p) for p in value.split(os.pathsep) if p]


def _load_kubeconfig(configuration: Any, paths: list[str], *, option: str, origin: str) -> None:
    """Load ``paths`` (joined as KUBECONFIG would be) into ``configuration``.

    Raises ``ConfigurationError`` naming ``origin`` (where the paths came from), the file and
    why it cannot be used.
    """
    from kubernetes import config  # noqa: PLC0415 - see resolve_connection

    joined = os.pathsep.join(paths)
    try:
        # Pass the files explicitly: the client reads KUBECONFIG once, at its import.
        config.load_kube_config(  # type: ignore[no-untyped-call]  # kubernetes is untyped
            config_file=joined, client_configuration=configuration
        )
    except Exception as exc:
        raise ConfigurationError(
            f"{origin}: the kubeconfig {joined!r} cannot be loaded: {exc or type(exc).__name__}. "
            "It must be a kubeconfig file (YAML with clusters, users and a current-context)",
            option=option,
            value=joined,
        ) from exc


def _no_cluster(options: LeaderElectionOptions) -> None:
    if options.standalone:
        return
    raise ConfigurationError(
        "standalone=False: no Kubernetes cluster found (no api_client or kubeconfig option, "
        "KUBECONFIG unset, KUBERNETES_SERVICE_HOST unset, no ~/.kube/config), and standalone "
        "mode is forbidden. Run in a pod with a ServiceAccount, or pass kubeconfig= / set "
        "KUBECONFIG",
        option="standalone",
        value=False,
    )


def resolve_connection(options: LeaderElectionOptions) -> Connection | None:
    """Find the API server for ``options``; ``None`` means standalone mode.

    The order is controller-runtime's (see the module docstring); the first source that is
    *configured* wins, and a configured source that cannot be used is an error — it never
    falls through to a lower one, least of all to standalone, where every replica leads.

    Raises ``ConfigurationError`` when a configured source cannot be loaded (a missing or
    broken kubeconfig, an in-cluster environment without its token), and when no cluster is
    found while ``options.standalone`` is false.
    """
    lease = options.lease_description
    if options.api_client is not None:
        logger.info("lease %s: connecting with the api_client option", lease)
        return Connection(options.api_client, "api_client", owned=False)

    # Imported here: kubernetes.client takes about half a second to import, paid only by
    # processes that actually talk to a cluster.
    from kubernetes import client, config  # noqa: PLC0415

    configuration = client.Configuration()
    if options.kubeconfig is not None:
        _load_kubeconfig(
            configuration,
            [options.kubeconfig],
            option="kubeconfig",
            origin=f"kubeconfig={options.kubeconfig!r}",
        )
        source = f"kubeconfig {options.kubeconfig}"
        logger.info("lease %s: connecting with the kubeconfig option (%s)", lease, source)
        return Connection(client.ApiClient(configuration), source, True)

    env = os.environ.get("KUBECONFIG")
    if env:
        listed = _kubeconfig_env_paths(env)
        paths = [p for p in listed if os.path.isfile(p)]
        if not paths:
            # A mistyped KUBECONFIG must never mean "no cluster": every replica would lead.
            why = ", ".join(
                f"{p!r} is a directory" if os.path.isdir(p) else f"{p!r} does not exist"
                for p in listed
            )
            raise ConfigurationError(
                f"KUBECONFIG={env!r} names no kubeconfig file ({why or 'no path in it'}). "
                "Fix the path, or unset KUBECONFIG to use the in-cluster configuration or "
                "~/.kube/config",
                option="KUBECONFIG",
                value=env,
            )
        for missing in sorted(set(listed) - set(paths)):
            # As client-go: files listed in KUBECONFIG that do not exist are skipped.
            logger.warning("lease %s: KUBECONFIG lists %r, which is not a file", lease, missing)
        _load_kubeconfig(configuration, paths, option="KUBECONFIG", origin=f"KUBECONFIG={env!r}")
        source = f"KUBECONFIG {os.pathsep.join(paths)}"
        logger.info(
            "lease %s: connecting with the KUBECONFIG environment variable (%s)", lease, source
        )
        return Connection(client.ApiClient(configuration), source, True)

    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise ConfigurationError(
                "KUBERNETES_SERVICE_HOST is set but the in-cluster configuration cannot be "
                f"loaded: {str(exc).rstrip('.')}. Mount the ServiceAccount token "
                "(automountServiceAccountToken) or pass kubeconfig= / api_client= / set "
                "KUBECONFIG",
                option="KUBERNETES_SERVICE_HOST",
                value=os.environ.get("KUBERNETES_SERVICE_HOST"),
            ) from exc
        logger.info("lease %s: connecting with the in-cluster configuration", lease)
        return Connection(client.ApiClient(configuration), "in-cluster", True)

    home = os.path.expanduser("~/.kube/config")
    if os.path.exists(home):
        if not os.path.isfile(home):
            raise ConfigurationError(
                f"~/.kube/config ({home!r}) is not a file. Remove it, or pass kubeconfig=",
                option="kubeconfig",
                value=home,
            )
        _load_kubeconfig(configuration, [home], option="kubeconfig", origin="~/.kube/config")
        source = f"~/.kube/config {home}"
        logger.info("lease %s: connecting with %s", lease, source)
        return Connection(client.ApiClient(configuration), source, True)
    _no_cluster(options)
    return None
