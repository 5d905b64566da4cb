"""ASGI integration (FastAPI, Starlette, any ASGI server): a lifespan and a health app.

``leader_election_lifespan(election)`` is a lifespan for ``FastAPI(lifespan=...)`` or
``Starlette(lifespan=...)``: it starts the election at startup — off the event loop, with
coroutine jobs and receivers running on the app's loop — and at shutdown drains the leader's
work, then releases the Lease. It wraps an app's own lifespan (``lifespan=``) so that the
app's resources (a database pool) exist before leader-only work starts and are closed only
after it returned.

``health_app(election)`` is a plain ASGI application answering ``GET`` with the same JSON as
the Flask and Django health views (200, or 503 when stuck); mount it where the probe looks:
``app.mount("/healthz/leader-election", health_app(election))`` (Starlette answers the bare
path with a redirect to the trailing slash, which probes follow). Neither needs Starlette;
``health_route`` (a Starlette ``Route`` for the exact path) does (extra ``asgi``).

Pre-fork servers (``uvicorn --workers N``, gunicorn's ``UvicornWorker``, with or without
``--preload``) run the lifespan in each worker, so each worker is a candidate of its own;
the master never competes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from leader_election.errors import MissingExtraError
from leader_election.health import health_report
from leader_election.module import LeaderElectionModule

__all__ = [
    "DEFAULT_HEALTH_PATH",
    "HealthApp",
    "health_app",
    "health_route",
    "leader_election_lifespan",
]

DEFAULT_HEALTH_PATH = "/healthz/leader-election"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Lifespan = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]


def leader_election_lifespan(
    election: LeaderElectionModule, *, lifespan: Lifespan | None = None
) -> Lifespan:
    """A lifespan that runs ``election`` for as long as the app serves.

    ``lifespan`` (optional) is the app's own lifespan: it is entered first and exited last,
    around the election, and whatever it yields (the lifespan state) is passed on.
    """

    @contextlib.asynccontextmanager
    async def run(app: Any) -> AsyncIterator[Any]:
        if lifespan is None:
            async with election:
                yield None
            return
        async with lifespan(app) as state, election:
            yield state

    return run


class HealthApp:
    """An ASGI app: ``GET`` (or ``HEAD``) → the election's health report as JSON, 200 or 503."""

    def __init__(self, election: LeaderElectionModule) -> None:
        self.election = election

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b'{"detail": "method not allowed"}', allow=True)
            return
        report = health_report(self.election)
        body = json.dumps(report.body).encode()
        await _respond(send, report.status, b"" if method == "HEAD" else body)


def health_app(election: LeaderElectionModule) -> HealthApp:
    """The health report of ``election`` as an ASGI app, to mount where the probe looks."""
    return HealthApp(election)


def health_route(election: LeaderElectionModule, path: str = DEFAULT_HEALTH_PATH) -> Any:
    """A Starlette ``Route`` serving ``health_app`` at ``path`` (extra ``asgi``)."""
    try:
        from starlette.routing import Route  # noqa: PLC0415 - an optional extra
    except ImportError as exc:
        raise MissingExtraError(
            "leader_election.asgi.health_route needs Starlette, which is not installed: "
            "pip install 'leader-election[asgi]' (or mount health_app(election), which does not)"
        ) from exc
    return Route(path, health_app(election), methods=["GET", "HEAD"], name="leader_election.health")


async def _respond(send: Send, status: int, body: bytes, *, allow: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    if allow:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
