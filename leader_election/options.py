"""``LeaderElectionOptions``: every option, its default, its unit and its validation rule.

Durations are given as the NestJS module takes them — milliseconds (``renewal_interval=10000``)
— or as a ``datetime.timedelta``; numeric strings (from environment variables) are coerced.
They are stored as ``timedelta``. All validation happens here, at configuration time, and
fails with a ``ConfigurationError`` naming the option, the value and the rule.

The timing invariants mirror client-go's (``lease_duration > renew_deadline > retry period``):

- ``renewal_interval`` — the leader renews this often; followers poll this often when they
  cannot watch. Default 10000 ms, as in the NestJS module.
- ``renew_deadline`` — a leader that has not renewed for this long (counted from the *send*
  time of its last successful renewal) steps down. It must exceed ``renewal_interval`` and stay
  below ``lease_duration``, so the leader always stops before any candidate may take over.
- ``lease_duration`` — written to the Lease (whole seconds): how long others wait after they
  last saw the record change. Default: twice ``renewal_interval``, rounded up to a second.
- ``drain_timeout`` — how long a leader that stops (or resigns) waits, still renewing, for its
  leader-only work and ``leader.lost`` receivers to return before it releases the Lease.

The resolved durations, in seconds, with everything derived from them, are ``timing``.
"""

from __future__ import annotations

import datetime
import difflib
import math
import os
import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from leader_election.clock import Clock, SystemClock
from leader_election.errors import ConfigurationError
from leader_election.podlabel import check_labels, parse_pod_label
from leader_election.timing import Timing

__all__ = ["LeaderElectionOptions", "default_identity"]

LogLevelName = Literal["log", "debug"]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)

MIN_INTERVAL = datetime.timedelta(milliseconds=100)
MAX_DURATION = datetime.timedelta(days=1)

# The NestJS module's option names, accepted so a for_root_async factory ported from Nest works.
_CAMEL_CASE_ALIASES = {
    "leaseName": "lease_name",
    "renewalInterval": "renewal_interval",
    "logAtLevel": "log_at_level",
    "awaitLeadership": "await_leadership",
    "leaseDuration": "lease_duration",
    "renewDeadline": "renew_deadline",
    "releaseOnStop": "release_on_stop",
    "handleSignals": "handle_signals",
    "apiClient": "api_client",
    "drainTimeout": "drain_timeout",
}


IDENTITY_MAX_LENGTH = 253
"""The longest identity: a forked child's identity (a fresh ``_`` + 8 hex suffix on at most
the first 244 characters of its parent's) stays within it too."""


def default_identity() -> str:
    """A holder identity unique to this process: pod name (or hostname) plus a random suffix.

    ``POD_NAME`` (set from the downward API) makes ``kubectl get lease`` readable; the suffix
    keeps two processes of one pod (gunicorn workers, a restarted container) distinct.
    """
    base = os.environ.get("POD_NAME") or socket.gethostname() or "candidate"
    return f"{base[: IDENTITY_MAX_LENGTH - 9]}_{uuid.uuid4().hex[:8]}"


def forked_identity(identity: str) -> str:
    """A new identity for a forked child: never its parent's, whose Lease it would renew.

    A default identity (``default_identity()``) is drawn again; an explicit one gets a
    random suffix.
    """
    base, _, suffix = identity.rpartition("_")
    if base == default_identity().rpartition("_")[0] and re.fullmatch(r"[0-9a-f]{8}", suffix):
        return default_identity()
    # Cut to fit: a child of a child must still pass the identity length check.
    return f"{identity[: IDENTITY_MAX_LENGTH - 9]}_{uuid.uuid4().hex[:8]}"


def _fail(option: str, value: object, rule: str) -> ConfigurationError:
    return ConfigurationError(f"{option}={value!r}: {rule}", option=option, value=value)


def _coerce_number(option: str, value: object) -> float:
    if isinstance(value, bool):
        raise _fail(option, value, "expected milliseconds (a number) or a datetime.timedelta")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _fail(
                option,
                value,
                "expected milliseconds as a number (for example '10000') or a datetime.timedelta",
            ) from None
    else:
        raise _fail(option, value, "expected milliseconds (a number) or a datetime.timedelta")
    if not math.isfinite(number):
        raise _fail(option, value, "must be a finite number of milliseconds")
    return number


def _duration(option: str, value: object) -> datetime.timedelta:
    """Milliseconds, a numeric string or a timedelta → a positive, sane timedelta."""
    if isinstance(value, datetime.timedelta):
        result = value
    else:
        result = datetime.timedelta(milliseconds=_coerce_number(option, value))
    if result <= datetime.timedelta(0):
        raise _fail(option, value, "must be positive")
    if result < MIN_INTERVAL:
        millis = result / datetime.timedelta(milliseconds=1)
        raise _fail(
            option,
            value,
            f"is {millis:g} ms, below the minimum of 100 ms; the unit is milliseconds "
            f"- did you mean {millis * 1000:g} ({millis:g} s)?",
        )
    if result > MAX_DURATION:
        raise _fail(option, value, "is more than a day; the unit is milliseconds")
    return result


def _boolean(option: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", ""):
        return False
    raise _fail(option, value, "expected a boolean (or 'true'/'false' from an environment)")


def _seconds(delta: datetime.timedelta) -> str:
    return f"{delta.total_seconds():g} s"


@dataclass(frozen=True, slots=True)
class LeaderElectionOptions:
    """Validated options of one ``LeaderElectionModule``. Build with ``for_root(**options)``.

    Durations accept milliseconds, numeric strings or ``timedelta`` and are stored as
    ``timedelta``. Raises ``ConfigurationError`` for any invalid value.
    """

    lease_name: str = "nestjs-leader-election"
    """Name of the Lease (a DNS-1123 subdomain)."""
    namespace: str = "default"
    """Namespace of the Lease (a DNS-1123 label)."""
    renewal_interval: datetime.timedelta = datetime.timedelta(milliseconds=10000)
    """How often the leader renews (and followers poll when they cannot watch)."""
    lease_duration: datetime.timedelta | None = None
    """Written to the Lease; whole seconds. Default: 2 x renewal_interval, rounded up."""
    renew_deadline: datetime.timedelta | None = None
    """A leader that has not renewed for this long steps down. Default: midway between
    renewal_interval and lease_duration."""
    identity: str = field(default_factory=default_identity)
    """This candidate's holderIdentity; unique per process by default."""
    log_at_level: LogLevelName = "log"
    """Level of transition logs: ``"log"`` (INFO) or ``"debug"`` (DEBUG), as in NestJS."""
    await_leadership: bool = False
    """When true, ``start()`` returns only after the first election round is decided."""
    release_on_stop: bool = True
    """When true, a leader that stops writes the Lease free so another takes over at once."""
    handle_signals: bool = True
    """Release on SIGTERM/SIGINT (chaining the previous handlers) when started in the main
    thread. Turn off for servers that manage signals themselves."""
    kubeconfig: str | None = None
    """Path of a kubeconfig file to connect with (instead of in-cluster / KUBECONFIG)."""
    api_client: Any = None
    """A configured ``kubernetes.client.ApiClient`` to connect with."""
    standalone: bool = True
    """When no cluster is found at all (no option, no ``KUBECONFIG``, no in-cluster
    environment, no ``~/.kube/config``), lead alone (true, as NestJS) or make ``start()`` raise
    ``ConfigurationError`` (false). Production should set false: there, "no cluster" is a
    mistake, and standalone means every replica leads."""
    leader_pod_label: str | None = None
    """``"key=value"``: the leader sets this label on its own Pod (``POD_NAME``) while it leads
    and clears it during the drain, so a Service selecting it routes to the leader only."""
    record_events: bool = True
    lease_labels: Mapping[str, str] | None = field(default=None, hash=False)
    """Labels written onto the Lease when this candidate creates or acquires it (client-go's
    ``NewWithLabels``, controller-runtime's ``LeaderElectionLabels``); others' are kept."""
    """Record ``became leader`` / ``stopped leading`` Events on the Lease, as client-go does;
    a 403 turns it off with one warning."""
    drain_timeout: datetime.timedelta = datetime.timedelta(milliseconds=10000)
    """How long a stopping leader waits, still renewing, for its ``run_while_leader`` functions
    and ``leader.lost`` receivers before releasing. Past it, the Lease is not released: it
    expires. Default 10000 ms: with the release, within Kubernetes' default 30 s grace period."""
    clock: Clock = field(default_factory=SystemClock, compare=False)
    """Source of time; tests inject a skewed or fake clock."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        # Messages quote what the user gave, not the normalized timedelta.
        raw_lease_duration, raw_renew_deadline = self.lease_duration, self.renew_deadline
        set_(self, "lease_name", self._name("lease_name", self.lease_name, subdomain=True))
        set_(self, "namespace", self._name("namespace", self.namespace, subdomain=False))
        interval = _duration("renewal_interval", self.renewal_interval)
        set_(self, "renewal_interval", interval)

        if self.lease_duration is None:
            lease_duration = datetime.timedelta(seconds=math.ceil(2 * interval.total_seconds()))
        else:
            lease_duration = _duration("lease_duration", self.lease_duration)
            whole = lease_duration.total_seconds()
            if whole != int(whole) or whole < 1:
                low, high = max(1, math.floor(whole)), math.ceil(whole)
                raise _fail(
                    "lease_duration",
                    self.lease_duration,
                    f"is {whole:g} s; the Lease stores whole seconds (leaseDurationSeconds): "
                    f"use {low * 1000} or {high * 1000} ms",
                )
        set_(self, "lease_duration", lease_duration)
        if lease_duration <= interval:
            raise _fail(
                "lease_duration",
                raw_lease_duration,
                f"must be longer than renewal_interval ({_seconds(interval)}), or the Lease "
                "expires between two renewals",
            )

        if self.renew_deadline is None:
            deadline = interval + (lease_duration - interval) / 2
        else:
            deadline = _duration("renew_deadline", self.renew_deadline)
        set_(self, "renew_deadline", deadline)
        if deadline >= lease_duration:
            raise _fail(
                "renew_deadline",
                raw_renew_deadline,
                f"must be below lease_duration ({_seconds(lease_duration)}): a leader must step "
                "down before any other candidate may consider the Lease expired",
            )
        if deadline <= interval:
            raise _fail(
                "renew_deadline",
                raw_renew_deadline,
                f"must be longer than renewal_interval ({_seconds(interval)}), or the leader "
                "steps down before its first renewal",
            )

        set_(self, "drain_timeout", _duration("drain_timeout", self.drain_timeout))

        if not isinstance(self.identity, str) or not self.identity.strip():
            raise _fail("identity", self.identity, "must be a non-empty string")
        if len(self.identity) > IDENTITY_MAX_LENGTH or any(ord(c) < 32 for c in self.identity):
            raise _fail(
                "identity",
                self.identity,
                f"must be at most {IDENTITY_MAX_LENGTH} printable characters long "
                f"(it has {len(self.identity)})",
            )

        level = self.log_at_level
        if not isinstance(level, str) or level.strip().lower() not in ("log", "debug"):
            raise _fail("log_at_level", level, "must be 'log' (INFO) or 'debug' (DEBUG)")
        set_(self, "log_at_level", level.strip().lower())

        if self.lease_labels is not None:
            set_(self, "lease_labels", check_labels(self.lease_labels, option="lease_labels"))
        if self.leader_pod_label is not None:
            set_(self, "leader_pod_label", str(parse_pod_label(self.leader_pod_label)))
        for name in (
            "await_leadership",
            "release_on_stop",
            "handle_signals",
            "standalone",
            "record_events",
        ):
            set_(self, name, _boolean(name, getattr(self, name)))

        if self.kubeconfig is not None:
            path = os.fspath(self.kubeconfig) if isinstance(self.kubeconfig, os.PathLike) else None
            path = path if path is not None else self.kubeconfig
            if not isinstance(path, str) or not path:
                raise _fail("kubeconfig", self.kubeconfig, "must be the path of a kubeconfig file")
            expanded = os.path.expanduser(path)
            if os.path.isdir(expanded):
                raise _fail(
                    "kubeconfig", self.kubeconfig, "is a directory; give the kubeconfig file in it"
                )
            if not os.path.isfile(expanded):
                raise _fail("kubeconfig", self.kubeconfig, "no such file")
            set_(self, "kubeconfig", os.path.expanduser(path))
        if self.api_client is not None:
            if not hasattr(self.api_client, "configuration"):
                raise _fail("api_client", self.api_client, "must be a kubernetes.client.ApiClient")
            if self.kubeconfig is not None:
                raise _fail("api_client", self.api_client, "set api_client or kubeconfig, not both")
        if not isinstance(self.clock, Clock):
            raise _fail("clock", self.clock, "must provide monotonic() and now()")

    @staticmethod
    def _name(option: str, value: object, *, subdomain: bool) -> str:
        if not isinstance(value, str):
            raise _fail(option, value, "must be a string")
        limit, pattern = (253, _DNS1123_SUBDOMAIN) if subdomain else (63, _DNS1123_LABEL)
        kind = "RFC 1123 subdomain" if subdomain else "RFC 1123 label"
        example = "'my-app' or 'my-app.example.com'" if subdomain else "'my-namespace'"
        if not value or len(value) > limit or not pattern.match(value):
            raise _fail(
                option,
                value,
                f"must be a lowercase {kind} of at most {limit} characters: lower case "
                "alphanumeric characters"
                + (", '-' or '.'" if subdomain else " or '-'")
                + f", starting and ending with an alphanumeric character (e.g. {example})",
            )
        return value

    # -- construction from loose input ------------------------------------------------------
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "") -> LeaderElectionOptions:
        """Build options from a dict (keyword arguments, a factory's result, app config).

        Accepts the NestJS camelCase names too (``leaseName``, ``renewalInterval``, ...).
        Unknown names are rejected with the closest known name. ``source`` prefixes messages.
        """
        known = {f.name for f in fields(cls)}
        normalized: dict[str, Any] = {}
        for key, value in values.items():
            name = _CAMEL_CASE_ALIASES.get(key, key)
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                prefix = f"{source}: " if source else ""
                raise ConfigurationError(
                    f"{prefix}unknown option {key!r}{hint} Known options: "
                    + ", ".join(sorted(known)),
                    option=key,
                    value=value,
                )
            if name in normalized:
                raise ConfigurationError(
                    f"option {name!r} given twice (as {key!r} too)", option=name, value=value
                )
            normalized[name] = value
        try:
            return cls(**normalized)
        except ConfigurationError as exc:
            if not source:
                raise
            raise ConfigurationError(
                f"{source}: {exc}", option=exc.option, value=exc.value
            ) from exc

    # -- derived values, in seconds, for the engine -----------------------------------------
    @property
    def timing(self) -> Timing:
        """The resolved durations in seconds, and every duration derived from them."""
        # Set by __post_init__: never None once constructed.
        lease_duration = self.lease_duration or datetime.timedelta(0)
        renew_deadline = self.renew_deadline or datetime.timedelta(0)
        return Timing(
            renewal_interval=self.renewal_interval.total_seconds(),
            renew_deadline=renew_deadline.total_seconds(),
            lease_duration_seconds=int(lease_duration.total_seconds()),
            drain_timeout=self.drain_timeout.total_seconds(),
        )

    @property
    def lease_duration_seconds(self) -> int:
        """``lease_duration`` as the Lease stores it."""
        return self.timing.lease_duration_seconds

    @property
    def lease_description(self) -> str:
        """``namespace/name``, as logs and messages name the Lease."""
        return f"{self.namespace}/{self.lease_name}"
