"""The settings of the Django integration, and the process's one ``LeaderElectionModule``.

- ``LEADER_ELECTION``: a dict of ``for_root`` options (``lease_name``, ``namespace``,
  ``renewal_interval`` in milliseconds, ...), validated as ``for_root`` validates them.
- ``LEADER_ELECTION_AUTOSTART`` (default: unset): unset, start where the process serves (see
  ``apps.py``) except under pytest; ``True``: there, under pytest too; ``False``: never by
  itself — call ``get_election().start()``.
- ``LEADER_ELECTION_COMMANDS`` (default ``[]``): management commands that start it too,
  besides ``runserver`` (a long-running custom command, ``runserver_plus``); a list, or one
  comma-separated string.

Both are read as the Flask integration reads its keys (``serving.parse_flag`` /
``parse_names``): a boolean setting takes ``True``/``False`` or ``"true"``/``"false"`` (and
the other words ``LeaderElectionOptions`` accepts), as the ``LEADER_ELECTION`` options do.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from leader_election import serving
from leader_election.errors import ConfigurationError
from leader_election.module import LeaderElectionModule
from leader_election.options import LeaderElectionOptions

__all__ = ["autostart", "commands", "get_election", "options_from_settings"]

_lock = threading.Lock()
_election: LeaderElectionModule | None = None


def options_from_settings(**overrides: Any) -> LeaderElectionOptions:
    """``settings.LEADER_ELECTION`` (with ``overrides``) as validated options.

    Raises ``ConfigurationError`` naming the setting, the option, the value and the rule.
    """
    value = getattr(settings, "LEADER_ELECTION", {})
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"settings.LEADER_ELECTION={value!r}: must be a dict of for_root options, "
            "e.g. {'lease_name': 'my-app', 'namespace': 'default'}",
            option="LEADER_ELECTION",
            value=value,
        )
    return LeaderElectionOptions.from_mapping(
        {**value, **overrides}, source="settings.LEADER_ELECTION"
    )


def get_election() -> LeaderElectionModule:
    """The process's ``LeaderElectionModule``, made from ``settings.LEADER_ELECTION`` on first
    use (``ready()`` or earlier). Register leader-only work on it from your own ``ready()``:
    ``get_election().run_while_leader(fn)``."""
    global _election  # noqa: PLW0603 - one election per process, as one settings object
    with _lock:
        if _election is None:
            _election = LeaderElectionModule.for_root(options_from_settings())
        return _election


def autostart() -> bool | None:
    """``settings.LEADER_ELECTION_AUTOSTART``: None when not set (the default rules apply)."""
    value = getattr(settings, serving.AUTOSTART, None)
    return serving.parse_autostart(value, where=f"settings.{serving.AUTOSTART}")


def commands() -> frozenset[str]:
    """``settings.LEADER_ELECTION_COMMANDS``: management commands that start the election."""
    value = getattr(settings, serving.COMMANDS, None)
    return serving.parse_names(
        serving.COMMANDS, value, what="management command", where=f"settings.{serving.COMMANDS}"
    )
