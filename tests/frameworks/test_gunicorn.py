"""gunicorn with two sync workers serving the Flask test app against the embedded server.

Exactly one worker leads; the master never competes, whether it loads the application
itself (``--preload``, or a configuration file that imports it) or not — when it does, the
election starts in each worker right after the fork. SIGTERM to the master releases the
Lease (holder ""), long before it could expire.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import (
    TIMINGS,
    candidates,
    flask_env,
    free_port,
    get_json,
    holder,
    process_alive,
    workers_seen,
)

pytestmark = [pytest.mark.processes, pytest.mark.slow]


@pytest.mark.parametrize(
    "loading",
    [[], ["--preload"], ["--config", "python:gunicorn_config_importing_the_app"]],
    ids=["app-loaded-by-workers", "preload", "config-imports-the-app"],
)
def test_one_worker_leads_and_sigterm_to_the_master_releases(
    server: LeaseAPIServer, services: Any, tmp_path: Path, loading: list[str]
) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    argv += ["--graceful-timeout", "10", *loading, "flask_app:app"]
    gunicorn = services(argv, env=flask_env(server, tmp_path))
    whoami = f"http://127.0.0.1:{port}/whoami"

    # 1. Two workers serve; each is a candidate of its own, the master is none.
    workers = workers_seen(whoami, 2)
    assert gunicorn.pid not in workers
    wait_for(lambda: len(candidates(tmp_path)) >= 2, 10, what="both workers competing")
    competing = candidates(tmp_path)
    assert set(competing) == set(workers), f"candidates {competing}, workers {set(workers)}"
    assert len(set(competing.values())) == 2, "workers must not share an identity"

    # 2. Exactly one of them leads, and it is the Lease's holder.
    def one_leader() -> dict[str, Any] | None:
        answers = workers_seen(whoami, 2)
        leaders = [a for a in answers.values() if a["leader"]]
        if len(leaders) == 1 and leaders[0]["identity"] == holder(server):
            return leaders[0]
        return None

    leader = wait_for(one_leader, 15, what="exactly one worker leading")
    assert leader["identity"] in competing.values()
    status, health = get_json(f"http://127.0.0.1:{port}/healthz/leader-election")
    assert status == 200
    assert health["healthy"] is True
    assert health["holder"] == leader["identity"]

    # 3. SIGTERM to the master: the workers stop, the leader releases. Holder "" is written
    # only by a release; an expired Lease keeps its holder (and would take 10 s).
    assert TIMINGS["lease_duration"] >= 10000
    gunicorn.signal(signal.SIGTERM)
    assert gunicorn.wait(15) == 0, gunicorn.output()
    assert holder(server) == "", gunicorn.output()
    for pid in workers:
        wait_for(lambda pid=pid: not process_alive(pid), 5, what=f"worker {pid} to exit")
