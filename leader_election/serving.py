"""Where the integrations start an election: in the process that serves, and only there.

The Flask and Django integrations create their ``LeaderElectionModule`` while the application
is set up. The process doing that is not always the one that will serve:

- a pre-fork master that loads the application before forking its workers (gunicorn
  ``--preload``, uWSGI without ``lazy-apps``) only supervises. Were it to compete, it could
  lead while none of the workers that serve sees ``is_leader``, and its threads would be in
  the middle of requests at every fork. The election starts in each worker instead, right
  after the fork (``process.start_in_children``);
- a development server's reloader watcher (Werkzeug's, Django's autoreloader) sets the
  application up, then only restarts a child process that serves;
- command-line tools (``flask db upgrade``, ``manage.py migrate``) set it up and exit.

This module recognizes the pre-fork servers by what they leave on the call stack (gunicorn)
or expose (uWSGI's embedded ``uwsgi`` module); each integration judges its framework's own
commands and reloader. ``Placement`` is the verdict, ``place()`` carries it out.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from leader_election import process
from leader_election.module import LeaderElectionModule

__all__ = ["Placement", "Verdict", "place", "server_verdict"]

logger = logging.getLogger(__name__)


class Placement(enum.Enum):
    """Where an election should run."""

    HERE = "here"
    """This process serves the application: start now."""
    IN_WORKERS = "in_workers"
    """A pre-fork master: start in each worker after the fork, never here."""
    NOWHERE = "nowhere"
    """Not a serving process (a reloader watcher, a CLI command, tests): do not start."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A placement and why, in words for the log (``"gunicorn worker"``)."""

    placement: Placement
    reason: str
    accept: Callable[[], bool] | None = None
    """For ``IN_WORKERS``: true in a forked child that is a worker."""


def _frames() -> list[tuple[str, str]]:
    """(file path with '/' separators, function name) of every frame on this thread's stack."""
    frames: list[tuple[str, str]] = []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        frames.append((code.co_filename.replace(os.sep, "/"), code.co_name))
        frame = frame.f_back
    return frames


def _gunicorn_role() -> str | None:
    """``"worker"``, ``"master"``, or None when gunicorn is not on the call stack."""
    if "gunicorn" not in sys.modules:
        return None
    frames = _frames()
    # A worker's stack runs through the master's spawn_worker (it is a fork of it) into the
    # worker class, which loads the application unless the master preloaded it.
    if any("/gunicorn/workers/" in path for path, _ in frames):
        return "worker"
    # Anything else gunicorn runs is the master: Arbiter.setup with --preload, a config file
    # that imports the application, --check-config (which forks nothing).
    if any("/gunicorn/" in path for path, _ in frames):
        return "master"
    return None


def _forked_by_gunicorn_for_a_worker() -> bool:
    # Runs in the child, inside os.fork(): the caller is Arbiter.spawn_worker for a worker
    # (and something else for gunicorn's dirty-worker arbiter, which must not compete).
    return any(
        path.endswith("/gunicorn/arbiter.py") and name == "spawn_worker" for path, name in _frames()
    )


def _uwsgi_worker_id() -> int | None:
    """uWSGI's worker id (0 in the master), or None outside uWSGI."""
    try:
        import uwsgi  # noqa: PLC0415 - exists only inside a uWSGI process
    except ImportError:
        return None
    worker_id: int = uwsgi.worker_id()
    return worker_id


def _in_uwsgi_worker() -> bool:
    worker_id = _uwsgi_worker_id()
    return worker_id is not None and worker_id > 0


def server_verdict() -> Verdict | None:
    """The verdict imposed by a pre-fork server, or None when no such server is recognized."""
    role = _gunicorn_role()
    if role == "worker":
        return Verdict(Placement.HERE, "gunicorn worker")
    if role == "master":
        return Verdict(
            Placement.IN_WORKERS,
            "gunicorn master loading the application (--preload, or a config file that "
            "imports it): the workers compete",
            _forked_by_gunicorn_for_a_worker,
        )
    worker_id = _uwsgi_worker_id()
    if worker_id is not None:
        if worker_id > 0:
            return Verdict(Placement.HERE, f"uWSGI worker {worker_id}")
        return Verdict(
            Placement.IN_WORKERS,
            "uWSGI master loading the application (no lazy-apps): the workers compete",
            _in_uwsgi_worker,
        )
    return None


def place(election: LeaderElectionModule, verdict: Verdict, *, integration: str) -> None:
    """Carry out ``verdict`` for ``election``, and log what was decided and why."""
    if verdict.placement is Placement.HERE:
        logger.debug("%s: starting the leader election here (%s)", integration, verdict.reason)
        election.start()
    elif verdict.placement is Placement.IN_WORKERS:
        assert verdict.accept is not None
        logger.info(
            "%s: the leader election starts in each worker after fork, not here (%s)",
            integration,
            verdict.reason,
        )
        process.start_in_children(election, verdict.accept)
    else:
        logger.info("%s: the leader election is not started: %s", integration, verdict.reason)
