"""The whole API in one script: run it against the embedded server.

    leader-election serve --kubeconfig /tmp/le.kubeconfig &      # terminal 1
    KUBECONFIG=/tmp/le.kubeconfig python examples/plain.py       # terminals 2, 3, ...

Start it several times: one process leads and runs the job; stop the leader (Ctrl-C) and
another takes over at once (it released the Lease); kill it with SIGKILL and another takes
over when the Lease expires.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from leader_election import (
    LeaderChangedEvent,
    LeaderElectedEvent,
    LeaderElectionModule,
    LeaderLostEvent,
    leader_changed,
    leader_elected,
    on_event,
)

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

election = LeaderElectionModule.for_root(
    lease_name="plain-example",
    namespace="default",
    renewal_interval=2000,  # milliseconds, as in the NestJS module
)


@leader_elected.connect_via(election)
def on_elected(sender: LeaderElectionModule, event: LeaderElectedEvent) -> None:
    print(
        f"{event.identity} leads {event.namespace}/{event.lease_name}"
        f" (fencing token {event.fencing_token})"
    )


@on_event(LeaderLostEvent.event, sender=election)  # mirrors NestJS's @OnEvent
def on_lost(event: LeaderLostEvent) -> None:
    print(f"{event.identity} stopped leading: {event.reason.value}")


@leader_changed.connect_via(election)
def on_changed(sender: LeaderElectionModule, event: LeaderChangedEvent) -> None:
    print(f"the leader is now {event.leader or 'nobody'}")


@election.run_while_leader
def singleton_job(stop: threading.Event) -> None:
    """Runs in its own thread during each leadership term; `stop` is set when it ends."""
    n = 0
    while not stop.wait(1.0):
        n += 1
        print(f"leader-only work, tick {n}")


@election.leader_only
def report(status: dict[str, Any]) -> None:
    print("only the leader reports:", status)


if __name__ == "__main__":
    with election:  # start(); on exit (or SIGTERM/SIGINT) a leader releases the Lease
        try:
            while True:
                threading.Event().wait(5.0)
                report({"leader": election.leader_identity, "me": election.identity})
        except KeyboardInterrupt:
            pass
