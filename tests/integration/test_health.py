"""election.healthy() against the embedded server: client-go's HealthzAdaptor semantics.

Unhealthy only when the elector is stuck (still LEADING past renew deadline + grace) or dead;
a leader that steps down because the API server does not answer stays healthy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from leader_election import ConfigurationError, LeaderElectionModule, State
from leader_election.testing import LeaseAPIServer, wait_for

RENEWAL_MS = 200  # lease 1 s, renew deadline 0.6 s, default grace 0.2 s


@pytest.fixture
def election(lease_api_server: LeaseAPIServer) -> Iterator[LeaderElectionModule]:
    module = LeaderElectionModule.for_root(
        lease_name="health",
        renewal_interval=RENEWAL_MS,
        handle_signals=False,
        api_client=lease_api_server.api_client(),
    )
    try:
        yield module
    finally:
        module.stop()


class BlockRenewals:
    """An observer that blocks the elector thread on its next renewal until released."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.blocked = threading.Event()
        self.release = threading.Event()

    def on_request(self, election: Any, op: str, seconds: float, failure: str | None) -> None:
        if op == "renew" and self.armed.is_set() and not self.release.is_set():
            self.blocked.set()
            self.release.wait(10)

    def on_leadership(self, election: Any, leading: bool) -> None:
        pass


def test_a_stuck_elector_turns_unhealthy_after_the_renew_deadline_plus_grace(
    election: LeaderElectionModule,
) -> None:
    blocker = BlockRenewals()
    election.add_observer(blocker)
    election.start()
    wait_for(lambda: election.is_leader, what="leadership")
    assert election.healthy()
    blocker.armed.set()
    try:
        wait_for(blocker.blocked.is_set, what="the elector to get stuck in a renewal")
        # is_leader does not wait for the stuck thread: it is false at the deadline ...
        wait_for(lambda: not election.is_leader, timeout=5, what="is_leader to turn false")
        assert election.state is State.LEADING  # ... while the machine never got to step
        # ... and the health check fails once the grace period has passed as well.
        wait_for(lambda: not election.healthy(), timeout=5, what="healthy() to turn false")
        assert election.healthy(grace=3600)  # a longer tolerance still accepts it
    finally:
        blocker.release.set()
    # Unstuck, the elector steps down (its renewal came too late) and is healthy again.
    wait_for(election.healthy, timeout=5, what="healthy() once the elector moves again")


def test_a_blackholed_leader_steps_down_and_stays_healthy(
    lease_api_server: LeaseAPIServer, election: LeaderElectionModule
) -> None:
    election.start()
    wait_for(lambda: election.is_leader, what="leadership")
    samples: list[bool] = []

    def stepped_down() -> bool:
        samples.append(election.healthy())
        return election.state is State.FOLLOWING

    with lease_api_server.faults.blackhole(verb="update"):
        wait_for(stepped_down, timeout=5, what="the blackholed leader to step down")
    assert all(samples), "healthy() flickered while the leader was stepping down on time"


# The crash is the point of the test: pytest would report the thread's exception.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_elector_thread_is_unhealthy(election: LeaderElectionModule) -> None:
    class Crash:
        def on_request(self, election: Any, op: str, seconds: float, failure: str | None) -> None:
            if op == "renew":
                raise SystemExit("simulated crash of the elector thread")

        def on_leadership(self, election: Any, leading: bool) -> None:
            pass

    election.add_observer(Crash())
    election.start()
    wait_for(lambda: not election.healthy(), timeout=5, what="healthy() to turn false")
    assert not election.is_leader


def test_healthy_before_start_after_stop_and_bad_grace(election: LeaderElectionModule) -> None:
    assert election.healthy()
    with pytest.raises(ConfigurationError, match=r"grace=-1"):
        election.healthy(grace=-1)
    with pytest.raises(ConfigurationError, match=r"grace='1'"):
        election.healthy(grace="1")  # type: ignore[arg-type]
    election.start()
    election.stop()
    assert election.healthy()
