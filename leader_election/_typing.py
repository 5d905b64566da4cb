"""Static types of the option keywords, for ``for_root(**kwargs: Unpack[...])``.

``LeaderElectionOptionsDict`` names every field of ``LeaderElectionOptions`` with what it
accepts *as input* — before validation coerces it — so an editor completes the option names
and a type checker rejects a misspelt one:

- durations take milliseconds (``int``/``float``), a numeric string (from an environment
  variable) or a ``timedelta``;
- booleans take ``bool`` or the strings ``"true"``/``"false"`` (and ``"1"``, ``"yes"``, ...);
- ``log_at_level`` takes ``"log"`` or ``"debug"`` (any case).

The NestJS camelCase spellings (``leaseName``, ...) stay accepted at run time through a dict,
not as typed keywords. This module is imported only by type checkers: Python 3.10 has no
``typing.Unpack``, so run time never needs ``typing_extensions``.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from typing import Any, TypedDict

from leader_election.clock import Clock

__all__ = ["Duration", "Flag", "LeaderElectionOptionsDict"]

Duration = int | float | str | datetime.timedelta
"""Milliseconds, a numeric string of milliseconds, or a ``timedelta``."""
Flag = bool | str
"""A boolean, or its spelling in an environment variable (``"true"``, ``"0"``, ...)."""


class LeaderElectionOptionsDict(TypedDict, total=False):
    """The keyword options of ``LeaderElectionModule.for_root``; see ``LeaderElectionOptions``."""

    lease_name: str
    namespace: str
    renewal_interval: Duration
    lease_duration: Duration | None
    renew_deadline: Duration | None
    identity: str
    log_at_level: str
    await_leadership: Flag
    release_on_stop: Flag
    handle_signals: Flag
    kubeconfig: str | os.PathLike[str] | None
    api_client: Any
    standalone: Flag
    leader_pod_label: str | None
    record_events: Flag
    lease_labels: Mapping[str, str] | None
    drain_timeout: Duration
    clock: Clock
