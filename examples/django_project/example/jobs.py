"""The leader-only periodic job, the recommended way: ``run_while_leader`` with its stop event."""

import logging
import threading

from leader_election.django import get_election

logger = logging.getLogger("example")

SWEEP_EVERY = 5.0  # seconds


def sweep_expired_sessions(stop_event: threading.Event) -> None:
    """Runs on a thread of the leader from its election until it loses leadership or stops.

    ``stop_event`` is set the moment leadership ends: check it between steps.
    """
    election = get_election()
    logger.info("elected: starting the sweep")
    while not stop_event.is_set():
        logger.info("sweeping expired sessions (fencing token %s)", election.fencing_token)
        stop_event.wait(SWEEP_EVERY)
    logger.info("no longer the leader: sweep stopped")
