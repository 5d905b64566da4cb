"""``manage.py leader_election_status``: one read of the Lease ``settings.LEADER_ELECTION``
names — holder, acquired and renewed how long ago, lease duration, transitions, expired or
not — as ``leader-election status`` prints it (``leader_election.status``).

Uses the connection the election would use (the ``kubeconfig`` / ``api_client`` options,
in-cluster configuration, ``KUBECONFIG``). Never competes.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leader_election.django.conf import options_from_settings
from leader_election.errors import ApiError, ConfigurationError
from leader_election.status import DEFAULT_TIMEOUT, read_status


class Command(BaseCommand):  # type: ignore[misc]  # Django ships no type information
    help = (
        "Print the leader-election Lease of settings.LEADER_ELECTION: holder, acquired and "
        "renewed ago, lease duration, transitions, expired or not."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--lease", help="Lease name (default: LEADER_ELECTION's lease_name)")
        parser.add_argument("--namespace", help="namespace (default: LEADER_ELECTION's namespace)")
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")

    def handle(self, *args: Any, **opts: Any) -> None:
        overrides = {
            key: opts[flag]
            for key, flag in (("lease_name", "lease"), ("namespace", "namespace"))
            if opts.get(flag)
        }
        try:
            options = options_from_settings(**overrides)
            status = read_status(
                options.lease_name,
                options.namespace,
                kubeconfig=options.kubeconfig,
                api_client=options.api_client,
                timeout=DEFAULT_TIMEOUT,
                clock=options.clock,
            )
        except (ConfigurationError, ApiError) as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(status.to_json(), indent=2))
        else:
            self.stdout.write(status.to_text(), ending="")
