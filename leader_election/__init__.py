"""Kubernetes Lease leader election for Python services.

Exactly one process among the candidates for a Lease is leader at a time; another takes over
when it dies. The API mirrors the NestJS module ``nestjs-k8s-leader-election``::

    election = LeaderElectionModule.for_root(lease_name="my-app", renewal_interval=10000)
    leader_elected.connect(on_elected, sender=election)
    with election:
        ...  # election.is_leader

Leadership changes are blinker signals named after the NestJS events (``leader.elected``,
``leader.lost``, plus ``leader.changed``). Lease semantics are client-go's, so Go and Python
candidates can share one Lease.
"""

import logging

from leader_election._version import __version__
from leader_election.clock import Clock, SkewedClock, SystemClock
from leader_election.errors import (
    ApiError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    LeaderElectionError,
    MisuseError,
    NotFoundError,
    UnauthorizedError,
)
from leader_election.events import (
    LeaderChangedEvent,
    LeaderElectedEvent,
    LeaderLostEvent,
    leader_changed,
    leader_elected,
    leader_lost,
    on_event,
)
from leader_election.group import LeaderElectionGroup
from leader_election.module import ElectionObserver, LeaderElectionModule
from leader_election.options import LeaderElectionOptions
from leader_election.state import Failure, LostReason, Op, State
from leader_election.work import Term

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ApiError",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "ElectionObserver",
    "Failure",
    "ForbiddenError",
    "LeaderChangedEvent",
    "LeaderElectedEvent",
    "LeaderElectionError",
    "LeaderElectionGroup",
    "LeaderElectionModule",
    "LeaderElectionOptions",
    "LeaderLostEvent",
    "LostReason",
    "MisuseError",
    "NotFoundError",
    "Op",
    "SkewedClock",
    "State",
    "SystemClock",
    "Term",
    "UnauthorizedError",
    "__version__",
    "leader_changed",
    "leader_elected",
    "leader_lost",
    "on_event",
]
