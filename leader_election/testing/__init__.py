"""Test without a cluster: an embedded Kubernetes Lease API server and helpers.

``LeaseAPIServer`` reproduces the kube-apiserver semantics a leader-election client touches
(Leases, ConfigMaps, Namespaces, watches, optimistic concurrency, Status errors, RBAC, TLS);
the pytest plugin offers it as the ``lease_api_server`` fixture. ``server.faults`` injects
latency, errors, dropped connections and partitions; ``server.requests`` logs every request.
"""

from leader_election.testing.faults import Fault, FaultInjector
from leader_election.testing.requestlog import RequestLog, RequestLogEntry
from leader_election.testing.server import LeaseAPIServer
from leader_election.testing.wait import WaitTimeout, wait_for

__all__ = [
    "Fault",
    "FaultInjector",
    "LeaseAPIServer",
    "RequestLog",
    "RequestLogEntry",
    "WaitTimeout",
    "wait_for",
]
