"""A long-running custom command, listed in LEADER_ELECTION_COMMANDS: its process competes."""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write("serve_forever: handler installed", ending="\n")
        self.stdout.flush()
        while not stop.wait(0.5):
            pass
