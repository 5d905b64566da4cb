"""Kubernetes Lease leader election for Python services.

Exactly one process among the candidates for a Lease is leader at a time; another takes over
when it dies. Leadership changes are sent as blinker signals named after the NestJS module's
events (``leader.elected``, ``leader.lost``).
"""

import logging

from leader_election._version import __version__
from leader_election.errors import (
    ApiError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    LeaderElectionError,
    MisuseError,
    NotFoundError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ApiError",
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "LeaderElectionError",
    "MisuseError",
    "NotFoundError",
    "__version__",
]
