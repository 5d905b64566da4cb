"""leader_election.metrics without a cluster: series, labels, idempotent registration.

Renewals against a real API server are measured in tests/integration/test_metrics_e2e.py.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import prometheus_client
import pytest

from leader_election import ConfigurationError, LeaderElectionModule
from leader_election.errors import MissingExtraError
from leader_election.testing import wait_for


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A process that finds no Kubernetes configuration: the module runs standalone."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def registry() -> prometheus_client.CollectorRegistry:
    return prometheus_client.CollectorRegistry()


def value(
    registry: prometheus_client.CollectorRegistry, metric: str, /, **labels: str
) -> float | None:
    return registry.get_sample_value(metric, labels)


def test_the_master_status_gauge_follows_leadership_as_client_go_names_it(
    no_cluster: None, registry: prometheus_client.CollectorRegistry
) -> None:
    from leader_election.metrics import instrument

    election = LeaderElectionModule.for_root(lease_name="jobs", handle_signals=False)
    instrument(election, registry)
    lease = {"name": "jobs", "namespace": "default"}
    assert value(registry, "leader_election_master_status", **lease) == 0.0
    with election:
        wait_for(
            lambda: value(registry, "leader_election_master_status", **lease) == 1.0,
            what="the gauge to turn 1",
        )
        assert value(registry, "leader_election_transitions_total", **lease, transition="elected")
    assert value(registry, "leader_election_master_status", **lease) == 0.0
    assert value(registry, "leader_election_transitions_total", **lease, transition="lost") == 1.0


def test_renewals_are_timed_and_failures_counted_by_kind(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    from leader_election.metrics import instrument

    election = LeaderElectionModule.for_root(lease_name="jobs", namespace="ops")
    observer = instrument(election, registry)
    lease = {"name": "jobs", "namespace": "ops"}
    observer.on_request(election, "renew", 0.02, None)
    observer.on_request(election, "renew", 0.5, "transient")
    observer.on_request(election, "renew", 0.01, "conflict")
    observer.on_request(election, "acquire", 0.03, "conflict")  # not a renewal: not counted
    assert value(registry, "leader_election_renew_duration_seconds_count", **lease) == 3.0
    assert value(registry, "leader_election_renew_duration_seconds_sum", **lease) == pytest.approx(
        0.53
    )
    failures = "leader_election_renew_failures_total"
    assert value(registry, failures, **lease, failure="transient") == 1.0
    assert value(registry, failures, **lease, failure="conflict") == 1.0
    assert value(registry, "leader_election_slowpath_total", **lease) == 1.0


def test_instrumenting_twice_neither_crashes_nor_counts_twice(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    from leader_election.metrics import instrument

    election = LeaderElectionModule.for_root(lease_name="jobs")
    first = instrument(election, registry)
    assert instrument(election, registry) is first
    other = LeaderElectionModule.for_root(lease_name="reports")
    instrument(other, registry)  # a second election shares the metric families
    first.on_request(election, "renew", 0.1, "transient")
    assert (
        value(
            registry,
            "leader_election_renew_failures_total",
            name="jobs",
            namespace="default",
            failure="transient",
        )
        == 1.0
    )
    assert (
        value(registry, "leader_election_master_status", name="reports", namespace="default") == 0
    )


def test_a_reloaded_module_reuses_the_registered_collectors(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    from leader_election import metrics

    metrics.instrument(LeaderElectionModule.for_root(lease_name="a"), registry)
    reloaded = importlib.reload(metrics)
    reloaded.instrument(LeaderElectionModule.for_root(lease_name="b"), registry)
    assert value(registry, "leader_election_master_status", name="b", namespace="default") == 0


def test_a_foreign_metric_of_the_same_name_is_reported_clearly(
    registry: prometheus_client.CollectorRegistry,
) -> None:
    from leader_election.metrics import instrument

    prometheus_client.Counter("leader_election_master_status", "not ours", registry=registry)
    with pytest.raises(ConfigurationError, match=r"leader_election_master_status.*registry of its"):
        instrument(LeaderElectionModule.for_root(lease_name="a"), registry)


def test_for_root_async_modules_get_their_labels_once_started(
    no_cluster: None, registry: prometheus_client.CollectorRegistry
) -> None:
    from leader_election.metrics import instrument

    election = LeaderElectionModule.for_root_async(
        use_factory=lambda: {"lease_name": "later", "handle_signals": False}
    )
    instrument(election, registry)
    with election:
        wait_for(
            lambda: (
                value(registry, "leader_election_master_status", name="later", namespace="default")
                == 1.0
            ),
            what="the gauge of the started module",
        )


def test_missing_prometheus_client_fails_with_an_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "leader_election.metrics", raising=False)
    # MissingExtraError is an ImportError: `except ImportError` keeps working.
    with pytest.raises(MissingExtraError, match=r"pip install 'leader-election\[metrics\]'"):
        importlib.import_module("leader_election.metrics")
