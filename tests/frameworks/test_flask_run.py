"""``flask run``: with the reloader, only its serving child competes (not the watcher, which
loads the application too); without it, the process itself does. Ctrl-C releases."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import candidates, flask_env, free_port, holder, process_alive, try_get_json

pytestmark = [pytest.mark.processes, pytest.mark.slow]


@pytest.mark.parametrize("reload", [True, False], ids=["reloader", "no-reloader"])
def test_flask_run_has_one_candidate_the_serving_process(
    server: LeaseAPIServer, services: Any, tmp_path: Path, reload: bool
) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "flask", "--app", "flask_app", "run", "--port", str(port)]
    argv.append("--reload" if reload else "--no-reload")
    flask = services(argv, env=flask_env(server, tmp_path))

    serving = wait_for(
        lambda: try_get_json(f"http://127.0.0.1:{port}/whoami"), 30, what="flask run to answer"
    )
    if reload:
        assert serving["pid"] != flask.pid  # the reloader's child serves...
    else:
        assert serving["pid"] == flask.pid
    wait_for(lambda: holder(server) == serving["identity"], 10, what="it to lead")
    # ...and alone competes (each candidate records itself from a leader.changed receiver).
    alone = {serving["pid"]: serving["identity"]}
    wait_for(lambda: candidates(tmp_path) == alone, 5, what=f"candidates {alone}")

    os.killpg(flask.pid, signal.SIGINT)  # Ctrl-C in the terminal
    flask.wait(15)
    wait_for(lambda: not process_alive(serving["pid"]), 10, what="the server to exit")
    assert holder(server) == ""
