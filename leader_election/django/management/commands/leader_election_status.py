"""``manage.py leader_election_status``: one read of the Lease ``settings.LEADER_ELECTION``
names — holder, acquired and renewed how long ago, lease duration, transitions, expired.

Uses the connection the election would use (the ``kubeconfig`` / ``api_client`` options,
in-cluster configuration, ``KUBECONFIG``). Ages and expiry are judged by this machine's wall
clock, as a person reading ``kubectl get lease`` would; candidates judge expiry by when they
saw the Lease change, on their own monotonic clock, so skew does not affect them.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leader_election.connection import resolve_connection
from leader_election.django.conf import options_from_settings
from leader_election.errors import ApiError, ConfigurationError
from leader_election.lock import LeaseLock
from leader_election.record import LeaseRecord, format_micro_time
from leader_election.transport import Transport

_TIMEOUT = 10.0


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
            connection = resolve_connection(options)
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        if connection is None:
            raise CommandError(
                "no Kubernetes cluster found (no kubeconfig/api_client option, in-cluster "
                "environment, KUBECONFIG or ~/.kube/config): standalone mode has no Lease"
            )
        lock = LeaseLock(Transport(connection.api_client), options.namespace, options.lease_name)
        try:
            observed = lock.get(_TIMEOUT)
        except ApiError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            connection.close()
        if observed is None:
            raise CommandError(
                f"Lease {options.lease_description} not found: no candidate has run yet, it "
                "was deleted, or the namespace or name is wrong"
            )
        now = options.clock.now()
        report = _report(observed.record, options.lease_description, now)
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(_text(report))


def _ago(when: datetime.datetime | None, now: datetime.datetime) -> float | None:
    return None if when is None else round((now - when).total_seconds(), 3)


def _report(record: LeaseRecord, lease: str, now: datetime.datetime) -> dict[str, Any]:
    renewed_ago = _ago(record.renew_time, now)
    expired = (
        not record.is_held
        or renewed_ago is None
        or record.lease_duration_seconds <= 0
        or renewed_ago > record.lease_duration_seconds
    )
    return {
        "lease": lease,
        "holder": record.holder_identity or None,
        "acquire_time": format_micro_time(record.acquire_time) if record.acquire_time else None,
        "acquired_ago_seconds": _ago(record.acquire_time, now),
        "renew_time": format_micro_time(record.renew_time) if record.renew_time else None,
        "renewed_ago_seconds": renewed_ago,
        "lease_duration_seconds": record.lease_duration_seconds,
        "lease_transitions": record.lease_transitions,
        "expired": expired,
    }


def _text(report: dict[str, Any]) -> str:
    def when(time_key: str, ago_key: str) -> str:
        if report[time_key] is None:
            return "<never>"
        return f"{report[time_key]} ({report[ago_key]:.1f} s ago)"

    if report["holder"] is None:
        state = "free: nobody holds it (released, or never acquired)"
    elif report["expired"]:
        state = "expired: the holder stopped renewing; the next candidate may take it"
    else:
        left = report["lease_duration_seconds"] - (report["renewed_ago_seconds"] or 0.0)
        state = f"held, expires in {left:.1f} s unless renewed"
    rows = [
        ("Lease", report["lease"]),
        ("Holder", report["holder"] or "<none>"),
        ("Acquired", when("acquire_time", "acquired_ago_seconds")),
        ("Renewed", when("renew_time", "renewed_ago_seconds")),
        ("Lease duration", f"{report['lease_duration_seconds']} s"),
        ("Transitions", str(report["lease_transitions"])),
        ("Expired", f"{'yes' if report['expired'] else 'no'} - {state}"),
    ]
    width = max(len(label) for label, _ in rows) + 1
    lines = [f"{label + ':':<{width}} {value}" for label, value in rows]
    lines.append("(ages and expiry by this machine's clock)")
    return "\n".join(lines)
