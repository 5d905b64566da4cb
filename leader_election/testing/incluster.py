"""A pod's view of the API server, laid out on disk, so in-cluster configuration is tested for real.

CONTRACT STUB: the signature below is the interface; the body is being written.

``in_cluster_environment(server)`` writes the service-account token, ``ca.crt`` and
``namespace`` files to a temporary directory, sets ``KUBERNETES_SERVICE_HOST`` /
``KUBERNETES_SERVICE_PORT``, and points ``kubernetes.config.incluster_config`` at those files,
restoring everything on exit. The server must serve TLS (in-cluster config is HTTPS only).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leader_election.testing.server import LeaseAPIServer

__all__ = ["InClusterEnvironment", "in_cluster_environment"]


@dataclass(frozen=True, slots=True)
class InClusterEnvironment:
    """Where the fake service-account files are and who they authenticate as."""

    directory: Path
    token_path: Path
    ca_path: Path
    namespace_path: Path
    user: str
    token: str


@contextmanager
def in_cluster_environment(
    server: LeaseAPIServer,
    *,
    service_account: str = "leader-election",
    namespace: str = "default",
) -> Iterator[InClusterEnvironment]:
    """Make this process look like a pod running as ``system:serviceaccount:NS:NAME``."""
    raise NotImplementedError
