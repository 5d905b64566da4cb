"""The examples run as their READMEs say, against the embedded server: one leader runs the
periodic job, and stopping the server releases the Lease."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import base_env, free_port, holder, try_get_json

pytestmark = [pytest.mark.processes, pytest.mark.slow]

EXAMPLES = Path(__file__).parents[2] / "examples"


def sweepers(output: str) -> set[str]:
    """pids that logged a sweep (the examples log '%(process)d %(name)s %(message)s')."""
    return set(re.findall(r" (\d+) example sweeping expired sessions", output))


def test_the_flask_example_under_gunicorn(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    port = free_port()
    kubeconfig = server.write_kubeconfig(tmp_path / "example.kubeconfig")
    argv = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    gunicorn = services(
        [*argv, "app:create_app()"],
        cwd=EXAMPLES / "flask_app",
        env=base_env(KUBECONFIG=str(kubeconfig)),
    )
    wait_for(lambda: sweepers(gunicorn.output()), 30, what="the sweep on the leader")
    index = wait_for(lambda: try_get_json(f"http://127.0.0.1:{port}/"), 10, what="GET /")
    assert index["current_leader"] == holder(server, "flask-example")
    assert len(sweepers(gunicorn.output())) == 1
    gunicorn.signal(signal.SIGTERM)
    assert gunicorn.wait(15) == 0
    # (The other worker may lead for the moment between the leader's release and its own
    # SIGTERM: it sweeps once and releases too. docs/servers.md says so.)
    assert "no longer the leader: sweep stopped" in gunicorn.output()
    assert holder(server, "flask-example") == ""


def test_the_django_example_under_runserver(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    project = EXAMPLES / "django_project"
    kubeconfig = server.write_kubeconfig(tmp_path / "example.kubeconfig")
    env = base_env(KUBECONFIG=str(kubeconfig))
    port = free_port()
    runserver = services(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"], cwd=project, env=env
    )
    wait_for(lambda: sweepers(runserver.output()), 30, what="the sweep on the leader")
    status = subprocess.run(
        [sys.executable, "manage.py", "leader_election_status"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    leader = holder(server, "django-example")
    assert f"Holder:         {leader}" in status.stdout
    body = wait_for(lambda: try_get_json(f"http://127.0.0.1:{port}/"), 10, what="GET /")
    assert body["identity"] == leader
    assert str(runserver.pid) not in sweepers(runserver.output())  # not the watcher


def test_the_fastapi_example_under_uvicorn_workers(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    port = free_port()
    kubeconfig = server.write_kubeconfig(tmp_path / "example.kubeconfig")
    argv = [sys.executable, "-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1"]
    uvicorn = services(
        [*argv, "--port", str(port), "app:app"],
        cwd=EXAMPLES / "fastapi_app",
        env=base_env(KUBECONFIG=str(kubeconfig)),
    )
    wait_for(lambda: sweepers(uvicorn.output()), 30, what="the sweep on the leader")
    index = wait_for(lambda: try_get_json(f"http://127.0.0.1:{port}/"), 10, what="GET /")
    assert index["current_leader"] == holder(server, "fastapi-example")
    health = wait_for(
        lambda: try_get_json(f"http://127.0.0.1:{port}/healthz/leader-election"),
        10,
        what="the health endpoint",
    )
    assert health["healthy"] is True and health["holder"] == index["current_leader"]
    assert len(sweepers(uvicorn.output())) == 1
    uvicorn.signal(signal.SIGTERM)
    assert uvicorn.wait(15) == 0
    assert "no longer the leader: sweep stopped" in uvicorn.output()
    assert holder(server, "fastapi-example") == ""
