"""The official ``kubernetes.leaderelection`` as a candidate process, run as shipped.

Prints the same JSON event lines as ``leader_election.testing.candidate`` (``ready``,
``elected``, ``lost``) so interop tests can read both. The official elector has no stop path:
it is ended with a signal. After losing, ``run()`` returns and this process exits, as the
official client does.

Usage: python official_candidate.py KUBECONFIG LEASE IDENTITY LEASE_S DEADLINE_S RETRY_S
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from kubernetes import config
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

_lock = threading.Lock()


def report(identity: str, kind: str, **fields: object) -> None:
    line = json.dumps(
        {"t": time.monotonic(), "pid": os.getpid(), "identity": identity, "event": kind, **fields}
    )
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main() -> int:
    kubeconfig, lease, identity = sys.argv[1:4]
    lease_s, deadline_s, retry_s = (int(v) for v in sys.argv[4:7])
    config.load_kube_config(config_file=kubeconfig)
    lock = LeaseLock(lease, "default", identity)
    elector_config = electionconfig.Config(
        lock,
        lease_duration=lease_s,
        renew_deadline=deadline_s,
        retry_period=retry_s,
        onstarted_leading=lambda: report(identity, "elected"),
        onstopped_leading=lambda: report(identity, "lost"),
    )
    report(identity, "ready")
    leaderelection.LeaderElection(elector_config).run()
    report(identity, "exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
