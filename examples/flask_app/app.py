"""A Flask service whose replicas elect a leader; only the leader runs the periodic sweep.

See README.md to run it against ``leader-election serve``. Configuration comes from
``FLASK_LEADER_ELECTION_*`` environment variables (``app.config.from_prefixed_env()``); the
connection from ``KUBECONFIG`` (or the pod's service account in a cluster).
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from leader_election.flask import LeaderElection

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
logger = logging.getLogger("example")

SWEEP_EVERY = 5.0  # seconds

election_ext = LeaderElection()


@election_ext.run_while_leader
def sweep_expired_sessions(stop_event: threading.Event) -> None:
    """Runs on the leader only: from the moment it is elected until it loses or stops.

    ``stop_event`` is set the moment leadership ends: check it between steps, and pass the
    fencing token along with writes so a store can refuse those of an older leader.
    """
    election = election_ext.election
    logger.info("elected: starting the sweep")
    while not stop_event.is_set():
        logger.info("sweeping expired sessions (fencing token %s)", election.fencing_token)
        stop_event.wait(SWEEP_EVERY)
    logger.info("no longer the leader: sweep stopped")


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["LEADER_ELECTION_LEASE_NAME"] = "flask-example"
    app.config["LEADER_ELECTION_RENEWAL_INTERVAL"] = 2000  # milliseconds
    app.config.from_prefixed_env()  # FLASK_LEADER_ELECTION_* override the above
    election_ext.init_app(app)  # also routes GET /healthz/leader-election

    @app.get("/")
    def index() -> ResponseReturnValue:
        election = election_ext.election
        return jsonify(
            identity=election.identity,
            leader=election.is_leader,
            current_leader=election.leader_identity,
        )

    return app
