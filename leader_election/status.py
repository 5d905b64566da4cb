"""``leader-election status``: one read of a Lease, reported as an operator wants to see it.

The connection is found exactly as the library finds it (``connection.py``: ``--kubeconfig``,
in-cluster, ``KUBECONFIG``, ``~/.kube/config``). A single read cannot judge expiry the way
candidates do (by when they saw the record change, on their own monotonic clock); the report
compares ``renewTime + leaseDurationSeconds`` with this machine's wall clock instead, as
``kubectl`` users do by eye, and says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
from typing import Any, TextIO

from leader_election.clock import Clock, SystemClock
from leader_election.connection import resolve_connection
from leader_election.errors import ConfigurationError, NotFoundError
from leader_election.lock import LeaseLock
from leader_election.options import LeaderElectionOptions
from leader_election.record import format_micro_time
from leader_election.transport import Transport

__all__ = ["LeaseStatus", "read_status", "register", "run_status"]

DEFAULT_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseStatus:
    """What one read of a Lease shows. Ages are seconds before ``observed_at`` (wall clock)."""

    namespace: str
    name: str
    holder: str
    """``holderIdentity``; ``""`` when nobody holds the Lease (released or never acquired)."""
    acquire_time: datetime.datetime | None
    renew_time: datetime.datetime | None
    lease_duration_seconds: int
    lease_transitions: int
    observed_at: datetime.datetime

    @property
    def held(self) -> bool:
        return self.holder != ""

    @property
    def acquired_ago(self) -> float | None:
        return _age(self.acquire_time, self.observed_at)

    @property
    def renewed_ago(self) -> float | None:
        return _age(self.renew_time, self.observed_at)

    @property
    def expired(self) -> bool:
        """True when nobody holds the Lease, or its holder has not renewed within the lease
        duration (by this machine's clock): any candidate may take it."""
        renewed = self.renewed_ago
        if not self.held or renewed is None or self.lease_duration_seconds <= 0:
            return True
        return renewed > self.lease_duration_seconds

    def to_json(self) -> dict[str, Any]:
        """The report as ``-o json`` prints it (times in RFC 3339, durations in seconds)."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "holder": self.holder or None,
            "held": self.held,
            "acquire_time": _iso(self.acquire_time),
            "renew_time": _iso(self.renew_time),
            "acquired_ago_seconds": _round(self.acquired_ago),
            "renewed_ago_seconds": _round(self.renewed_ago),
            "lease_duration_seconds": self.lease_duration_seconds,
            "lease_transitions": self.lease_transitions,
            "expired": self.expired,
            "observed_at": _iso(self.observed_at),
        }

    def to_text(self) -> str:
        """The report for people, one field a line."""
        if not self.held:
            state = "free: nobody holds it (released, or never acquired)"
        elif self.expired:
            state = "expired: the holder stopped renewing; the next candidate may take it"
        else:
            renewed = self.renewed_ago or 0.0
            state = f"held, expires in {self.lease_duration_seconds - renewed:.1f} s unless renewed"
        rows = [
            ("Lease", f"{self.namespace}/{self.name}"),
            ("Holder", self.holder or "<none>"),
            ("Acquired", _when(self.acquire_time, self.acquired_ago)),
            ("Renewed", _when(self.renew_time, self.renewed_ago)),
            ("Lease duration", f"{self.lease_duration_seconds} s"),
            ("Transitions", str(self.lease_transitions)),
            ("State", state),
        ]
        width = max(len(label) for label, _ in rows) + 1
        lines = [f"{label + ':':<{width}} {value}" for label, value in rows]
        lines.append("(ages and expiry by this machine's clock; candidates judge expiry by")
        lines.append(" when they saw the Lease change, so clock skew does not affect them)")
        return "\n".join(lines) + "\n"


def _age(when: datetime.datetime | None, now: datetime.datetime) -> float | None:
    return None if when is None else (now - when).total_seconds()


def _iso(when: datetime.datetime | None) -> str | None:
    return None if when is None else format_micro_time(when)


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _when(when: datetime.datetime | None, ago: float | None) -> str:
    if when is None or ago is None:
        return "<never>"
    relative = f"{ago:.1f} s ago" if ago >= 0 else f"{-ago:.1f} s in the future (clock skew)"
    return f"{format_micro_time(when)} ({relative})"


def read_status(
    lease_name: str,
    namespace: str = "default",
    *,
    kubeconfig: str | None = None,
    api_client: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock | None = None,
) -> LeaseStatus:
    """Read the Lease once and return its ``LeaseStatus``.

    Raises ``ConfigurationError`` (invalid names, no cluster found, unreadable kubeconfig),
    ``NotFoundError`` (no such Lease) and other ``ApiError`` leaves (``ForbiddenError`` names
    the missing verb).
    """
    options = LeaderElectionOptions(
        lease_name=lease_name, namespace=namespace, kubeconfig=kubeconfig, api_client=api_client
    )
    connection = resolve_connection(options)
    if connection is None:
        raise ConfigurationError(
            "no Kubernetes cluster found (no --kubeconfig, in-cluster environment, KUBECONFIG "
            "or ~/.kube/config): there is no Lease to show",
            option="kubeconfig",
            value=None,
        )
    try:
        lock = LeaseLock(Transport(connection.api_client), namespace, lease_name)
        observed = lock.get(timeout)
    finally:
        connection.close()
    if observed is None:
        raise NotFoundError(
            f"Lease {namespace}/{lease_name} not found: no candidate has run yet, it was "
            "deleted, or the namespace or name is wrong",
            status=404,
            reason="NotFound",
            verb="get",
        )
    record = observed.record
    return LeaseStatus(
        namespace=namespace,
        name=lease_name,
        holder=record.holder_identity,
        acquire_time=record.acquire_time,
        renew_time=record.renew_time,
        lease_duration_seconds=record.lease_duration_seconds,
        lease_transitions=record.lease_transitions,
        observed_at=(clock or SystemClock()).now(),
    )


def run_status(args: argparse.Namespace, out: TextIO) -> int:
    """The ``status`` subcommand: print the report; 0 once the Lease was read."""
    status = read_status(
        args.lease, args.namespace, kubeconfig=args.kubeconfig, timeout=args.request_timeout
    )
    if args.output == "json":
        out.write(json.dumps(status.to_json(), indent=2) + "\n")
    else:
        out.write(status.to_text())
    return 0


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


_STATUS_DESCRIPTION = """\
Read a Lease once and show its holder, when it was acquired and last renewed, its lease
duration, how many times it changed hands (leaseTransitions) and whether it is expired.

Expiry is judged here by renewTime + leaseDurationSeconds against this machine's clock;
candidates judge it by when they saw the Lease change, so clock skew never misleads them.

The cluster is found as the library finds it: --kubeconfig, else KUBECONFIG, else the
in-cluster ServiceAccount, else ~/.kube/config. Needs the RBAC verb get on the Lease.
"""

_STATUS_EPILOG = """\
exit status:
  0   the Lease was read (held, free or expired)
  1   it does not exist, or the API refused (the message says why)
  2   invalid arguments, or no cluster configuration found

examples:
  leader-election status --lease my-app -n prod
  leader-election status --lease my-app -o json | jq .holder
"""


def add_lease_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lease``, ``-n/--namespace`` and ``--kubeconfig``: how every command names a Lease."""
    parser.add_argument("--lease", required=True, metavar="NAME", help="name of the Lease")
    parser.add_argument(
        "-n",
        "--namespace",
        default="default",
        metavar="NS",
        help="namespace of the Lease (default: %(default)s, as in the library)",
    )
    parser.add_argument(
        "--kubeconfig", metavar="PATH", help="kubeconfig file to use (its current context)"
    )
    parser.add_argument(
        "--require-cluster",
        action="store_true",
        help="fail (exit 2) instead of running standalone when no cluster is found",
    )


def register(subparsers: Any) -> None:
    """Add ``status`` to the ``leader-election`` command line."""
    parser = subparsers.add_parser(
        "status",
        help="show who holds a Lease, since when, and whether it expired",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_STATUS_DESCRIPTION,
        epilog=_STATUS_EPILOG,
    )
    add_lease_arguments(parser)
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text for people (default) or json for scripts",
    )
    parser.add_argument(
        "--request-timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="give up on the API server after this long (default: %(default)g)",
    )
    parser.set_defaults(handler=run_status)
