"""The exception hierarchy of ``leader_election``: one base class, a few leaves.

::

    LeaderElectionError                 base of everything this package raises
    ├── ConfigurationError (ValueError) an option is invalid; raised at configuration time
    ├── MisuseError (RuntimeError)      the API was used out of order (start twice, ...)
    ├── MissingExtraError (ImportError) an optional extra is not installed; says which
    └── ApiError                        the Kubernetes API answered with an error Status
        ├── UnauthorizedError           401: the credentials were not accepted
        ├── ForbiddenError              403: RBAC denies a verb; names it and points to rbac/
        ├── NotFoundError               404: the Lease or its namespace does not exist
        └── ConflictError               409: a write lost an optimistic-concurrency race

The election engine never lets an ``ApiError`` escape from its thread: it logs it, backs off
and keeps competing. ``ApiError`` reaches user code only from calls the user makes directly
(``start(await_leadership=True)`` on a fatal answer, the CLI).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiError",
    "ConfigurationError",
    "ConflictError",
    "Failure",
    "ForbiddenError",
    "LeaderElectionError",
    "MissingExtraError",
    "MisuseError",
    "NotFoundError",
    "UnauthorizedError",
]


class Failure(str, enum.Enum):
    """How a request failed, as far as the election cares: every ``ApiError`` carries one
    (``error.failure``), the state machine decides on it, observers and metrics receive it."""

    CONFLICT = "conflict"
    """409: a stale resourceVersion on update, or the name already exists on create."""
    NOT_FOUND = "not_found"
    """404: the Lease is gone (update), or its namespace does not exist (create)."""
    FORBIDDEN = "forbidden"
    """401/403: credentials or RBAC; retried slowly, as permissions can be fixed live."""
    TRANSIENT = "transient"
    """No answer, 429, 5xx, or anything else: retried with backoff."""


class LeaderElectionError(Exception):
    """Base class of every exception raised by ``leader_election``."""


class ConfigurationError(LeaderElectionError, ValueError):
    """An option is invalid. The message names the option, the value and the rule.

    Raised by ``for_root()`` (and by ``start()`` for ``for_root_async()`` factories), never from
    a background thread.
    """

    def __init__(self, message: str, *, option: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.option = option
        self.value = value


class MisuseError(LeaderElectionError, RuntimeError):
    """The API was used out of order: start twice, start after stop, and so on."""


class MissingExtraError(LeaderElectionError, ImportError):
    """A feature needs an optional extra that is not installed; the message names the
    ``pip install`` command (e.g. ``pip install 'leader-election[testing]'``)."""


class ApiError(LeaderElectionError):
    """The Kubernetes API server answered with an error ``Status``.

    Attributes:
        status: the HTTP status code (0 when no answer arrived).
        reason: the Status ``reason`` (``"Conflict"``, ``"Forbidden"``, ...), or ``""``.
        body: the decoded Status body, when the server sent one.
        verb: the API verb that failed (``get``, ``create``, ``update``, ``watch``, ...).
        retry_after: seconds the server asked the client to wait before retrying (the
            ``Retry-After`` header or the Status' ``details.retryAfterSeconds``, as API
            Priority and Fairness sends with 429), 0 when it did not ask.
        failure: what the failure means for the election (``Failure``).
    """

    failure: Failure = Failure.TRANSIENT

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        reason: str = "",
        body: Mapping[str, Any] | None = None,
        verb: str = "",
        retry_after: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.body = dict(body) if body is not None else None
        self.verb = verb
        self.retry_after = retry_after

    @property
    def fatal(self) -> bool:
        """Waiting will not cure it: credentials or RBAC (401/403), or a namespace that does
        not exist (404 on create). The one place that decides; the engine still retries
        such errors slowly, as permissions can be fixed while it runs."""
        return self.failure is Failure.FORBIDDEN or (
            self.failure is Failure.NOT_FOUND and self.verb == "create"
        )


class UnauthorizedError(ApiError):
    """401: the API server did not accept the credentials (expired token, wrong cluster)."""

    failure = Failure.FORBIDDEN


class ForbiddenError(ApiError):
    """403: RBAC denies the verb. The message names verb, resource and namespace."""

    failure = Failure.FORBIDDEN


class NotFoundError(ApiError):
    """404: the Lease does not exist, or its namespace does not."""

    failure = Failure.NOT_FOUND


class ConflictError(ApiError):
    """409: a write carried a stale ``resourceVersion``, or a create found the name taken."""

    failure = Failure.CONFLICT
