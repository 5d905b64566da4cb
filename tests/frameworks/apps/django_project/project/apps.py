"""Records every process whose election starts, as the Flask test app does."""

import os
from typing import Any

from django.apps import AppConfig

from leader_election import LeaderChangedEvent, leader_changed

_recorded: set[int] = set()


def _record_candidate(sender: Any, event: LeaderChangedEvent) -> None:
    path = os.environ.get("TEST_CANDIDATES_FILE")
    if path and os.getpid() not in _recorded:
        _recorded.add(os.getpid())
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {event.identity}\n")


# Connected when Django imports this module (before any app's ready()): leader_election's
# ready() starts the election, and a follower's first leader.changed can be delivered before
# this app's ready() would have run.
leader_changed.connect(_record_candidate, weak=False)


class ProjectConfig(AppConfig):
    name = "project"
