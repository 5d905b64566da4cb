"""LeaderElectionGroup end to end: many Leases per process, balanced across members, each
Lease keeping the single-Lease guarantees (embedded server, the real client, a user each)."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leader_election import (
    LeaderElectedEvent,
    LeaderElectionGroup,
    LeaderElectionModule,
    State,
    Term,
    leader_elected,
)
from leader_election.aio import AsyncTerm
from leader_election.multiplex import GROUP_LABEL, MEMBER_LABEL
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import FAST

GroupFactory = Callable[..., LeaderElectionGroup]


@pytest.fixture
def member(server: LeaseAPIServer) -> Iterator[GroupFactory]:
    """Make a group member with its own user; every one is stopped at teardown."""
    made: list[LeaderElectionGroup] = []

    def make(identity: str, **options: Any) -> LeaderElectionGroup:
        settings: dict[str, Any] = {
            "shards": 12,
            "lease_prefix": "work",
            "identity": identity,
            "api_client": server.api_client(user=identity),
            # pytest owns this process's signals (as every module test leaves them to it).
            "handle_signals": False,
            **FAST,
        }
        settings.update(options)
        group = LeaderElectionGroup.for_root(**settings)
        made.append(group)
        return group

    yield make
    for group in made:
        group.stop()


class LeaseSampler:
    """Samples ``is_leader(lease)`` of every group (and modules) every millisecond; records
    any Lease led by two at once."""

    def __init__(self, leases: list[str], groups: list[LeaderElectionGroup]) -> None:
        self.leases = leases
        self.groups = list(groups)
        self.modules: list[LeaderElectionModule] = []
        self.overlaps: list[tuple[str, list[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-lease-sampler")

    def __enter__(self) -> LeaseSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for lease in self.leases:
                leading = [g.identity for g in self.groups if g.is_leader(lease)]
                leading += [
                    m.identity for m in self.modules if m.lease_name == lease and m.is_leader
                ]
                if len(leading) > 1:
                    self.overlaps.append((lease, leading))
            self._stop.wait(0.001)


class WorkLog:
    """Records every run of a ``run_while_leader`` function: (lease, identity, start, end)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: list[tuple[str, str, float, float]] = []
        self.running: dict[str, list[str]] = {}
        self.overlaps: list[tuple[str, list[str]]] = []

    def job(self, identity: str) -> Callable[[Term, str], None]:
        def work(term: Term, lease_name: str) -> None:
            started = time.monotonic()
            with self.lock:
                running = self.running.setdefault(lease_name, [])
                running.append(identity)
                if len(running) > 1:
                    self.overlaps.append((lease_name, list(running)))
            term.wait()
            time.sleep(0.05)  # a little cleanup after the term ended, inside the drain
            with self.lock:
                running.remove(identity)
                self.runs.append((lease_name, identity, started, time.monotonic()))

        return work


def renewals_since(server: LeaseAPIServer, since: float, leases: list[str], count: int) -> bool:
    """Every Lease of ``leases`` was written at least ``count`` times since ``since``."""
    return all(
        server.requests.count(since=since, verb="update", name=lease) >= count for lease in leases
    )


def test_twelve_leases_balance_over_three_members(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    groups = [member(f"member-{i}") for i in range(3)]
    with LeaseSampler([f"work-{i}" for i in range(12)], groups) as sampler:
        for group in groups:
            group.start()
        wait_for(lambda: [len(g.held) for g in groups] == [4, 4, 4], 20, what="4 Leases each")
        held = [g.held for g in groups]
        assert frozenset().union(*held) == frozenset(f"work-{i}" for i in range(12))
        tokens = {lease: g.fencing_token(lease) for g in groups for lease in g.held}
        # Stable: the assignment does not move while the membership does not. Five renewals
        # of every Lease (a second) pass without a hand-over.
        since = time.monotonic()
        leases = sorted(tokens)
        wait_for(lambda: renewals_since(server, since, leases, 5), 10, what="5 renewals each")
        assert [g.held for g in groups] == held
        assert {lease: g.fencing_token(lease) for g in groups for lease in g.held} == tokens
    assert sampler.overlaps == []
    for group in groups:
        assert group.members == {"member-0", "member-1", "member-2"}
        for lease in group.held:
            assert group.leader_of(lease) == group.identity
            assert group.fencing_token(lease) is not None


def test_group_threads_stay_within_five(member: GroupFactory) -> None:
    group = member("solo", shards=50)
    before = {t for t in threading.enumerate() if t.name.startswith("leader-election")}
    group.start()
    wait_for(lambda: len(group.held) == 50, 20, what="all 50 Leases held")
    threads = [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("leader-election") and t not in before
    ]
    assert len(threads) <= 5, threads


def test_a_member_that_stops_hands_its_leases_to_the_others(member: GroupFactory) -> None:
    groups = [member(f"member-{i}") for i in range(3)]
    log = WorkLog()
    for group in groups:
        group.run_while_leader(log.job(group.identity))
        group.start()
    wait_for(lambda: [len(g.held) for g in groups] == [4, 4, 4], 20, what="balanced")
    leaving = set(groups[0].held)
    stopped_at = time.monotonic()
    groups[0].stop()
    wait_for(lambda: [len(g.held) for g in groups[1:]] == [6, 6], 10, what="6 Leases each")
    # Released, not left to expire: taken well within one lease duration (1 s).
    assert time.monotonic() - stopped_at < 1.0
    assert leaving <= groups[1].held | groups[2].held
    assert log.overlaps == []


def test_a_joining_member_takes_its_share_after_the_old_work_returned(
    member: GroupFactory,
) -> None:
    groups = [member(f"member-{i}") for i in range(3)]
    log = WorkLog()
    elected: list[LeaderElectedEvent] = []

    def on_elected(sender: Any, event: LeaderElectedEvent) -> None:
        elected.append(event)

    with LeaseSampler([f"work-{i}" for i in range(12)], groups) as sampler:
        for group in groups:
            group.run_while_leader(log.job(group.identity))
            group.start()
        wait_for(lambda: [len(g.held) for g in groups] == [4, 4, 4], 20, what="balanced")
        newcomer = member("member-3")
        newcomer.run_while_leader(log.job(newcomer.identity))
        sampler.groups.append(newcomer)
        with leader_elected.connected_to(on_elected, sender=newcomer):
            newcomer.start()
            everyone = [*groups, newcomer]
            # ceil(12 / 4) = 3: every member ends with 3.
            wait_for(lambda: [len(g.held) for g in everyone] == [3, 3, 3, 3], 20, what="3 each")
            wait_for(lambda: len(elected) == 3, 5, what="3 leader.elected for the newcomer")
    assert sampler.overlaps == []
    assert log.overlaps == []
    assert {event.lease_name for event in elected} == newcomer.held
    # Each handed-over Lease: the newcomer's work began after the previous work returned.
    for lease in newcomer.held:
        runs = sorted((r for r in log.runs if r[0] == lease), key=lambda r: r[2])
        previous = [r for r in runs if r[1] != newcomer.identity]
        mine = [r for r in log.runs if r[0] == lease and r[1] == newcomer.identity]
        assert not mine  # still running: recorded when it returns
        assert previous, lease
        assert lease in log.running and log.running[lease] == [newcomer.identity]


def test_a_dead_member_loses_its_leases_after_expiry(member: GroupFactory) -> None:
    # release_on_stop=False: the member stops without releasing anything, as if it died.
    groups = [member("member-0", release_on_stop=False), member("member-1")]
    for group in groups:
        group.start()
    wait_for(lambda: [len(g.held) for g in groups] == [6, 6], 20, what="balanced")
    stopped_at = time.monotonic()
    groups[0].stop()
    wait_for(lambda: len(groups[1].held) == 12, 10, what="the survivor holds all 12")
    # Nothing was released: the survivor waited for the heartbeat and the Leases to expire.
    assert time.monotonic() - stopped_at >= 0.9


def test_a_module_and_a_group_never_both_lead_a_lease(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    module = LeaderElectionModule.for_root(
        lease_name="work-2",
        identity="module",
        handle_signals=False,
        api_client=server.api_client(user="module"),
        **FAST,
    )
    group = member("group", shards=4)
    with LeaseSampler([f"work-{i}" for i in range(4)], [group]) as sampler:
        sampler.modules.append(module)
        module.start()
        try:
            assert module.wait_for_leadership(5)
            group.start()
            wait_for(lambda: len(group.held) == 3, 10, what="the 3 free Leases")
            assert "work-2" not in group.held
            assert group.leader_of("work-2") == "module"
            module.stop()
            wait_for(lambda: group.is_leader("work-2"), 5, what="the group takes work-2")
        finally:
            module.stop()
        # A module started now only follows the group's Lease.
        late = LeaderElectionModule.for_root(
            lease_name="work-2",
            identity="late-module",
            handle_signals=False,
            api_client=server.api_client(user="late-module"),
            **FAST,
        )
        sampler.modules.append(late)
        late.start()
        try:
            wait_for(lambda: late.leader_identity == "group", 5, what="late module follows")
            # The group renews work-2 five more times while the late module follows (sampled).
            since = time.monotonic()
            wait_for(lambda: renewals_since(server, since, ["work-2"], 5), 10, what="renewals")
            assert not late.is_leader
            assert group.is_leader("work-2")
        finally:
            late.stop()
    assert sampler.overlaps == []


def test_leases_and_heartbeats_are_labelled_for_one_watch(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    group = member("labeller", shards=3)
    group.start()
    wait_for(lambda: len(group.held) == 3, 10, what="3 Leases held")
    from kubernetes import client

    api = client.CoordinationV1Api(server.api_client(user="reader"))
    shards = api.list_namespaced_lease("default", label_selector=f"{GROUP_LABEL}=work")
    names = sorted(item.metadata.name for item in shards.items)
    assert names == sorted([*(f"work-{i}" for i in range(3)), group.heartbeat_lease_name])
    beats = api.list_namespaced_lease("default", label_selector=f"{MEMBER_LABEL}=work")
    assert [item.metadata.name for item in beats.items] == [group.heartbeat_lease_name]
    assert beats.items[0].spec.holder_identity == "labeller"


def test_an_unlabelled_lease_created_by_someone_else_is_still_taken(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    from kubernetes import client

    api = client.CoordinationV1Api(server.api_client(user="admin"))
    api.create_namespaced_lease(
        "default",
        {
            "metadata": {"name": "work-0"},
            "spec": {"holderIdentity": "gone", "leaseDurationSeconds": 1},
        },
    )
    group = member("taker", shards=2)
    group.start()
    wait_for(lambda: len(group.held) == 2, 10, what="both Leases, the foreign one after expiry")
    lease = api.read_namespaced_lease("work-0", "default")
    assert lease.metadata.labels[GROUP_LABEL] == "work"


def test_group_status_shows_who_holds_which_lease(
    member: GroupFactory,
    server: LeaseAPIServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from leader_election.group_status import read_group_status

    groups = [member(f"member-{i}", shards=4) for i in range(2)]
    for group in groups:
        group.start()
    wait_for(lambda: [len(g.held) for g in groups] == [2, 2], 10, what="2 Leases each")
    status = read_group_status("work", api_client=server.api_client())
    assert status.live_members == ("member-0", "member-1")
    held = status.held_by()
    assert sorted(held["member-0"]) == sorted(groups[0].held)
    assert sorted(held["member-1"]) == sorted(groups[1].held)
    text = status.to_text()
    assert "2 live members" in text
    assert status.to_json()["group"] == "work"

    # The same through the command line, as an operator runs it.
    from leader_election.cli import main

    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", user="operator")
    assert main(["status", "--group", "work", "--kubeconfig", str(kubeconfig), "-o", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["group"] == "work"


def test_metrics_of_a_group_are_labelled_per_lease(member: GroupFactory) -> None:
    import prometheus_client

    from leader_election.metrics import instrument

    groups = [member(f"member-{i}", shards=4) for i in range(2)]
    own = prometheus_client.CollectorRegistry()
    instrument(groups[0], registry=own)
    for group in groups:
        group.start()
    wait_for(lambda: [len(g.held) for g in groups] == [2, 2], 10, what="2 Leases each")

    def renewals(name: str) -> float:
        value = own.get_sample_value(
            "leader_election_renew_duration_seconds_count", {"name": name, "namespace": "default"}
        )
        return value or 0.0

    held = sorted(groups[0].held)
    wait_for(lambda: all(renewals(name) >= 2 for name in held), 5, what="renewals counted")
    for name in groups[0].lease_names:
        gauge = own.get_sample_value(
            "leader_election_master_status", {"name": name, "namespace": "default"}
        )
        assert gauge == (1.0 if name in held else 0.0), name


def test_stop_from_a_leader_only_function_returns_and_drains(member: GroupFactory) -> None:
    group = member("self-stopper", shards=2)
    calls: list[str] = []

    @group.run_while_leader
    def work(term: Term, lease_name: str) -> None:
        calls.append(lease_name)
        group.stop()  # returns at once: the drain waits for this function
        term.wait()

    group.start()
    wait_for(
        lambda: calls and all(group.state(n) is State.STOPPED for n in group.lease_names),
        10,
        what="every Lease stopped",
    )


def test_for_root_async_takes_its_options_from_the_factory(server: LeaseAPIServer) -> None:
    def factory(api_client: Any) -> dict[str, Any]:
        return {
            "shards": 3,
            "lease_prefix": "late",
            "identity": "a",
            "api_client": api_client,
            **FAST,
        }

    group = LeaderElectionGroup.for_root_async(
        use_factory=factory, inject=[server.api_client(user="a")]
    )
    try:
        group.start()
        assert group.lease_names == ("late-0", "late-1", "late-2")
        assert group.wait_for_held(3, timeout=10)
    finally:
        group.stop()
    assert group.held == frozenset()


def test_steady_state_costs_one_write_per_held_lease_and_interval(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    groups = [member(f"member-{i}") for i in range(2)]
    for group in groups:
        group.start()
    wait_for(lambda: [len(g.held) for g in groups] == [6, 6], 20, what="6 Leases each")
    first = groups[0]
    since = time.monotonic()
    heartbeat = first.heartbeat_lease_name
    wait_for(lambda: renewals_since(server, since, [heartbeat], 10), 10, what="10 heartbeats")
    elapsed = time.monotonic() - since
    user = first.identity
    # Followers cost nothing beyond the watch: no reads at all in steady state.
    assert server.requests.count(since=since, user=user, verb="get") == 0
    writes = server.requests.count(since=since, user=user, verb="update")
    intervals = elapsed / 0.2
    # (6 Leases + 1 heartbeat) per renewal interval, give or take an interval of each.
    assert 7 * (intervals - 2) <= writes <= 7 * (intervals + 2), (writes, intervals)
    assert server.requests.count(since=since, user=user, verb=["create", "list"]) == 0


@pytest.mark.slow
def test_members_coming_and_going_never_overlap_and_end_balanced(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    import random

    rng = random.Random(16)
    leases = [f"work-{i}" for i in range(8)]
    log = WorkLog()
    live: list[LeaderElectionGroup] = []
    made = 0

    def join() -> None:
        nonlocal made
        group = member(f"member-{made}", shards=8, release_on_stop=rng.random() < 0.7)
        made += 1
        group.run_while_leader(log.job(group.identity))
        sampler.groups.append(group)
        group.start()
        live.append(group)

    with LeaseSampler(leases, []) as sampler:
        for _ in range(3):
            join()
        for _ in range(8):
            if len(live) > 1 and rng.random() < 0.5:
                leaving = live.pop(rng.randrange(len(live)))
                leaving.stop()
            else:
                join()
            # Let the change take effect partly or fully before the next one.
            beats = rng.randint(1, 8)
            wait_for(
                functools.partial(
                    renewals_since, server, time.monotonic(), [live[0].heartbeat_lease_name], beats
                ),
                10,
                what=f"{beats} heartbeats",
            )
        cap = -(-len(leases) // len(live))
        wait_for(
            lambda: (
                sum(len(g.held) for g in live) == len(leases)
                and all(len(g.held) <= cap for g in live)
            ),
            20,
            what=f"all {len(leases)} Leases held, at most {cap} each",
        )
    assert sampler.overlaps == []
    assert log.overlaps == []


@pytest.mark.slow
def test_a_partitioned_member_steps_down_and_the_others_take_over(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    groups = [member(f"member-{i}") for i in range(3)]
    log = WorkLog()
    with LeaseSampler([f"work-{i}" for i in range(12)], groups) as sampler:
        for group in groups:
            group.run_while_leader(log.job(group.identity))
            group.start()
        wait_for(lambda: [len(g.held) for g in groups] == [4, 4, 4], 20, what="balanced")
        with server.faults.blackhole(user="member-0"):
            # Its renewals go unanswered: it steps down at each renew deadline; the others
            # see its heartbeat and Leases expire and take them (6 each).
            wait_for(
                lambda: [len(g.held) for g in groups] == [0, 6, 6], 20, what="6 each for the rest"
            )
        # Reachable again: it comes back and takes its share after its sit-out.
        wait_for(lambda: [len(g.held) for g in groups] == [4, 4, 4], 20, what="balanced again")
    assert sampler.overlaps == []
    assert log.overlaps == []


@pytest.mark.slow
def test_overruns_are_checked_on_the_elector_thread(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    group = member("stubborn", shards=3)
    release = threading.Event()

    @group.run_while_leader
    def ignores_its_term(term: Term, lease_name: str) -> None:
        release.wait(10)  # does not return when the term ends: an overrun

    group.start()
    try:
        wait_for(lambda: len(group.held) == 3, 10, what="3 Leases held")
        timers: set[str] = set()

        def overruns_reported() -> bool:
            # Sampled while waiting: no timer thread per Lease comes and goes meanwhile.
            timers.update(t.name for t in threading.enumerate() if t.name.endswith("-overrun"))
            return group.work_overruns == 3

        with server.faults.blackhole(user="stubborn"):
            wait_for(overruns_reported, 10, what="3 overruns reported")
        assert timers == set()
    finally:
        release.set()


def test_async_with_runs_coroutine_jobs_on_the_loop_and_drains_them(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    group = member("a", shards=3)
    ran: list[tuple[str, bool, bool]] = []

    @group.run_while_leader
    async def job(term: AsyncTerm, lease_name: str) -> None:
        loop = asyncio.get_running_loop()
        await term.wait()
        await asyncio.sleep(0.3)  # more than a renewal interval: a release now would show
        lease = server.get_object("leases", "default", lease_name)
        ran.append((lease_name, loop is main_loop[0], lease["spec"]["holderIdentity"] == "a"))

    main_loop: list[asyncio.AbstractEventLoop] = []

    async def main() -> tuple[bool, float]:
        main_loop.append(asyncio.get_running_loop())
        async with group:
            loop = asyncio.get_running_loop()
            held = await loop.run_in_executor(None, group.wait_for_held, 3, 10.0)
            started = time.monotonic()
        return held, time.monotonic() - started

    held, _ = asyncio.run(main())
    assert held
    # Each job ran on the loop, and returned while its Lease was still ours; then released.
    assert sorted(ran) == [(f"work-{i}", True, True) for i in range(3)]
    assert all(
        server.get_object("leases", "default", f"work-{i}")["spec"]["holderIdentity"] in ("", None)
        for i in range(3)
    )


def _holder(server: LeaseAPIServer, name: str) -> str:
    obj = server.get_object("leases", "default", name)
    return str((obj or {}).get("spec", {}).get("holderIdentity") or "")


def test_a_member_joining_just_after_a_death_agrees_and_hand_offs_leave_no_gap(
    member: GroupFactory, server: LeaseAPIServer
) -> None:
    # release_on_stop=False: member-0 stops without releasing anything, as if it died; its
    # heartbeat stays held, and a member that starts now finds it as it was left.
    groups = [member("member-0", release_on_stop=False), member("member-1"), member("member-2")]
    for group in groups:
        group.start()
    wait_for(lambda: [len(g.held) for g in groups] == [4, 4, 4], 20, what="balanced")
    groups[0].stop()
    survivors = groups[1:]
    wait_for(lambda: [len(g.held) for g in survivors] == [6, 6], 10, what="6 each")
    newcomer = member("member-3")
    newcomer.start()
    everyone = [*survivors, newcomer]
    # The newcomer does not count the dead member (its heartbeat is stale by its renewTime),
    # so all three agree at once.
    wait_for(lambda: {"member-1", "member-2"} <= newcomer.members, 5, what="the others seen")
    assert "member-0" not in newcomer.members
    wait_for(lambda: [len(g.held) for g in everyone] == [4, 4, 4], 10, what="4 each")
    names = [f"work-{i}" for i in range(12)]
    free_since: dict[str, float] = {}
    longest = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.001):
            now = time.monotonic()
            for name in names:
                if _holder(server, name) == "":
                    free_since.setdefault(name, now)
                elif name in free_since:
                    longest[0] = max(longest[0], now - free_since.pop(name))

    sampler = threading.Thread(target=sample, name="test-holder-sampler")
    sampler.start()
    try:
        leaving = set(survivors[0].held)
        survivors[0].stop()
        remaining = [survivors[1], newcomer]
        wait_for(lambda: [len(g.held) for g in remaining] == [6, 6], 10, what="6 each again")
    finally:
        done.set()
        sampler.join(10)
    assert leaving <= remaining[0].held | remaining[1].held
    # Each released Lease was taken about one round trip later, not after a renewal interval
    # (200 ms) of disagreement.
    assert longest[0] < 0.15, longest[0]
