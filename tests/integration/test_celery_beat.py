"""``leader_election.celery`` in one process against the embedded server: configuration from
``app.conf``, composition with any beat scheduler class, only a leader sends (with the
fencing token header), closing drains the tick in progress, and a SIGTERM that arrives in the
middle of a tick is handed to beat's handler only once the tick returned."""

from __future__ import annotations

import importlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.beat import PersistentScheduler, Scheduler

from leader_election import ConfigurationError
from leader_election.celery import (
    FENCING_TOKEN_HEADER,
    LeaderElectedScheduler,
    leader_elected,
    options_from_config,
)
from leader_election.errors import MissingExtraError
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import FAST


class Recording(Scheduler):  # type: ignore[misc]
    """A beat scheduler that records what it would send; ``gate`` (when set) holds a send
    until it is set, and ``during_send`` runs in the middle of one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.sending = threading.Event()
        self.gate: threading.Event | None = None
        self.during_send: Any = None
        super().__init__(*args, **kwargs)

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **kw: Any) -> Any:
        self.sending.set()
        if self.during_send is not None:
            self.during_send()
        if self.gate is not None:
            assert self.gate.wait(10)
        self.sent.append((entry.name, dict(entry.options)))
        return None


RecordingLeader = leader_elected(Recording)


@pytest.fixture
def app(server: LeaseAPIServer) -> Iterator[Celery]:
    app = Celery("test", broker="memory://", set_as_current=False)
    app.conf.update(
        beat_schedule={"every-100-ms": {"task": "t", "schedule": 0.1}},
        leader_election_lease_name="test-lease",
        leader_election_api_client=server.api_client(user="beat"),
        leader_election_identity="beat",
        leader_election_renewal_interval=FAST["renewal_interval"],
        leader_election_lease_duration=FAST["lease_duration"],
    )
    yield app
    app.close()


def holder(server: LeaseAPIServer) -> str | None:
    lease = server.get_object("leases", "default", "test-lease")
    return None if lease is None else str(lease["spec"].get("holderIdentity") or "")


def tick_until_sent(scheduler: Any) -> None:
    wait_for(lambda: scheduler.tick() is not None and scheduler.sent, 10, what="a send")


def test_the_leader_sends_with_the_fencing_token_and_close_releases(
    app: Celery, server: LeaseAPIServer
) -> None:
    scheduler = RecordingLeader(app=app)
    try:
        assert scheduler.election is not None
        assert scheduler.election.wait_for_leadership(10)
        tick_until_sent(scheduler)
        name, options = scheduler.sent[0]
        assert name == "every-100-ms"
        assert options["headers"] == {FENCING_TOKEN_HEADER: 0}
        # The entry kept in the schedule never carries the header.
        assert "headers" not in scheduler.schedule["every-100-ms"].options
    finally:
        scheduler.close()
    assert holder(server) == ""
    scheduler.close()  # beat closes twice on SIGTERM (its handler, then its loop's finally)


def test_a_follower_sends_nothing(app: Celery, server: LeaseAPIServer) -> None:
    follower_app = Celery("follower", broker="memory://", set_as_current=False)
    follower_app.conf.update({k: v for k, v in app.conf.items() if k.startswith("leader_")})
    follower_app.conf.update(
        beat_schedule=app.conf.beat_schedule,
        leader_election_identity="follower",
        leader_election_api_client=server.api_client(user="follower"),
    )
    leader = RecordingLeader(app=app)
    follower = None
    try:
        assert leader.election is not None
        assert leader.election.wait_for_leadership(10)
        follower = RecordingLeader(app=follower_app)
        tick_until_sent(leader)
        # A follower's tick asks to be called again within one renewal interval.
        assert follower.tick() == pytest.approx(FAST["renewal_interval"] / 1000)
        assert follower.apply_async(follower.schedule["every-100-ms"]) is None
        assert follower.sent == []
    finally:
        if follower is not None:
            follower.close()
        leader.close()
        follower_app.close()


def test_close_waits_for_the_tick_in_progress(app: Celery, server: LeaseAPIServer) -> None:
    scheduler = RecordingLeader(app=app)
    scheduler.gate = threading.Event()
    assert scheduler.election is not None
    assert scheduler.election.wait_for_leadership(10)
    ticker = threading.Thread(target=tick_until_sent, args=(scheduler,), name="test-beat-tick")
    ticker.start()
    closer = threading.Thread(target=scheduler.close, name="test-beat-close")
    try:
        assert scheduler.sending.wait(10)
        closer.start()
        # The term ends at once, the release waits for the tick.
        wait_for(lambda: not scheduler.election.is_leader, 5, what="the term to end")
        closer.join(0.3)
        assert closer.is_alive(), "close() returned during a tick"
        assert holder(server) == "beat"
    finally:
        scheduler.gate.set()
        ticker.join(10)
        closer.join(10)
    assert not closer.is_alive()
    assert len(scheduler.sent) == 1
    assert holder(server) == ""


def test_sigterm_during_a_tick_is_handed_on_after_it(app: Celery, server: LeaseAPIServer) -> None:
    assert threading.current_thread() is threading.main_thread()
    order: list[str] = []

    def beats_handler(signum: int, frame: object) -> None:
        # What celery beat's handler does: close the scheduler (then it raises SystemExit).
        order.append(f"handler sent={len(scheduler.sent)} holder={holder(server)}")
        scheduler.close()

    previous = signal.signal(signal.SIGTERM, beats_handler)
    try:
        scheduler = RecordingLeader(app=app)
        scheduler.during_send = lambda: os.kill(os.getpid(), signal.SIGTERM)
        assert scheduler.election is not None
        assert scheduler.election.wait_for_leadership(10)
        while not scheduler.sent:
            scheduler.tick()
        # The signal arrived in the middle of the send; beat's handler ran once the tick's
        # send had completed (still leading), and its close() released.
        assert order == ["handler sent=1 holder=beat"], order
        assert holder(server) == ""
        # Closing restored beat's handler.
        assert signal.getsignal(signal.SIGTERM) == beats_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_options_come_from_app_conf_and_errors_name_the_key(app: Celery) -> None:
    options = options_from_config(app.conf)
    assert options.lease_name == "test-lease"
    assert options.handle_signals is False
    app.conf.leader_election_renewal_interval = 10
    with pytest.raises(ConfigurationError) as info:
        options_from_config(app.conf)
    assert info.value.option == "leader_election_renewal_interval"
    assert "app.conf.leader_election_renewal_interval" in str(info.value)
    assert "did you mean 10000" in str(info.value)
    app.conf.leader_election_renewal_interval = 200
    app.conf.leader_election_lease_nmae = "typo"
    with pytest.raises(ConfigurationError, match="did you mean leader_election_lease_name"):
        LeaderElectedScheduler(app=app, lazy=True)
    del app.conf["leader_election_lease_nmae"]
    app.conf.leader_election_handle_signals = True
    with pytest.raises(ConfigurationError, match="must be false under celery beat"):
        options_from_config(app.conf)


def test_leader_elected_composes_any_beat_scheduler_class(app: Celery) -> None:
    assert leader_elected(PersistentScheduler) is LeaderElectedScheduler
    assert issubclass(LeaderElectedScheduler, PersistentScheduler)
    assert leader_elected(LeaderElectedScheduler) is LeaderElectedScheduler
    assert LeaderElectedScheduler.__name__ == "LeaderElectedPersistentScheduler"
    with pytest.raises(ConfigurationError, match="expected a celery beat scheduler class"):
        leader_elected(dict)
    # The lazy instance beat makes for its banner validates, but does not compete.
    lazy = RecordingLeader(app=app, lazy=True)
    assert lazy.election is None
    assert "lease default/test-lease" in lazy.info


def test_the_database_scheduler_needs_django_celery_beat() -> None:
    module = importlib.import_module("leader_election.celery")
    try:
        importlib.import_module("django_celery_beat")
    except ImportError:
        with pytest.raises(MissingExtraError, match="pip install django-celery-beat"):
            module.LeaderElectedDatabaseScheduler  # noqa: B018
    else:  # pragma: no cover - where django-celery-beat is installed
        assert module.LeaderElectedDatabaseScheduler.__name__ == "LeaderElectedDatabaseScheduler"
