"""The health report behind the Flask and Django views (``GET /healthz/leader-election``).

``healthy`` is ``election.healthy()`` — client-go's HealthzAdaptor semantics: false only when
this process believes it leads but has not renewed for longer than the renew deadline plus a
grace, or when the elector thread died; a follower is healthy. Wire it to a *liveness* probe:
a failing check means restarting the process helps. The body says who leads, for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leader_election.errors import MisuseError
from leader_election.module import LeaderElectionModule

__all__ = ["HealthReport", "health_report"]


@dataclass(frozen=True, slots=True)
class HealthReport:
    """An HTTP status (200 or 503) and a JSON-ready body."""

    status: int
    body: dict[str, Any]


def health_report(election: LeaderElectionModule, grace: float | None = None) -> HealthReport:
    """Judge ``election`` now: 200 when healthy, 503 when stuck.

    The body has ``healthy``, ``leader`` (this process leads), ``identity`` (this candidate),
    ``holder`` (the leader it last observed, or null), ``state`` and ``lease``
    (``namespace/name``); identity and lease are null for a ``for_root_async`` module that
    has not started.
    """
    healthy = election.healthy(grace)
    try:
        identity: str | None = election.identity
        lease: str | None = election.options.lease_description
    except MisuseError:  # for_root_async, options not computed yet
        identity = lease = None
    body = {
        "healthy": healthy,
        "leader": election.is_leader,
        "identity": identity,
        "holder": election.leader_identity,
        "state": election.state.value,
        "lease": lease,
    }
    return HealthReport(200 if healthy else 503, body)
