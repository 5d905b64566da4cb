"""Test without a cluster: an embedded Kubernetes Lease API server and helpers.

``LeaseAPIServer`` reproduces the kube-apiserver semantics a leader-election client touches
(Leases, ConfigMaps, Namespaces, Pods, watches, optimistic concurrency, Status errors, RBAC, TLS);
the pytest plugin offers it as the ``lease_api_server`` fixture. ``server.faults`` injects
latency, errors, dropped connections and partitions; ``server.requests`` logs every request.
``in_cluster_environment(server)`` makes the process look like a pod of a TLS server.

The names below are imported on first use (PEP 562): pytest imports this package at start-up
in every project that installs ``leader_election`` (its plugin lives here), and that must not
load the server and the ``kubernetes`` client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leader_election.testing.faults import Fault, FaultInjector
    from leader_election.testing.incluster import InClusterEnvironment, in_cluster_environment
    from leader_election.testing.requestlog import RequestLog, RequestLogEntry
    from leader_election.testing.server import LeaseAPIServer
    from leader_election.testing.wait import WaitTimeout, wait_for

_HOMES = {
    "Fault": "faults",
    "FaultInjector": "faults",
    "InClusterEnvironment": "incluster",
    "LeaseAPIServer": "server",
    "RequestLog": "requestlog",
    "RequestLogEntry": "requestlog",
    "WaitTimeout": "wait",
    "in_cluster_environment": "incluster",
    "wait_for": "wait",
}

__all__ = [
    "Fault",
    "FaultInjector",
    "InClusterEnvironment",
    "LeaseAPIServer",
    "RequestLog",
    "RequestLogEntry",
    "WaitTimeout",
    "in_cluster_environment",
    "wait_for",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
