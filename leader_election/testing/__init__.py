"""Test without a cluster: an embedded Kubernetes Lease API server and helpers.

``LeaseAPIServer`` reproduces the kube-apiserver semantics a leader-election client touches
(Leases, ConfigMaps, Namespaces, watches, optimistic concurrency, Status errors, RBAC, TLS);
the pytest plugin offers it as the ``lease_api_server`` fixture. ``server.faults`` injects
latency, errors, dropped connections and partitions; ``server.requests`` logs every request.
``in_cluster_environment(server)`` makes the process look like a pod of a TLS server.
"""

from leader_election.testing.faults import Fault, FaultInjector
from leader_election.testing.incluster import InClusterEnvironment, in_cluster_environment
from leader_election.testing.requestlog import RequestLog, RequestLogEntry
from leader_election.testing.server import LeaseAPIServer
from leader_election.testing.wait import WaitTimeout, wait_for

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
