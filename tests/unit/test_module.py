"""The facade without a cluster: configuration errors, for_root_async, standalone mode,
event delivery and the helpers. Elections against an API server are in tests/integration."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from leader_election import (
    ConfigurationError,
    LeaderElectedEvent,
    LeaderElectionModule,
    LeaderElectionOptions,
    LeaderLostEvent,
    LostReason,
    MisuseError,
    State,
    leader_elected,
    leader_lost,
    on_event,
)
from leader_election.testing import wait_for


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A process that finds no Kubernetes configuration anywhere."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def standalone(**options: Any) -> LeaderElectionModule:
    return LeaderElectionModule.for_root(handle_signals=False, **options)


def test_for_root_raises_configuration_errors_immediately() -> None:
    with pytest.raises(ConfigurationError, match=r"renewal_interval=10: .*did you mean 10000"):
        LeaderElectionModule.for_root(renewal_interval=10)


def test_for_root_accepts_an_options_object_or_a_dict() -> None:
    options = LeaderElectionOptions(lease_name="a")
    assert LeaderElectionModule.for_root(options).options is options
    assert LeaderElectionModule.for_root(options, namespace="b").options.namespace == "b"
    assert LeaderElectionModule.for_root({"leaseName": "c"}).lease_name == "c"


def test_standalone_mode_assumes_leadership_and_says_so(
    no_cluster: None, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[Any] = []
    election = standalone(lease_name="solo")
    record = lambda s, event: received.append(event)  # noqa: E731
    with (
        leader_elected.connected_to(record, sender=election),
        leader_lost.connected_to(record, sender=election),
    ):
        with election:
            assert election.is_leader
            assert election.standalone
            assert election.state is State.LEADING
            assert election.leader_identity == election.identity
            wait_for(lambda: received, what="the elected event")
        assert not election.is_leader
    assert "no Kubernetes cluster found" in caplog.text
    elected, lost = received
    assert isinstance(elected, LeaderElectedEvent)
    assert elected.standalone
    assert elected.lease_name == "solo"
    assert isinstance(lost, LeaderLostEvent)
    assert lost.reason is LostReason.STOPPED


def test_a_module_runs_once(no_cluster: None) -> None:
    election = standalone()
    election.start()
    with pytest.raises(MisuseError, match=r"already started"):
        election.start()
    election.stop()
    election.stop()  # stopping twice is fine
    with pytest.raises(MisuseError, match=r"create a new one"):
        election.start()


def test_for_root_async_calls_the_factory_at_start_with_injected_values(no_cluster: None) -> None:
    calls: list[Any] = []
    config = {"LEASE_NAME": "from-config"}

    def factory(cfg: dict[str, str], suffix: str) -> dict[str, Any]:
        calls.append((cfg, suffix))
        return {"lease_name": cfg["LEASE_NAME"] + suffix, "handle_signals": False}

    election = LeaderElectionModule.for_root_async(
        use_factory=factory, inject=[config, "-x"], imports=[lambda: calls.append("import")]
    )
    assert calls == []
    with pytest.raises(MisuseError, match=r"after start"):
        _ = election.options
    with election:
        assert election.lease_name == "from-config-x"
    assert calls == ["import", (config, "-x")]


def test_for_root_async_accepts_an_async_factory(no_cluster: None) -> None:
    async def factory() -> LeaderElectionOptions:
        await asyncio.sleep(0)
        return LeaderElectionOptions(lease_name="async-one", handle_signals=False)

    with LeaderElectionModule.for_root_async(use_factory=factory) as election:
        assert election.lease_name == "async-one"


def test_for_root_async_factory_errors_name_the_factory() -> None:
    def broken_factory() -> dict[str, Any]:
        raise KeyError("LEASE_NAME")

    election = LeaderElectionModule.for_root_async(use_factory=broken_factory)
    with pytest.raises(ConfigurationError, match=r"factory .*broken_factory raised KeyError"):
        election.start()


@pytest.mark.parametrize(
    ("result", "match"),
    [
        ({"renewal_interval": 5}, r"factory .*: renewal_interval=5"),
        ({"leaseNme": "x"}, r"unknown option 'leaseNme'"),
        (42, r"returned 42: expected a dict"),
    ],
)
def test_for_root_async_validates_what_the_factory_returns(result: object, match: str) -> None:
    election = LeaderElectionModule.for_root_async(use_factory=lambda: result)
    with pytest.raises(ConfigurationError, match=match):
        election.start()


def test_for_root_async_rejects_a_non_callable_factory() -> None:
    with pytest.raises(ConfigurationError, match=r"use_factory=.*must be callable"):
        LeaderElectionModule.for_root_async(use_factory="nope")  # type: ignore[arg-type]


def test_a_raising_receiver_does_not_stop_the_others(no_cluster: None) -> None:
    # blinker calls receivers in an undefined order (a set's). Every receiver here records its
    # call and then raises: whatever the order, each one after the first runs after a raising
    # one, so all three are called only if a raising receiver stops nothing (signal.send
    # would stop at the first).
    called: list[str] = []

    def make(name: str) -> Any:
        def receiver(sender: Any, *, event: Any) -> None:
            called.append(name)
            raise RuntimeError(f"receiver bug in {name}")

        return receiver

    receivers = [make(name) for name in ("a", "b", "c")]
    election = standalone()
    for receiver in receivers:
        leader_elected.connect(receiver, sender=election)
    try:
        with election:
            wait_for(lambda: len(called) == 3, what="all three receivers to be called")
            assert election.is_leader
    finally:
        for receiver in receivers:
            leader_elected.disconnect(receiver, sender=election)
    assert sorted(called) == ["a", "b", "c"]


def test_on_event_mirrors_nest_on_event_and_filters_by_sender(no_cluster: None) -> None:
    seen: list[Any] = []
    election = standalone()
    other = standalone(lease_name="other")

    @on_event(LeaderElectedEvent.event, sender=election)
    def on_elected(event: LeaderElectedEvent) -> None:
        seen.append(event.lease_name)

    try:
        with other, election:
            wait_for(lambda: seen, what="the elected event")
    finally:
        on_elected.disconnect()  # type: ignore[attr-defined]
    assert seen == ["nestjs-leader-election"]


def test_on_event_rejects_unknown_event_names() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown event"):
        on_event("leader.promoted")


def test_leader_only_runs_only_while_leading(no_cluster: None) -> None:
    election = standalone()

    @election.leader_only
    def job(x: int) -> int:
        return x * 2

    assert job(2) is None
    with election:
        assert job(2) == 4


def test_run_while_leader_starts_on_election_and_stops_on_loss(no_cluster: None) -> None:
    election = standalone()
    started = threading.Event()
    finished = threading.Event()

    @election.run_while_leader
    def work(stop: threading.Event) -> None:
        started.set()
        stop.wait(30)
        finished.set()

    election.start()
    assert started.wait(5)
    election.stop()
    assert finished.is_set()


def test_wait_for_leadership(no_cluster: None) -> None:
    election = standalone()
    assert not election.wait_for_leadership(0.01)
    with election:
        assert election.wait_for_leadership(5)
