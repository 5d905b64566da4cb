"""A FastAPI service whose replicas elect a leader; only the leader runs the periodic sweep.

See README.md to run it against ``leader-election serve``. The connection comes from
``KUBECONFIG`` (or the pod's service account in a cluster). The election runs in the app's
lifespan: it starts when a worker starts serving and, when the worker shuts down, the sweep
returns first and the Lease is released after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI

from leader_election import LeaderElectionModule
from leader_election.aio import AsyncTerm
from leader_election.asgi import health_app, leader_election_lifespan

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
logger = logging.getLogger("example")

SWEEP_EVERY = 5.0  # seconds

election = LeaderElectionModule.for_root(
    lease_name="fastapi-example",
    renewal_interval=2000,  # milliseconds
)


@election.run_while_leader
async def sweep_expired_sessions(term: AsyncTerm) -> None:
    """Runs on the leader only, as a task on the worker's event loop, from the moment it is
    elected until it loses leadership or stops.

    ``term`` is an ``asyncio.Event`` set the moment leadership ends: check it between steps,
    and pass ``term.fencing_token`` along with writes so a store can refuse an older leader's.
    """
    logger.info("elected: starting the sweep")
    while not term.is_set():
        logger.info("sweeping expired sessions (fencing token %s)", term.fencing_token)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(term.wait(), SWEEP_EVERY)
    logger.info("no longer the leader: sweep stopped")


app = FastAPI(lifespan=leader_election_lifespan(election))
app.mount("/healthz/leader-election", health_app(election))


@app.get("/")
async def index() -> dict[str, Any]:
    return {
        "identity": election.identity,
        "leader": election.is_leader,  # a plain attribute read: safe on the event loop
        "current_leader": election.leader_identity,
    }


@app.get("/leader-only")
async def leader_only() -> dict[str, Any]:
    """Waits (without blocking the loop) up to 2 s for this worker to lead."""
    leading = await election.wait_for_leadership_async(timeout=2.0)
    return {"leader": leading, "fencing_token": election.fencing_token}
