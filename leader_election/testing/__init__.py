"""Test without a cluster: an embedded Kubernetes Lease API server and helpers.

``LeaseAPIServer`` reproduces the kube-apiserver semantics a leader-election client touches
(Leases, ConfigMaps, Namespaces, watches, optimistic concurrency, Status errors, RBAC, TLS);
the pytest plugin offers it as the ``lease_api_server`` fixture.
"""

from leader_election.testing.wait import WaitTimeout, wait_for

__all__ = ["WaitTimeout", "wait_for"]
