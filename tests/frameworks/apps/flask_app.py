"""The Flask application the server tests run (gunicorn, uWSGI, flask run).

Configured the idiomatic way, from ``FLASK_LEADER_ELECTION_*`` environment variables
(``app.config.from_prefixed_env()``). ``/whoami`` tells which process answered and what it
believes; every process whose election starts appends ``pid identity`` to
``$TEST_CANDIDATES_FILE``, so a test can count candidates and name their processes.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from leader_election import LeaderChangedEvent, leader_changed
from leader_election.flask import LeaderElection

# The library's transitions, with the pid, in the server's output (shown when a test fails).
logging.basicConfig(level=logging.INFO, format="%(process)d %(threadName)s %(name)s %(message)s")
election_ext = LeaderElection()
_recorded: set[int] = set()


@leader_changed.connect
def _record_candidate(sender: Any, event: LeaderChangedEvent) -> None:
    # Every started candidate observes a holder (or none) first thing: one line per process.
    path = os.environ.get("TEST_CANDIDATES_FILE")
    if path and os.getpid() not in _recorded:
        _recorded.add(os.getpid())
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {event.identity}\n")


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_prefixed_env()
    election_ext.init_app(app)

    @app.get("/whoami")
    def whoami() -> ResponseReturnValue:
        # ?hold=S keeps this worker busy, so that concurrent requests reach the others;
        # ?busy=PATH appends this pid to PATH first, so a test knows the request is running.
        if request.args.get("busy"):
            with open(request.args["busy"], "a", encoding="utf-8") as out:
                out.write(f"{os.getpid()}\n")
        time.sleep(min(float(request.args.get("hold", 0)), 1.0))
        election = election_ext.election
        started = election.state.value != "stopped"
        return jsonify(
            pid=os.getpid(),
            identity=election.identity if started else None,
            leader=election.is_leader,
            state=election.state.value,
        )

    return app


app = create_app()
