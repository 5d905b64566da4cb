"""The Django app in real processes: ``runserver`` with its autoreloader (one candidate, not
two, also across a reload), management commands that must not compete, a command listed in
LEADER_ELECTION_COMMANDS that does, and gunicorn ``--preload`` (ready() runs in the master)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import (
    DJANGO_PROJECT,
    candidates,
    django_env,
    free_port,
    holder,
    process_alive,
    try_get_json,
    workers_seen,
)

pytestmark = [pytest.mark.processes, pytest.mark.slow]


def test_runserver_with_the_autoreloader_has_one_candidate_across_reloads(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    # A copy of the project: the test edits a file to make the autoreloader restart.
    project = tmp_path / "django_project"
    shutil.copytree(DJANGO_PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    env = django_env(server, tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(project), env["PYTHONPATH"]])
    port = free_port()
    runserver = services(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"], cwd=project, env=env
    )
    whoami = f"http://127.0.0.1:{port}/whoami"

    first = wait_for(lambda: try_get_json(whoami), 30, what="runserver to answer")
    assert first["pid"] != runserver.pid  # the autoreloader's child serves...
    wait_for(lambda: holder(server) == first["identity"], 10, what="the child to lead")
    # ...and alone competes (each candidate records itself from a leader.changed receiver).
    only_child = {first["pid"]: first["identity"]}
    wait_for(lambda: candidates(tmp_path) == only_child, 5, what=f"candidates {only_child}")
    assert f"{runserver.pid} leader_election.serving INFO" in runserver.output()
    assert "the autoreloader's watcher of manage.py runserver" in runserver.output()

    # A code change: the child exits (releasing at exit), the watcher starts a new one. The
    # file is touched until the reload shows, as the autoreloader only reacts to a change
    # after the first snapshot it took of the file.
    urls = project / "project" / "urls.py"

    def reloaded() -> dict[str, Any] | None:
        body = try_get_json(whoami)
        if body is not None and body["pid"] == first["pid"]:
            os.utime(urls)
            return None
        return body

    second = wait_for(reloaded, 30, what="the reloaded child to answer", interval=0.2)
    wait_for(lambda: holder(server) == second["identity"], 10, what="the new child to lead")
    assert not process_alive(first["pid"])
    both = {first["pid"]: first["identity"], second["pid"]: second["identity"]}
    wait_for(lambda: candidates(tmp_path) == both, 5, what=f"candidates {both}")
    transitions = server.get_object("leases", "default", "integrations")["spec"]
    assert transitions["leaseTransitions"] == 1  # released, then acquired: no expiry wait

    # Ctrl-C (or a SIGTERM to the process group): the child releases.
    os.killpg(runserver.pid, signal.SIGINT)
    runserver.wait(15)
    wait_for(lambda: not process_alive(second["pid"]), 10, what="the child to exit")
    assert holder(server) == ""


@pytest.mark.parametrize(
    "command",
    [
        ["migrate", "--noinput"],
        ["makemigrations", "--dry-run"],
        ["check"],
        ["shell", "-c", "print('shell ran')"],
        ["test", "--noinput"],
    ],
    ids=lambda argv: argv[0],
)
def test_management_commands_do_not_compete(
    server: LeaseAPIServer, tmp_path: Path, command: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=DJANGO_PROJECT,
        env=django_env(server, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"manage.py {command[0]} does not serve" in result.stderr
    assert candidates(tmp_path) == {}
    assert server.requests.count(resource="leases") == 0


def test_a_command_listed_in_leader_election_commands_competes(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    command = services(
        [sys.executable, "manage.py", "serve_forever"],
        cwd=DJANGO_PROJECT,
        env=django_env(server, tmp_path),
    )
    wait_for(lambda: candidates(tmp_path), 30, what="serve_forever to compete")
    assert list(candidates(tmp_path)) == [command.pid]
    wait_for(lambda: holder(server) == candidates(tmp_path)[command.pid], 10, what="it leads")
    # Its own SIGTERM handler replaces the library's (installed by ready(), earlier); the
    # exit hook releases.
    wait_for(lambda: "handler installed" in command.output(), 10, what="the command handler")
    command.signal(signal.SIGTERM)
    assert command.wait(10) == 0
    assert holder(server) == ""


def test_gunicorn_preload_starts_it_in_the_workers_not_in_the_master(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    argv += ["--preload", "project.wsgi"]
    gunicorn = services(argv, cwd=DJANGO_PROJECT, env=django_env(server, tmp_path))
    workers = workers_seen(f"http://127.0.0.1:{port}/whoami", 2)
    assert gunicorn.pid not in workers
    assert "gunicorn master loading the application (--preload" in gunicorn.output()
    wait_for(lambda: len(candidates(tmp_path)) >= 2, 10, what="both workers competing")
    assert set(candidates(tmp_path)) == set(workers)
    wait_for(lambda: holder(server) in candidates(tmp_path).values(), 10, what="a leader")
    gunicorn.signal(signal.SIGTERM)
    assert gunicorn.wait(15) == 0
    assert holder(server) == ""


def test_under_uvicorn_workers_an_async_view_awaits_leadership_and_sigterm_releases(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "project.asgi:application"]
    uvicorn = services(argv, cwd=DJANGO_PROJECT, env=django_env(server, tmp_path))
    # get_asgi_application() starts the election in each worker; the master never competes.
    wait_for(lambda: len(candidates(tmp_path)) >= 2, 30, what="both workers competing")
    workers = candidates(tmp_path)
    assert uvicorn.pid not in workers
    assert len(set(workers.values())) == 2
    leader = wait_for(
        lambda: holder(server) if holder(server) in workers.values() else None,
        10,
        what="a worker to lead",
    )

    # An async view awaits leadership on the event loop: true in the leader, false (after
    # its timeout) in the follower, and the sync is_leader read there agrees.
    answers: dict[int, dict[str, Any]] = {}

    def both_answered() -> bool:
        body = try_get_json(f"http://127.0.0.1:{port}/await-leadership?timeout=0.3")
        if body is not None:
            answers[body["pid"]] = body
        return len(answers) >= 2

    wait_for(both_answered, 30, what="both workers answering the async view")
    assert {workers[pid]: body["leader"] for pid, body in answers.items()} == {
        identity: identity == leader for identity in workers.values()
    }
    assert all(body["leader"] == body["is_leader"] for body in answers.values())

    uvicorn.signal(signal.SIGTERM)
    assert uvicorn.wait(15) == 0, uvicorn.output()
    assert holder(server) == ""
