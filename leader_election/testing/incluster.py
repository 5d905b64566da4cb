"""A pod's view of the API server, laid out on disk, so in-cluster configuration is tested for real.

``in_cluster_environment(server)`` writes the service-account token, ``ca.crt`` and
``namespace`` files to a temporary directory, sets ``KUBERNETES_SERVICE_HOST`` /
``KUBERNETES_SERVICE_PORT``, and points ``kubernetes.config.incluster_config`` at those files,
restoring everything on exit. The server must serve TLS (in-cluster config is HTTPS only).

The environment and the ``kubernetes`` module constants are process-wide: use one
in-cluster environment at a time (nesting is fine, threads racing on it are not).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from leader_election.errors import ConfigurationError, MisuseError
from leader_election.testing.auth import service_account_groups, service_account_username

if TYPE_CHECKING:
    from leader_election.testing.server import LeaseAPIServer

__all__ = ["InClusterEnvironment", "in_cluster_environment"]

_HOST_ENV = "KUBERNETES_SERVICE_HOST"
_PORT_ENV = "KUBERNETES_SERVICE_PORT"
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


@dataclass(frozen=True, slots=True)
class InClusterEnvironment:
    """Where the fake service-account files are and who they authenticate as."""

    directory: Path
    token_path: Path
    ca_path: Path
    namespace_path: Path
    user: str
    token: str


def _check_names(service_account: str, namespace: str) -> None:
    if len(namespace) > 63 or not _DNS1123_LABEL.match(namespace):
        raise ConfigurationError(
            f"namespace={namespace!r} is not a namespace name: a lowercase RFC 1123 label "
            "(letters, digits and '-', at most 63 characters)",
            option="namespace",
            value=namespace,
        )
    if len(service_account) > 253 or not _DNS1123_SUBDOMAIN.match(service_account):
        raise ConfigurationError(
            f"service_account={service_account!r} is not a service account name: a lowercase "
            "RFC 1123 subdomain (letters, digits, '-' and '.')",
            option="service_account",
            value=service_account,
        )


def _kubeconfig_ca(kubeconfig_path: str) -> bytes:
    """The CA of the current context's cluster in a kubeconfig, as PEM."""
    with open(kubeconfig_path, encoding="utf-8") as f:
        config: Any = yaml.safe_load(f)
    if not isinstance(config, Mapping):
        raise MisuseError(f"{kubeconfig_path} is not a kubeconfig")
    contexts = {c.get("name"): c.get("context", {}) for c in config.get("contexts") or []}
    clusters = {c.get("name"): c.get("cluster", {}) for c in config.get("clusters") or []}
    context = contexts.get(config.get("current-context")) or {}
    cluster = clusters.get(context.get("cluster")) or {}
    if cluster.get("certificate-authority-data"):
        return base64.b64decode(cluster["certificate-authority-data"])
    if cluster.get("certificate-authority"):
        return Path(cluster["certificate-authority"]).read_bytes()
    raise MisuseError(
        f"the kubeconfig {kubeconfig_path} names no certificate authority for its current "
        "context, so there is no ca.crt to give the pod"
    )


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextmanager
def in_cluster_environment(
    server: LeaseAPIServer,
    *,
    service_account: str = "leader-election",
    namespace: str = "default",
    token: str | None = None,
) -> Iterator[InClusterEnvironment]:
    """Make this process look like a pod running as ``system:serviceaccount:NS:NAME``.

    Inside, ``kubernetes.config.load_incluster_config()`` configures a client that reaches
    ``server`` over HTTPS, verifies it with the server's CA and authenticates with the
    service account's token (groups ``system:serviceaccounts`` and
    ``system:serviceaccounts:NS``). What RBAC grants that user is up to the test. On exit the
    token is revoked, the files are removed, and the environment variables, the
    ``incluster_config`` file names and the ``kubernetes`` client's default configuration are
    restored, also when the block raises.

    Raises ``MisuseError`` when ``server`` does not serve TLS, and ``ConfigurationError`` for
    a name Kubernetes would not accept.
    """
    from kubernetes.client import Configuration  # noqa: PLC0415 - keep import-time light
    from kubernetes.config import incluster_config  # noqa: PLC0415

    url = urlsplit(server.url)
    if url.scheme != "https" or not url.hostname:
        raise MisuseError(
            f"in_cluster_environment needs a server that serves HTTPS, got {server.url}: "
            "in-cluster configuration only speaks TLS; start LeaseAPIServer(tls=True)"
        )
    _check_names(service_account, namespace)
    ca_pem = _kubeconfig_ca(server.kubeconfig_path)
    token = token or secrets.token_urlsafe(32)
    user = service_account_username(namespace, service_account)

    # 1. Remember everything we are about to change, before changing any of it.
    saved_env = {name: os.environ.get(name) for name in (_HOST_ENV, _PORT_ENV)}
    saved_token_file = incluster_config.SERVICE_TOKEN_FILENAME
    saved_cert_file = incluster_config.SERVICE_CERT_FILENAME
    # load_incluster_config() installs its result as the client's process-wide default.
    saved_default = Configuration._default
    directory = Path(tempfile.mkdtemp(prefix="lease-api-server-incluster-"))
    registered = False
    try:
        # 2. The files kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount.
        token_path = directory / "token"
        ca_path = directory / "ca.crt"
        namespace_path = directory / "namespace"
        # No trailing newline: the client sends the file's content as the token verbatim.
        token_path.write_text(token, encoding="ascii")
        ca_path.write_bytes(ca_pem)
        namespace_path.write_text(namespace, encoding="ascii")
        # 3. The identity the token stands for, as the service-account authenticator gives it.
        server.add_user(user, service_account_groups(namespace), token=token)
        registered = True
        # 4. What kubelet puts in every container's environment, and where client-python looks.
        os.environ[_HOST_ENV] = url.hostname
        os.environ[_PORT_ENV] = str(url.port or 443)
        incluster_config.SERVICE_TOKEN_FILENAME = str(token_path)
        incluster_config.SERVICE_CERT_FILENAME = str(ca_path)
        yield InClusterEnvironment(
            directory=directory,
            token_path=token_path,
            ca_path=ca_path,
            namespace_path=namespace_path,
            user=user,
            token=token,
        )
    finally:
        for name, value in saved_env.items():
            _set_env(name, value)
        incluster_config.SERVICE_TOKEN_FILENAME = saved_token_file
        incluster_config.SERVICE_CERT_FILENAME = saved_cert_file
        Configuration._default = saved_default
        if registered:
            # The pod is gone: so is its token.
            server.authenticator.remove_token(token)
        shutil.rmtree(directory, ignore_errors=True)
