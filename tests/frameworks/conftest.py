"""Fixtures for the framework and server integrations: the embedded Lease API server, real
server processes (gunicorn, uWSGI, runserver, flask run) reaped whatever happens, and HTTP."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leader_election.testing import LeaseAPIServer, wait_for

APPS = Path(__file__).parent / "apps"
DJANGO_PROJECT = APPS / "django_project"
LEASE = "integrations"
# Renew every 500 ms; a Lease nobody renews expires only after 10 s, so a holder that becomes
# "" within a second or two was released, never left to expire.
TIMINGS = {"renewal_interval": 500, "lease_duration": 10000}


@pytest.fixture
def server() -> Iterator[LeaseAPIServer]:
    with LeaseAPIServer() as api_server:
        yield api_server


def holder(server: LeaseAPIServer, lease: str = LEASE) -> str | None:
    """The Lease's holderIdentity ("" when released), or None when there is no Lease."""
    obj = server.get_object("leases", "default", lease)
    return None if obj is None else str(obj["spec"].get("holderIdentity") or "")


def free_port() -> int:
    # For servers that cannot report a port they picked themselves; the window in which
    # another process could take it is a few milliseconds.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get_json(url: str, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    """GET ``url``: (status, decoded JSON body); error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def try_get_json(url: str) -> dict[str, Any] | None:
    """The JSON body of a 200 answer, or None while the server is not answering yet."""
    with contextlib.suppress(OSError, ValueError):
        status, body = get_json(url, timeout=2.0)
        if status == 200:
            return body
    return None


class Service:
    """A server process in a session of its own; ``reap()`` leaves nothing behind.

    Output goes to files (a pipe nobody reads could fill and block the server).
    """

    def __init__(self, argv: list[str], *, cwd: Path, env: dict[str, str], logs: Path) -> None:
        self.argv = argv
        self.log_path = logs
        self._log = open(logs, "wb")  # noqa: SIM115 - closed in reap()
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def reap(self, timeout: float = 15.0) -> None:
        """SIGTERM the whole session, then SIGKILL what is left; wait for the leader."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        # Children (workers, a reloader's child) may outlive their parent: kill the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while _group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._log.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Any]:
    """``services(argv, cwd=..., env=...)`` starts a ``Service``; all are reaped after the test."""
    started: list[Service] = []

    def start(argv: list[str], *, cwd: Path = APPS, env: dict[str, str]) -> Service:
        service = Service(argv, cwd=cwd, env=env, logs=tmp_path / f"service-{len(started)}.log")
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            service.reap()


def base_env(**extra: str) -> dict[str, str]:
    """The environment of an application process: this interpreter's, the apps importable,
    no cluster configuration inherited from the machine running the tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "FLASK_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(APPS), str(DJANGO_PROJECT), *sys.path[1:]])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def flask_env(server: LeaseAPIServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    kubeconfig = server.write_kubeconfig(tmp_path / "app.kubeconfig")
    return base_env(
        FLASK_LEADER_ELECTION_KUBECONFIG=str(kubeconfig),
        FLASK_LEADER_ELECTION_LEASE_NAME=LEASE,
        FLASK_LEADER_ELECTION_RENEWAL_INTERVAL=str(TIMINGS["renewal_interval"]),
        FLASK_LEADER_ELECTION_LEASE_DURATION=str(TIMINGS["lease_duration"]),
        TEST_CANDIDATES_FILE=str(tmp_path / "candidates.txt"),
        **extra,
    )


def django_env(server: LeaseAPIServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    kubeconfig = server.write_kubeconfig(tmp_path / "app.kubeconfig")
    options = {"lease_name": LEASE, "kubeconfig": str(kubeconfig), **TIMINGS}
    return base_env(
        DJANGO_SETTINGS_MODULE="project.settings",
        TEST_LEADER_ELECTION=json.dumps(options),
        TEST_CANDIDATES_FILE=str(tmp_path / "candidates.txt"),
        **extra,
    )


def candidates(tmp_path: Path) -> dict[int, str]:
    """pid -> identity of every process whose election started (see apps/flask_app.py)."""
    path = tmp_path / "candidates.txt"
    if not path.exists():
        return {}
    pairs = [line.split() for line in path.read_text().splitlines()]
    # A line being appended right now may be incomplete: it is read again next time.
    return {int(pair[0]): pair[1] for pair in pairs if len(pair) == 2}


def workers_seen(url: str, count: int, timeout: float = 30.0) -> dict[int, dict[str, Any]]:
    """Ask ``url`` (a /whoami) until ``count`` different processes answered: pid -> answer.

    Sends ``count`` requests at once, each held 300 ms by the view: a busy single-threaded
    worker cannot accept another, so each worker answers one.
    """
    seen: dict[int, dict[str, Any]] = {}

    def all_answered() -> bool:
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            for body in pool.map(lambda _: try_get_json(url + "?hold=0.3"), range(count)):
                if body is not None:
                    seen[body["pid"]] = body
        return len(seen) >= count

    wait_for(all_answered, timeout, what=f"{count} processes answering {url}", interval=0.05)
    return seen


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def fork_child(fork: Callable[[], int], child: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``child()`` in a forked process; return what it returned (JSON through a pipe).

    The child never returns into pytest: whatever happens it ends with ``os._exit``.
    """
    read_end, write_end = os.pipe()
    # Python 3.12+ warns that forking a multi-threaded process may deadlock the child; that
    # hazard is what this test is about, and the child only runs code written for it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            try:
                result = child()
            except BaseException as exc:  # reported to the parent
                result = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write_end, json.dumps(result).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, code = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(code) == 0, data
    result: dict[str, Any] = json.loads(data)
    assert "error" not in result, result["error"]
    return result
