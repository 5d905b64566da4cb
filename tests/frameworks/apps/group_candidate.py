"""A group in a process of its own, to test its process hooks for real:
``python group_candidate.py KUBECONFIG MODE``.

MODE: ``default`` (SIGTERM at its default disposition), ``exit`` (returns from the script
while the group runs: the exit hook stops it). A leader-only job per Lease needs 0.6 s after
its term ended (more than a renewal interval), then reads its Lease from the API server and
logs ``work-end LEASE HOLDER``: the holder must still be this member (drain, then release).
Prints ``ready IDENTITY`` once leading all three.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from kubernetes import client, config

from leader_election import LeaderElectionGroup

kubeconfig, mode = sys.argv[1:3]
group = LeaderElectionGroup.for_root(
    shards=3,
    lease_prefix="grouped",
    kubeconfig=kubeconfig,
    renewal_interval=500,
    lease_duration=10000,
)


@group.run_while_leader
def job(term: Any, lease_name: str) -> None:
    term.wait()
    threading.Event().wait(0.6)  # finishing what it has in hand
    api = client.CoordinationV1Api(config.new_client_from_config(kubeconfig))
    lease = api.read_namespaced_lease(lease_name, "default")
    # One write per line (print writes the newline apart): the jobs end together.
    os.write(1, f"work-end {lease_name} {lease.spec.holder_identity}\n".encode())


group.start()
if not group.wait_for_held(3, 15):
    sys.exit(f"led {sorted(group.held)} only")
os.write(1, f"ready {group.identity}\n".encode())
if mode == "exit":
    sys.exit(0)  # no stop(): the exit hook drains and releases
threading.Event().wait(60)
