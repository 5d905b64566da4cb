"""Prometheus metrics for elections (extra ``metrics``): ``instrument(election)``.

Built on the engine's observer hook (``LeaderElectionModule.add_observer``), so the core never
imports ``prometheus_client``. Every series is labelled with the Lease: ``name`` (the lease
name, as client-go labels it) and ``namespace``.

=========================================== ========= =========================================
Metric                                      Type      Meaning
=========================================== ========= =========================================
``leader_election_master_status``           gauge     1 while this process leads the Lease,
                                                      else 0 — client-go's name and meaning, so
                                                      dashboards and alerts written for Go
                                                      controllers apply unchanged
``leader_election_slowpath_total``          counter   renewals whose optimistic write met a
                                                      conflict and had to read the Lease first
                                                      (client-go's slow path)
``leader_election_transitions_total``       counter   leadership changes of this process, by
                                                      ``transition``: ``elected`` or ``lost``
``leader_election_renew_duration_seconds``  histogram duration of each renewal request,
                                                      successful or not
``leader_election_renew_failures_total``    counter   failed renewal requests, by ``failure``:
                                                      ``conflict``, ``not_found``,
                                                      ``forbidden`` or ``transient``
``leader_election_work_overrun_total``      counter   terms whose leader-only work was still
                                                      running when another candidate could
                                                      lead (see ``healthy()``)
=========================================== ========= =========================================

Registering twice is harmless: the collectors are created once per registry, and instrumenting
the same election twice with one registry returns the observer already attached.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from leader_election.errors import ConfigurationError, MisuseError
from leader_election.serving import missing_extra

try:
    import prometheus_client
except ImportError as exc:  # exercised by a test that hides the package
    raise missing_extra("leader_election.metrics", "prometheus_client", "metrics") from exc
from leader_election.group import GroupLease, LeaderElectionGroup
from leader_election.module import LeaderElectionModule
from leader_election.state import Failure, Op

__all__ = ["ElectionMetrics", "instrument"]

_LEASE_LABELS = ("name", "namespace")


@dataclass(frozen=True)
class _Collectors:
    """The metric families of one registry."""

    master_status: Any
    slowpath: Any
    transitions: Any
    renew_duration: Any
    renew_failures: Any
    work_overruns: Any


def _register(registry: Any, metric: Any, name: str, expected_type: type) -> Any:
    """Register ``metric``; if ``name`` is registered already, reuse that collector.

    A second copy of this module (``importlib.reload``, two import paths) would otherwise
    crash on prometheus_client's "Duplicated timeseries" error.
    """
    try:
        registry.register(metric)
    except ValueError:
        existing = getattr(registry, "_names_to_collectors", {}).get(name)
        if isinstance(existing, expected_type) and tuple(
            getattr(existing, "_labelnames", ())
        ) == tuple(getattr(metric, "_labelnames", ())):
            return existing
        raise ConfigurationError(
            f"registry already holds a metric named {name!r} that leader_election did not "
            "register (different type or labels); pass instrument(..., registry=) a "
            "registry of its own",
            option="registry",
            value=registry,
        ) from None
    return metric


def _build(registry: Any) -> _Collectors:
    pc = prometheus_client
    lease = _LEASE_LABELS
    return _Collectors(
        master_status=_register(
            registry,
            pc.Gauge(
                "leader_election_master_status",
                "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
                "backup, 1 indicates master. 'name' is the string used to identify the lease. "
                "Please make sure to group by name.",
                lease,
                registry=None,
            ),
            "leader_election_master_status",
            pc.Gauge,
        ),
        slowpath=_register(
            registry,
            pc.Counter(
                "leader_election_slowpath",
                "Total number of slow path exercised in renewing leader leases. 'name' is the "
                "string used to identify the lease. Please make sure to group by name.",
                lease,
                registry=None,
            ),
            "leader_election_slowpath",
            pc.Counter,
        ),
        transitions=_register(
            registry,
            pc.Counter(
                "leader_election_transitions",
                "Leadership changes of this process, by transition (elected, lost).",
                (*lease, "transition"),
                registry=None,
            ),
            "leader_election_transitions",
            pc.Counter,
        ),
        renew_duration=_register(
            registry,
            pc.Histogram(
                "leader_election_renew_duration_seconds",
                "Duration of lease renewal requests (successful or not), in seconds.",
                lease,
                registry=None,
            ),
            "leader_election_renew_duration_seconds",
            pc.Histogram,
        ),
        renew_failures=_register(
            registry,
            pc.Counter(
                "leader_election_renew_failures",
                "Failed lease renewal requests, by failure (conflict, not_found, forbidden, "
                "transient).",
                (*lease, "failure"),
                registry=None,
            ),
            "leader_election_renew_failures",
            pc.Counter,
        ),
        work_overruns=_register(
            registry,
            pc.Counter(
                "leader_election_work_overrun",
                "Terms whose leader-only work was still running when another candidate could lead.",
                lease,
                registry=None,
            ),
            "leader_election_work_overrun",
            pc.Counter,
        ),
    )


_lock = threading.Lock()
_by_registry: weakref.WeakKeyDictionary[Any, _Collectors] = weakref.WeakKeyDictionary()
# What observer callbacks receive: a module, or one Lease of a group.
Election = LeaderElectionModule | GroupLease

_attached: weakref.WeakKeyDictionary[
    LeaderElectionModule | LeaderElectionGroup, list[ElectionMetrics]
] = weakref.WeakKeyDictionary()


class ElectionMetrics:
    """The observer that ``instrument`` attaches to one election (an ``ElectionObserver``).

    Its callbacks run on the elector thread and only update in-memory metrics.
    """

    def __init__(self, collectors: _Collectors, registry: Any) -> None:
        self._collectors = collectors
        self._initialized: set[tuple[str, str]] = set()
        self.registry = registry
        """The ``CollectorRegistry`` the metrics are registered in."""

    def _lease(self, election: Election) -> tuple[str, str] | None:
        """The label values, creating the series the first time they are known."""
        try:
            lease = election.lease_name, election.namespace
        except MisuseError:  # a for_root_async module before start(): labels not known yet
            return None
        if lease not in self._initialized:
            self._initialized.add(lease)
            c = self._collectors
            c.master_status.labels(*lease).set(1 if election.is_leader else 0)
            c.slowpath.labels(*lease)
            c.renew_duration.labels(*lease)
            c.work_overruns.labels(*lease)
            for transition in ("elected", "lost"):
                c.transitions.labels(*lease, transition)
        return lease

    def on_request(
        self, election: Election, op: Op, seconds: float, failure: Failure | None
    ) -> None:
        """Record renewals: their duration, their failures, and conflicts as slow paths."""
        if Op(op) is not Op.RENEW:  # Op(...) also accepts the value, as older observers pass
            return
        lease = self._lease(election)
        if lease is None:
            return
        c = self._collectors
        c.renew_duration.labels(*lease).observe(seconds)
        if failure is not None:
            failure = Failure(failure)
            c.renew_failures.labels(*lease, failure.value).inc()
            if failure is Failure.CONFLICT:
                c.slowpath.labels(*lease).inc()

    def on_leadership(self, election: Election, leading: bool) -> None:
        """Flip the master-status gauge and count the transition."""
        lease = self._lease(election)
        if lease is None:
            return
        c = self._collectors
        c.master_status.labels(*lease).set(1 if leading else 0)
        c.transitions.labels(*lease, "elected" if leading else "lost").inc()

    def on_overrun(self, election: Election, functions: list[str]) -> None:
        """Count a term whose work outlived it."""
        lease = self._lease(election)
        if lease is not None:
            self._collectors.work_overruns.labels(*lease).inc()


def instrument(
    election: LeaderElectionModule | LeaderElectionGroup, registry: Any = None
) -> ElectionMetrics:
    """Export ``election``'s metrics to ``registry`` (default: prometheus_client's global one).

    ``election`` is a module or a ``LeaderElectionGroup``: a group's series are one per
    Lease (label ``name``), as if each Lease had its own module.

    Call before or after ``start()``. Calling it again for the same election and registry
    returns the observer already attached; several elections share one set of metric
    families, told apart by their labels. Raises ``ConfigurationError`` when the registry holds
    a metric of the same name that is not ours.
    """
    if registry is None:
        registry = prometheus_client.REGISTRY
    with _lock:
        for observer in _attached.get(election, ()):
            if observer.registry is registry:
                return observer
        collectors = _by_registry.get(registry)
        if collectors is None:
            collectors = _build(registry)
            _by_registry[registry] = collectors
        observer = ElectionMetrics(collectors, registry)
        _attached.setdefault(election, []).append(observer)
    election.add_observer(observer)
    # Create the series now when the labels are known, so a follower reports 0, not nothing.
    # After add_observer: a leadership change from here on is seen by the callbacks.
    if isinstance(election, LeaderElectionGroup):
        try:
            names = election.lease_names
        except MisuseError:  # a for_root_async group before start(): created on first use
            names = ()
        for name in names:
            observer._lease(election.lease(name))
    else:
        observer._lease(election)
    return observer
