"""The Lease as a leader-election record: pure conversion between API objects and ``LeaseRecord``.

The wire format is client-go's (``resourcelock.LeaseSpecToLeaderElectionRecord`` and back), so
a Go controller, the official Python client and this library read and write the same Lease:

- ``holderIdentity`` — the leader; ``""`` or absent means free (client-go writes ``""`` when it
  releases);
- ``leaseDurationSeconds`` — how long candidates wait, from when they *saw the record change*;
- ``acquireTime`` / ``renewTime`` — MicroTime, informational only (expiry is never judged by
  comparing them with a local clock);
- ``leaseTransitions`` — incremented on every change of holder; we hand it out as the fencing
  token of a leadership term.

Objects stay plain JSON dicts: an update sends back the whole object last seen with only the
record fields changed, so fields this library does not know (``strategy``,
``preferredHolder``, labels, annotations, future fields) survive a renewal. No I/O here.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_TRANSITIONS",
    "LeaseRecord",
    "ObservedLease",
    "format_micro_time",
    "latest_transitions",
    "new_lease_body",
    "next_transitions",
    "observe",
    "parse_micro_time",
    "record_from_lease",
    "updated_lease_body",
]

API_VERSION = "coordination.k8s.io/v1"

MAX_TRANSITIONS = 2**31 - 1
"""``leaseTransitions`` is an int32: kube-apiserver refuses 2147483648 (400, "cannot unmarshal")."""
_SERIAL_MODULUS = 2**31
_SERIAL_HALF = 2**30


def next_transitions(value: int) -> int:
    """The fencing token after ``value``: one more, wrapping from ``MAX_TRANSITIONS`` to 0.

    Saturating would stop the token from growing (two terms, one token); failing would stop
    elections for good. Wrapping keeps both going: tokens compare as serial numbers modulo
    2**31 (RFC 1982, see ``latest_transitions``), which is plain integer order until the first
    wrap — 2**31 terms away.
    """
    return 0 if value >= MAX_TRANSITIONS else max(value, -1) + 1


def latest_transitions(a: int, b: int) -> int:
    """The later of two ``leaseTransitions`` values; a negative one means "none seen".

    Serial-number order (RFC 1982) modulo 2**31: ``a`` is later than ``b`` when it is ahead of
    it by less than 2**30. So ``0`` is later than ``MAX_TRANSITIONS`` (a wrap), while a value
    lowered by hand (3 -> 0, a restored backup) is earlier and never adopted.
    """
    if a < 0 or b < 0:
        return max(a, b)
    return a if 0 < (a - b) % _SERIAL_MODULUS < _SERIAL_HALF else b


KIND = "Lease"

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def format_micro_time(when: datetime.datetime) -> str:
    """Format as kube-apiserver's MicroTime: UTC, exactly six fractional digits, ``Z``.

    kube-apiserver parses MicroTime with the layout ``2006-01-02T15:04:05.000000Z07:00`` and
    rejects any other number of digits, which ``datetime.isoformat()`` produces whenever the
    microseconds happen to be zero.
    """
    if when.tzinfo is None:
        raise ValueError(f"MicroTime needs a timezone-aware datetime, got {when!r}")
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(value: object) -> datetime.datetime | None:
    """Parse an RFC 3339 time (any number of fractional digits); ``None`` for null or garbage.

    Lenient on purpose: the times in a Lease are informational, and a record written by
    another client must never stop this one from competing.
    """
    if not isinstance(value, str):
        return None
    match = _RFC3339.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = datetime.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = datetime.timezone(
            sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        )
    try:
        parsed = datetime.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz
        )
    except ValueError:
        return None
    return parsed.astimezone(datetime.timezone.utc)


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The leader-election fields of a Lease's spec, as client-go's LeaderElectionRecord."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime.datetime | None = None
    renew_time: datetime.datetime | None = None
    lease_transitions: int = 0

    @property
    def is_held(self) -> bool:
        """True when some candidate claims the Lease (``holderIdentity`` is not empty)."""
        return self.holder_identity != ""


def _int_field(spec: Mapping[str, Any], key: str) -> int:
    value = spec.get(key)
    # bool is an int in Python but never a valid value here.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 0


def record_from_lease(obj: Mapping[str, Any]) -> LeaseRecord:
    """Read the leader-election record out of a Lease object (a decoded JSON dict)."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return LeaseRecord()
    holder = spec.get("holderIdentity")
    return LeaseRecord(
        holder_identity=holder if isinstance(holder, str) else "",
        lease_duration_seconds=_int_field(spec, "leaseDurationSeconds"),
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        lease_transitions=_int_field(spec, "leaseTransitions"),
    )


@dataclass(frozen=True, slots=True)
class ObservedLease:
    """A Lease as last seen: its record, its ``resourceVersion`` and the whole object.

    ``body`` is never mutated; updates start from a deep copy of it.
    """

    record: LeaseRecord
    resource_version: str
    body: Mapping[str, Any]
    uid: str = ""
    """``metadata.uid``: a different uid under the same name means deleted and created again."""


def observe(obj: Mapping[str, Any]) -> ObservedLease:
    """Wrap a Lease object read from the API (GET, watch event, write response)."""
    metadata = obj.get("metadata")
    resource_version = uid = ""
    if isinstance(metadata, Mapping):
        rv = metadata.get("resourceVersion")
        resource_version = rv if isinstance(rv, str) else ""
        raw_uid = metadata.get("uid")
        uid = raw_uid if isinstance(raw_uid, str) else ""
    return ObservedLease(record_from_lease(obj), resource_version, obj, uid)


def _spec_fields(record: LeaseRecord) -> dict[str, Any]:
    return {
        "holderIdentity": record.holder_identity,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "acquireTime": (
            format_micro_time(record.acquire_time) if record.acquire_time is not None else None
        ),
        "renewTime": (
            format_micro_time(record.renew_time) if record.renew_time is not None else None
        ),
        "leaseTransitions": record.lease_transitions,
    }


def new_lease_body(name: str, namespace: str, record: LeaseRecord) -> dict[str, Any]:
    """The body of a create request for a new Lease holding ``record``."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {k: v for k, v in _spec_fields(record).items() if v is not None},
    }


def updated_lease_body(observed: ObservedLease, record: LeaseRecord) -> dict[str, Any]:
    """The body of a replace request: the object last seen with the record fields replaced.

    It carries the observed ``metadata.resourceVersion``, so the API server applies it only if
    nobody wrote the Lease since (409 Conflict otherwise): optimistic concurrency.
    """
    body = copy.deepcopy(dict(observed.body))
    body.setdefault("apiVersion", API_VERSION)
    body.setdefault("kind", KIND)
    spec = body.get("spec")
    spec = dict(spec) if isinstance(spec, Mapping) else {}
    for key, value in _spec_fields(record).items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    body["spec"] = spec
    return body
