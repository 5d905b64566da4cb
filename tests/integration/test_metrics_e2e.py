"""leader_election.metrics with real renewals against the embedded server."""

from __future__ import annotations

import prometheus_client

from leader_election import LeaderElectionModule
from leader_election.metrics import instrument
from leader_election.testing import LeaseAPIServer, wait_for


def test_renewals_latency_failures_and_leadership_are_exported(
    lease_api_server: LeaseAPIServer,
) -> None:
    registry = prometheus_client.CollectorRegistry()
    election = LeaderElectionModule.for_root(
        lease_name="measured",
        renewal_interval=200,
        handle_signals=False,
        api_client=lease_api_server.api_client(),
    )
    instrument(election, registry)
    lease = {"name": "measured", "namespace": "default"}

    def sample(metric: str, **labels: str) -> float:
        return registry.get_sample_value(metric, {**lease, **labels}) or 0.0

    try:
        election.start()
        wait_for(lambda: sample("leader_election_master_status") == 1, what="the leader gauge")
        wait_for(
            lambda: sample("leader_election_renew_duration_seconds_count") >= 2,
            what="two timed renewals",
        )
        with lease_api_server.faults.error(500, verb="update"):
            wait_for(
                lambda: sample("leader_election_renew_failures_total", failure="transient") >= 1,
                what="a failed renewal to be counted",
            )
            wait_for(
                lambda: sample("leader_election_master_status") == 0,
                timeout=5,
                what="the gauge to drop when the leader steps down",
            )
        assert sample("leader_election_transitions_total", transition="lost") == 1
    finally:
        election.stop()
