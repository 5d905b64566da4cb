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

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiError",
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "LeaderElectionError",
    "MissingExtraError",
    "MisuseError",
    "NotFoundError",
    "UnauthorizedError",
]


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
    """

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


class UnauthorizedError(ApiError):
    """401: the API server did not accept the credentials (expired token, wrong cluster)."""


class ForbiddenError(ApiError):
    """403: RBAC denies the verb. The message names verb, resource and namespace."""


class NotFoundError(ApiError):
    """404: the Lease does not exist, or its namespace does not."""


class ConflictError(ApiError):
    """409: a write carried a stale ``resourceVersion``, or a create found the name taken."""
