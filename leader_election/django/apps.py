"""``AppConfig.ready()``: decide once per process whether this process competes, and start.

Django runs ``ready()`` for every management command, in ``runserver``'s autoreloader
watcher as in its child, and possibly more than once in one process. The decision, in order:

1. ``LEADER_ELECTION_AUTOSTART = False``: never. Left unset, steps 2 to 5 apply, but a
   process running pytest never starts (``serving.startup_verdict``): set it to ``True`` to
   start there too.
2. A gunicorn or uWSGI worker: yes. Their master loading the application before forking
   (``--preload``, no ``lazy-apps``): not there — in each worker, right after the fork.
3. A management command: ``runserver`` (and ``LEADER_ELECTION_COMMANDS``) yes — but with the
   autoreloader only in its child (``RUN_MAIN=true``), never in the watcher; every other
   command (``migrate``, ``shell``, ``test``, ...) no.
4. A WSGI/ASGI application (``get_wsgi_application()`` / ``get_asgi_application()``, whatever
   the server): yes.
5. Anything else that calls ``django.setup()`` (a script, pytest-django, a task worker): no;
   call ``get_election().start()`` where it should compete.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence

from django.apps import AppConfig

from leader_election import serving
from leader_election.django.conf import autostart, commands, get_election

__all__ = ["LeaderElectionConfig", "decide"]

_lock = threading.Lock()
_placed_in_pid: int | None = None


class LeaderElectionConfig(AppConfig):  # type: ignore[misc]  # Django ships no type information
    name = "leader_election.django"
    label = "leader_election"
    verbose_name = "Leader election"

    def ready(self) -> None:
        # Built (and validated) in every process, so a bad setting fails `migrate` too.
        election = get_election()
        global _placed_in_pid  # noqa: PLW0603 - once per process, whatever calls ready()
        with _lock:
            if _placed_in_pid == os.getpid():
                return
            _placed_in_pid = os.getpid()
        serving.place(election, current_verdict(), integration="Django")


def current_verdict() -> serving.Verdict:
    """What ``ready()`` decides for this process, from its stack and environment."""
    return serving.startup_verdict(
        autostart(),
        setting=serving.AUTOSTART,
        remedy="call get_election().start()",
        rules=_rules,
    )


def _rules() -> serving.Verdict:
    """Steps 2 to 5 of the module docstring."""
    server = serving.server_verdict()
    if server is not None:
        return server
    return decide(
        _management_argv(),
        os.environ,
        in_application=_in_application_loader(),
        commands=commands(),
    )


def decide(
    argv: Sequence[str] | None,
    environ: Mapping[str, str],
    *,
    in_application: bool,
    commands: frozenset[str] = frozenset(),
) -> serving.Verdict:
    """Steps 3 to 5 of the module docstring: ``argv`` of the management command being run
    (None outside one), whether a WSGI/ASGI application is being set up."""
    here, nowhere = serving.Placement.HERE, serving.Placement.NOWHERE
    if argv is not None:
        command = argv[1] if len(argv) > 1 else "help"
        if command == "runserver" or command in commands:
            if environ.get("RUN_MAIN") == "true" or environ.get("WERKZEUG_RUN_MAIN") == "true":
                return serving.Verdict(here, f"the autoreloader's child of manage.py {command}")
            # Django's own test for "the autoreloader will run" (ManagementUtility.execute).
            if command.startswith("runserver") and "--noreload" not in argv:
                return serving.Verdict(
                    nowhere,
                    f"the autoreloader's watcher of manage.py {command}; its child starts it",
                )
            return serving.Verdict(here, f"manage.py {command}")
        return serving.Verdict(
            nowhere,
            f"manage.py {command} does not serve; list it in LEADER_ELECTION_COMMANDS to "
            "start there",
        )
    if in_application:
        return serving.Verdict(here, "a WSGI/ASGI application")
    return serving.Verdict(
        nowhere,
        "django.setup() outside a WSGI/ASGI application and outside a management command "
        "(a script, a test run, a task worker); call get_election().start() there",
    )


def _management_argv() -> list[str] | None:
    """argv of the ``ManagementUtility`` whose ``execute()`` is on the stack, if any."""
    from django.core.management import ManagementUtility  # noqa: PLC0415

    for frame in serving.stack():
        if frame.f_code.co_name == "execute":
            utility = frame.f_locals.get("self")
            if isinstance(utility, ManagementUtility):
                return list(utility.argv)
    return None


def _in_application_loader() -> bool:
    """True when ``get_wsgi_application()`` / ``get_asgi_application()`` is on the stack."""
    return any(
        serving.frame_path(frame).endswith(("/django/core/wsgi.py", "/django/core/asgi.py"))
        for frame in serving.stack()
    )
