"""The toolkit of the framework integrations (Flask, Django; later an ASGI lifespan).

Every integration needs the same few things, and each lives here once:

- **where to start** (``Placement``, ``Verdict``, ``place()``): the integrations create their
  ``LeaderElectionModule`` while the application is set up, but the process doing that is not
  always the one that will serve:

  - a pre-fork master that loads the application before forking its workers (gunicorn
    ``--preload``, uWSGI without ``lazy-apps``) only supervises. Were it to compete, it could
    lead while none of the workers that serve sees ``is_leader``, and its threads would be in
    the middle of requests at every fork. The election starts in each worker instead, right
    after the fork (``process.start_in_children``);
  - a development server's reloader watcher (Werkzeug's, Django's autoreloader) sets the
    application up, then only restarts a child process that serves;
  - command-line tools (``flask db upgrade``, ``manage.py migrate``) set it up and exit.

  The pre-fork servers are recognized by what they leave on the call stack (gunicorn) or
  expose (uWSGI's embedded ``uwsgi`` module); each integration judges its framework's own
  commands and reloader;
- **whether to start at all** (``startup_verdict``): ``LEADER_ELECTION_AUTOSTART`` false
  never starts; left unset, nothing starts under pytest — importing a module that does
  ``app = create_app()`` while tests are collected must not take a Lease and run leader-only
  jobs — unless the setting is explicitly true;
- **the call stack** (``stack()``): the one walker the placement rules read frames with;
- **settings** (``parse_flag``, ``parse_names``): the integration settings mean the same in
  every framework and take the same values — booleans with the words ``options.py`` accepts
  for its own booleans, lists of names or one comma-separated string;
- **helpers**: ``leader_only`` on an election found at call time, ``missing_extra`` for an
  optional dependency that is not installed.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from leader_election import process
from leader_election.errors import ConfigurationError, MissingExtraError
from leader_election.module import LeaderElectionModule

__all__ = [
    "AUTOSTART",
    "COMMANDS",
    "PREFIX",
    "Placement",
    "Verdict",
    "leader_only",
    "missing_extra",
    "parse_autostart",
    "parse_flag",
    "parse_names",
    "place",
    "server_verdict",
    "stack",
    "startup_verdict",
    "under_pytest",
]

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


F = TypeVar("F", bound=Callable[..., Any])

PREFIX = "LEADER_ELECTION_"
"""The prefix of every integration setting (Flask ``app.config`` keys, Django settings)."""
AUTOSTART = PREFIX + "AUTOSTART"
COMMANDS = PREFIX + "COMMANDS"

# The words options.py accepts for its booleans (environment variables are strings).
_TRUE_WORDS = ("true", "1", "yes", "on")
_FALSE_WORDS = ("false", "0", "no", "off", "")


# -- the call stack ------------------------------------------------------------------------
def stack() -> Iterator[FrameType]:
    """The frames of this thread's stack, from the caller of ``stack()`` outwards."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        yield frame
        frame = frame.f_back


def frame_path(frame: FrameType) -> str:
    """The frame's file path with ``/`` separators, for matching on any platform."""
    return frame.f_code.co_filename.replace(os.sep, "/")


def _frames() -> list[tuple[str, str]]:
    """(file path, function name) of every frame on this thread's stack."""
    return [(frame_path(frame), frame.f_code.co_name) for frame in stack()]


# -- settings ------------------------------------------------------------------------------
def parse_flag(setting: str, value: object, *, where: str = "") -> bool:
    """A boolean setting: ``True``/``False``, or a word an environment variable would carry
    (``"true"``, ``"1"``, ``"yes"``, ``"on"`` / ``"false"``, ``"0"``, ``"no"``, ``"off"``,
    ``""``; any case) — the words ``LeaderElectionOptions`` accepts for its booleans.

    ``where`` is how the error shows the setting (``"settings.LEADER_ELECTION_AUTOSTART"``;
    default ``setting``). Raises ``ConfigurationError`` for anything else (``None``, ``2``,
    ``"maybe"``).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE_WORDS:
        return False
    raise ConfigurationError(
        f"{where or setting}={value!r}: must be True or False (or, from an environment variable, "
        "'true'/'false', '1'/'0', 'yes'/'no', 'on'/'off')",
        option=setting,
        value=value,
    )


def parse_autostart(value: object, *, where: str = "") -> bool | None:
    """``LEADER_ELECTION_AUTOSTART``: None when unset (``None``), else ``parse_flag``."""
    return None if value is None else parse_flag(AUTOSTART, value, where=where)


def parse_names(setting: str, value: object, *, what: str, where: str = "") -> frozenset[str]:
    """A setting listing names (``LEADER_ELECTION_COMMANDS``): a list, tuple or set of
    strings, or one comma-separated string (``"rqworker, beat"``); ``None`` is empty.

    Raises ``ConfigurationError`` naming the setting (as ``where`` shows it) and ``what``
    the names are.
    """
    if value is None:
        return frozenset()
    names = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list | tuple | set | frozenset) or not all(
        isinstance(name, str) for name in names
    ):
        raise ConfigurationError(
            f"{where or setting}={value!r}: must be a list of {what} names (or one comma-separated "
            "string), e.g. ['rqworker']",
            option=setting,
            value=value,
        )
    return frozenset(name for name in names if name)


# -- helpers -------------------------------------------------------------------------------
def missing_extra(feature: str, package: str, extra: str) -> MissingExtraError:
    """The error for ``feature`` (a module) when ``package`` of extra ``extra`` is missing."""
    return MissingExtraError(
        f"{feature} needs {package}, which is not installed: pip install 'leader-election[{extra}]'"
    )


def leader_only(election: Callable[[], LeaderElectionModule], fn: F) -> F:
    """``LeaderElectionModule.leader_only`` for an election found when ``fn`` is called
    (the current Flask application's, say) rather than when it is decorated."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return election().leader_only(fn)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]  # same signature, Optional result


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


def under_pytest() -> bool:
    """True in a process running pytest (collecting or running tests).

    ``sys.modules`` rather than ``PYTEST_CURRENT_TEST``: servers that a test starts as
    subprocesses inherit the environment, and they do serve.
    """
    return "pytest" in sys.modules


def startup_verdict(
    autostart: bool | None, *, setting: str, remedy: str, rules: Callable[[], Verdict]
) -> Verdict:
    """Whether and where an integration starts its election, the same for every framework.

    1. ``autostart`` false (the ``LEADER_ELECTION_AUTOSTART`` setting): never;
    2. otherwise ``rules()``, the framework's own judgement (a pre-fork server, a reloader,
       a management command, ...);
    3. a verdict to start, with ``autostart`` unset (None), in a process running pytest:
       not there. Importing an application module in a test (``app = create_app()`` at its
       bottom) must not take the Lease; ``autostart=True`` or calling ``start()`` does.

    ``remedy`` says how to start it by hand (``"call get_election().start()"``).
    """
    if autostart is False:
        return Verdict(Placement.NOWHERE, f"{setting} is off; {remedy}")
    verdict = rules()
    if verdict.placement is Placement.NOWHERE or autostart is True:
        return verdict
    if under_pytest():
        return Verdict(
            Placement.NOWHERE,
            f"running under pytest ({verdict.reason} otherwise); set {setting} to True to "
            f"start anyway, or {remedy}",
        )
    return verdict


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
