"""The chaos driver: N candidate processes, one fault after another, then the checker.

Every candidate *slot* has its own user (its own kubeconfig), so the server's per-user faults
partition exactly that slot; slot 0 runs with its wall clock an hour ahead
(``--wall-clock-skew 3600``), in every generation. A killed or departed candidate is replaced
by a new process with a new identity (``<slot>-g<generation>``).

Faults are drawn from a seeded generator in shuffled rounds, so every kind occurs once per
round and a failing run can be replayed with ``--seed``:

- ``kill``: SIGKILL the leader; a new process takes its slot after a random delay.
- ``term``: SIGTERM the leader (a graceful stop: it must release and exit 0); replaced.
- ``pause``: SIGSTOP the leader (sometimes a follower) for 1.2-2.5 lease durations, SIGCONT.
- ``blackhole``: the server holds every request of the leader's (sometimes a follower's) user
  unanswered for 1.2-2.5 lease durations, then heals (held connections are closed).
- ``errors``: a burst of 500/503/504/429 answers at a random rate, for everyone.
- ``latency``: requests of the leader (sometimes everyone) delayed by 1.1-1.6 renew deadlines.
- ``delete``: the Lease deleted by hand.
- ``edit``: the Lease edited by hand — taken by an outsider's name, a label added, its
  renewTime set an hour back, or its leaseDurationSeconds changed.
- ``rolling``: a rolling restart — SIGTERM the leader and start its replacement at once, as a
  Deployment rollout does (the replacement does not wait for the old process to exit).
- ``edit-follower``: a live follower's identity written into ``holderIdentity`` through the
  official client while the leader leads (a hand edit, nothing else changed).
- ``lower-token``: ``leaseTransitions`` patched down while the leader holds the Lease.
- ``leader-latency``: only the leader's requests delayed (0.5-1.5 renew deadlines).
- ``stalled-watch``: every watch blackholed (open ones stall, new ones hang), then healed.
- ``retry-after``: 429 answers with a ``Retry-After`` of 1-3 s, for everyone.

``--faults`` (or a profile's ``faults``) chooses the kinds. The default short profile holds
only kinds the library passes today (``DEFAULT_FAULTS``); ``ALL_FAULTS`` lists every kind.

With ``work`` (the default), every candidate also runs a leader-only job (``harness.work``)
that logs samples while it works and needs a random 0-500 ms to stop after its stop event;
the checker's invariant 6 judges the merged work logs.

Not injected, on purpose: a hand edit that *clears* ``holderIdentity`` of a live leader. It is
indistinguishable from a release, so every client-go-compatible candidate takes the Lease at
once while the old leader still acts until it notices — the operator forced two leaders.

Between faults the driver waits for one leader again (a stall is reported, not judged: the
checker judges safety), then a random fraction of a renewal interval so faults land at every
phase of the renewal cycle.

**Group profiles** (``Profile.shards``, e.g. ``group-short``): every candidate is a member of
one ``LeaderElectionGroup`` over the Leases ``chaos-0`` ... (``harness.group_candidate``), so
each member leads some of them and members hand Leases over as they come and go. The same
kinds of fault, each aimed at one Lease drawn at random: "the leader" is that Lease's current
holder (the process killed, stopped, paused, partitioned or slowed leads other Leases too),
and ``delete`` / ``edit`` / ``edit-follower`` / ``lower-token`` change that Lease. Between
faults the driver waits until every Lease has one holder again. The checker judges each Lease
on its own (``harness.checker.check_group``): never two leaders of one Lease, never two
members working for one Lease at once.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checker import ProcessRecord, Verdict, check, check_group, read_action_logs
from harness.fleet import Candidate, Fleet, Impl, Timing, candidate_command

__all__ = [
    "ALL_FAULTS",
    "DEFAULT_FAULTS",
    "FAULTS",
    "PROFILES",
    "Profile",
    "RunResult",
    "library_drains",
    "run",
]

LEASE = "chaos"
NAMESPACE = "default"
SKEW_SECONDS = 3600.0
FAULTS = ("kill", "term", "pause", "blackhole", "errors", "latency", "delete", "edit")
"""The original kinds: crashes, graceful stops, pauses, partitions, errors, latency, edits."""
NEW_FAULTS = (
    "rolling",
    "edit-follower",
    "lower-token",
    "leader-latency",
    "stalled-watch",
    "retry-after",
)
ALL_FAULTS = FAULTS + NEW_FAULTS
# Every kind: the hand edit naming a follower and the lowered token pass since rules 5 and 9.
DEFAULT_FAULTS = ALL_FAULTS
WORK_STOP = (0.0, 0.5)
"""Seconds the work job needs to return after its stop event: uniform in this range."""


def library_drains() -> bool:
    """True when the library drains before it releases (``resign`` arrives with drain)."""
    from leader_election import LeaderElectionModule

    return hasattr(LeaderElectionModule, "resign")


@dataclass(frozen=True)
class Profile:
    """How long and how hard a run is."""

    name: str
    candidates: int
    timing: Timing
    duration: float | None = None
    """Stop injecting faults after this many seconds."""
    transitions: int | None = None
    """Stop injecting faults after this many leadership transitions."""
    max_duration: float = 3600.0
    """Hard limit, whatever else says."""
    faults: tuple[str, ...] = DEFAULT_FAULTS
    """The kinds injected, each once per shuffled round."""
    work: bool = True
    """Candidates run the leader-only work job (invariant 6)."""
    graceful: int | None = None
    """Also go on until this many graceful handovers (``released`` lost events)."""
    shards: int | None = None
    """Candidates are members of a group of this many Leases; None: one Lease."""

    @property
    def leases(self) -> tuple[str, ...]:
        """The Leases the candidates compete for."""
        if self.shards is None:
            return (LEASE,)
        return tuple(f"{LEASE}-{index}" for index in range(self.shards))


PROFILES = {
    # Inside `make test`: every fault kind at least once in about a minute and a half.
    "short": Profile("short", candidates=4, timing=Timing(1000, 600, 200), duration=80.0),
    # `make chaos`: at least 500 leadership transitions and 200 graceful handovers; rolling
    # restarts and SIGTERM twice per round each, so both targets arrive together.
    "long": Profile(
        "long",
        candidates=5,
        timing=Timing(1000, 600, 200),
        transitions=500,
        graceful=200,
        max_duration=5400.0,
        faults=(*DEFAULT_FAULTS, "rolling", "term"),
    ),
    # Every kind, for longer than the short profile.
    "all": Profile(
        "all", candidates=4, timing=Timing(1000, 600, 200), duration=120.0, faults=ALL_FAULTS
    ),
    # Inside `make test`: three members of a group of four Leases (one member leads two),
    # every kind of fault at least once, in about a minute.
    "group-short": Profile(
        "group-short", candidates=3, timing=Timing(1000, 600, 200), duration=45.0, shards=4
    ),
    # `make chaos-group`: the same, until 200 transitions over all Leases.
    "group": Profile(
        "group",
        candidates=4,
        timing=Timing(1000, 600, 200),
        transitions=200,
        shards=4,
    ),
}

# The official client refuses durations below one second and a renew deadline within
# 1.2 retry periods; it runs with the smallest timing it accepts.
OFFICIAL_TIMING = Timing(2000, 1500, 1000)


@dataclass
class RunResult:
    """What a chaos run did and what the checker found."""

    seed: int
    profile: Profile
    impl: Impl
    timing: Timing
    verdict: Verdict
    faults: Counter[str] = field(default_factory=Counter)
    stalls: list[str] = field(default_factory=list)
    seconds: float = 0.0
    workdir: str = ""
    injected: list[tuple[float, str, str]] = field(default_factory=list)
    """(monotonic start, kind, description) of every fault, in order."""
    targets: Counter[str] = field(default_factory=Counter)
    """Faults aimed at each Lease (a group run; a single Lease takes them all)."""

    def cause(self, t: float) -> tuple[float, str, str] | None:
        """The last fault injected at or before ``t``."""
        before = [fault for fault in self.injected if fault[0] <= t]
        return before[-1] if before else None

    def overlaps_by_fault(self) -> Counter[str]:
        """Overlaps counted by the kind of the fault that preceded each one."""
        counts: Counter[str] = Counter()
        for overlap in self.verdict.overlaps:
            cause = self.cause(overlap.second.start)
            counts[cause[1] if cause else "none"] += 1
        return counts

    def work_overlaps_by_fault(self) -> Counter[str]:
        """Work overlaps counted by the kind of the fault that preceded each one."""
        counts: Counter[str] = Counter()
        for overlap in self.verdict.work_overlaps:
            cause = self.cause(overlap.second.start)
            kind = cause[1] if cause else "none"
            counts[f"{kind} ({'graceful' if overlap.graceful else overlap.ended})"] += 1
        return counts

    @property
    def graceful_handovers(self) -> int:
        """Terms that ended with a release: every graceful handover of the run (a group's
        hand-overs to rebalance included)."""
        return self.verdict.released + self.verdict.resigned

    def report(self) -> str:
        kinds = dict.fromkeys(self.profile.faults)  # a kind listed twice is drawn twice
        faults = ", ".join(f"{kind} {self.faults[kind]}" for kind in kinds)
        shards = self.profile.shards
        group = "" if shards is None else f" in a group of {shards} Leases"
        lines = [
            f"chaos {self.profile.name} run of {self.impl}: seed {self.seed}, "
            f"{self.profile.candidates} candidates{group}, lease {self.timing.lease_duration} "
            f"ms / renew deadline {self.timing.renew_deadline} ms / renewal "
            f"{self.timing.renewal_interval} ms, {self.seconds:.0f} s",
            f"faults: {faults}",
        ]
        if shards is not None:
            aimed = ", ".join(f"{name} {self.targets[name]}" for name in self.profile.leases)
            lines += [
                f"faults aimed at each Lease: {aimed}",
                f"graceful handovers: {self.graceful_handovers} (released "
                f"{self.verdict.released}, resigned to rebalance {self.verdict.resigned})",
            ]
        else:
            lines.append(f"graceful handovers (released): {self.graceful_handovers}")
        lines += [self.verdict.summary(), f"leaderless stalls: {len(self.stalls)}"]
        if self.verdict.work_overlaps:
            by_fault = ", ".join(f"{k} {n}" for k, n in self.work_overlaps_by_fault().most_common())
            lines.append(f"work overlaps by the fault before them: {by_fault}")
        if self.verdict.overlaps:
            by_fault = ", ".join(f"{k} {n}" for k, n in self.overlaps_by_fault().most_common())
            lines.append(f"overlaps by the fault before them: {by_fault}")
            for overlap in self.verdict.overlaps[:10]:
                cause = self.cause(overlap.second.start)
                lines.append(
                    f"  {overlap.describe()}; after: {cause[2] if cause else 'no fault'}"
                    + (f" at {cause[0]:.3f}" if cause else "")
                )
        lines.extend(f"  stall: {stall}" for stall in self.stalls[:10])
        lines.append("verdict: " + ("PASS" if self.verdict.ok else "FAIL"))
        named = PROFILES.get(self.profile.name)
        chosen = (
            ""
            if named is not None and self.profile.faults == named.faults
            else f" --faults {','.join(self.profile.faults)}"
        )
        if self.profile.shards is not None and (
            named is None or named.shards != self.profile.shards
        ):
            chosen += f" --shards {self.profile.shards}"
        lines.append(
            f"replay: python -m chaos --profile {self.profile.name} --impl {self.impl} "
            f"--seed {self.seed}{chosen}"
        )
        return "\n".join(lines)


class _Lease:
    """Hand edits through the API as the admin user, as kubectl would make them."""

    def __init__(self, server: Any, name: str = LEASE) -> None:
        self.name = name
        self._url = f"{server.url}/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{name}"
        self._token = server.token_for(None)
        self._client = server.api_client()

    def _call(self, method: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self._url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def delete(self) -> bool:
        code, _ = self._call("DELETE")
        return code == 200

    def exists(self) -> bool:
        code, _ = self._call("GET")
        return code == 200

    def transitions(self) -> int | None:
        code, lease = self._call("GET")
        if code != 200 or not isinstance(lease, dict):
            return None
        return int((lease.get("spec") or {}).get("leaseTransitions") or 0)

    def official_replace(self, change: Callable[[Any], None]) -> bool:
        """Read, change and replace the Lease through the official client, as an operator's
        script would; retried on conflicts with the candidates' own writes."""
        from kubernetes.client import CoordinationV1Api
        from kubernetes.client.exceptions import ApiException

        api = CoordinationV1Api(self._client)
        for _ in range(10):
            try:
                lease = api.read_namespaced_lease(self.name, NAMESPACE, _request_timeout=10)
                change(lease)
                api.replace_namespaced_lease(self.name, NAMESPACE, lease, _request_timeout=10)
            except ApiException as exc:
                if exc.status == 409:
                    continue
                return False
            return True
        return False

    def edit(self, change: Callable[[dict[str, Any]], None]) -> bool:
        for _ in range(10):  # conflicts with the candidates' writes are expected: retry
            code, lease = self._call("GET")
            if code != 200 or not isinstance(lease, dict):
                return False
            change(lease)
            code, _ = self._call("PUT", lease)
            if code == 200:
                return True
            if code != 409:
                return False
        return False


def _micro(seconds_from_now: float) -> str:
    stamp = time.time() + seconds_from_now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e6):06d}Z"


class _Driver:
    def __init__(
        self,
        server: Any,
        fleet: Fleet,
        *,
        profile: Profile,
        impl: Impl,
        timing: Timing,
        rng: random.Random,
        log: Callable[[str], None],
    ) -> None:
        self.server = server
        self.fleet = fleet
        self.profile = profile
        self.impl = impl
        self.timing = timing
        self.rng = rng
        self.log = log
        self.leases = profile.leases
        self.api = {name: _Lease(server, name) for name in self.leases}
        # The events of a group member name their Lease; a single-Lease candidate's do not.
        self.group = profile.shards is not None
        self.targets: Counter[str] = Counter()
        self.slots: dict[str, Candidate] = {}
        self.generation: Counter[str] = Counter()
        self.kubeconfigs: dict[str, str] = {}
        self.faults: Counter[str] = Counter()
        self.injected: list[tuple[float, str, str]] = []
        self.stalls: list[str] = []
        self.disturbed: list[tuple[str | None, float, float, str]] = []
        """``(identity or None for everyone, start, end, kind)``: when a fault kept processes
        from renewing (the checker's ``ProcessRecord.disturbed``)."""
        self.ld, self.rd, self.ri = timing.seconds()

    # -- candidates ------------------------------------------------------------------------
    def spawn(self, slot: str) -> Candidate:
        self.generation[slot] += 1
        identity = f"{slot}-g{self.generation[slot]}"
        if slot not in self.kubeconfigs:
            path = self.fleet.workdir / f"{slot}.kubeconfig"
            self.kubeconfigs[slot] = self.server.write_kubeconfig(path, user=slot)
        action_log = str(self.fleet.workdir / f"actions-{identity}.log")
        work_log = str(self.fleet.workdir / f"work-{identity}.log") if self.profile.work else None
        argv = candidate_command(
            self.impl,
            kubeconfig=self.kubeconfigs[slot],
            lease=LEASE,
            identity=identity,
            timing=self.timing,
            action_log=action_log,
            wall_clock_skew=SKEW_SECONDS if slot == "c0" else 0.0,
            work_log=work_log,
            work_stop=WORK_STOP,
            # Stop times replay with the run's seed.
            work_seed=self.rng.randrange(2**32),
            shards=self.profile.shards,
            extra=["--log-level", "INFO"] if self.impl == "ours" else [],
        )
        candidate = self.fleet.spawn(
            slot, identity, self.impl, argv, action_log=action_log, work_log=work_log
        )
        self.log(f"chaos: t={candidate.started_at:.3f} started {identity} (pid {candidate.pid})")
        self.slots[slot] = candidate
        return candidate

    def replace_departed(self) -> None:
        for slot, candidate in list(self.slots.items()):
            if not candidate.alive:
                candidate.wait_exit(1.0)
                self.spawn(slot)

    def key(self, lease: str) -> str | None:
        """How events name ``lease``: by name for a group member, not at all otherwise."""
        return lease if self.group else None

    def transitions(self) -> int:
        """Leadership transitions so far: elected events after the first, of each Lease."""
        elected: Counter[str | None] = Counter(
            e.get("lease") for c in self.fleet for e in c.snapshot() if e.get("event") == "elected"
        )
        return sum(max(count - 1, 0) for count in elected.values())

    def released(self) -> int:
        """Graceful handovers so far: lost events with reason ``released`` (or ``resigned``:
        a group member handing a Lease over to rebalance)."""
        return sum(
            1
            for c in self.fleet
            for e in c.snapshot()
            if e.get("event") == "lost" and e.get("reason") in ("released", "resigned")
        )

    def holders(self, timeout: float) -> dict[str, Candidate] | None:
        """The one live, running candidate that says it leads, for every Lease; None after
        ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, Candidate] = {}
            for lease in self.leases:
                leaders = self.fleet.leaders(self.key(lease))
                if len(leaders) == 1:
                    found[lease] = leaders[0]
            if len(found) == len(self.leases):
                return found
            if time.monotonic() >= deadline:
                return None
            self.replace_departed()
            time.sleep(0.02)

    def known_by_all(self, lease: str, timeout: float) -> Candidate | None:
        """Wait for one leader of ``lease`` that every other live candidate is ready and has
        reported."""
        key = self.key(lease)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leaders = self.fleet.leaders(key)
            if len(leaders) == 1:
                leader = leaders[0]
                others = [c for c in self.slots.values() if c is not leader and c.alive]
                if all(
                    c.last("ready") is not None
                    and (c.last("changed", lease=key) or {}).get("leader") == leader.identity
                    for c in others
                ):
                    return leader
            time.sleep(0.02)
        return None

    def follower(self, leader: Candidate, *, seen_on: str | None = None) -> Candidate | None:
        """A live follower at random; with ``seen_on``, one whose last view of that Lease's
        holder is ``leader``."""
        others = [c for c in self.slots.values() if c is not leader and c.alive and not c.paused]
        if seen_on is not None:
            key = self.key(seen_on)
            others = [
                c
                for c in others
                if (changed := c.last("changed", lease=key)) is not None
                and changed.get("leader") == leader.identity
            ]
        return self.rng.choice(others) if others else None

    def settle(self, after: str) -> dict[str, Candidate] | None:
        """Wait for one leader of every Lease (reporting a stall); who leads which Lease."""
        self.replace_departed()
        # Long enough for expiry, a retry backoff and the start of a replacement process.
        limit = 4 * self.ld + 15.0
        started = time.monotonic()
        holders = self.holders(limit)
        missing, late = (
            ("single holder of every Lease", "a holder of every Lease")
            if self.group
            else ("single leader", "a leader")
        )
        if holders is None:
            self.stalls.append(f"no {missing} within {limit:.0f} s after {after}")
            self.log(f"chaos: STALL: no {missing} within {limit:.0f} s after {after}")
        elif time.monotonic() - started > 2 * self.ld + 5.0:
            self.stalls.append(f"{late} only {time.monotonic() - started:.1f} s after {after}")
        return holders

    # -- faults ----------------------------------------------------------------------------
    def hold(self, low: float, high: float) -> float:
        seconds = self.ld * self.rng.uniform(low, high)
        time.sleep(seconds)
        return seconds

    def disturb(self, who: Candidate | None, start: float, kind: str, *, tail: float = 0.0) -> None:
        """Note that ``who`` (None: everyone) could not renew from ``start`` until now plus
        ``tail`` (requests delayed before the fault was removed still arrive late)."""
        self.disturbed.append((who.identity if who else None, start, time.monotonic() + tail, kind))

    def inject(self, kind: str, leader: Candidate, lease: str) -> str:
        """Inject one fault of ``kind``; ``leader`` holds ``lease``, the one aimed at."""
        rng = self.rng
        api = self.api[lease]
        if kind == "kill":
            leader.send(signal.SIGKILL)
            leader.wait_exit(5.0)
            time.sleep(rng.uniform(0.0, self.ld))
            self.spawn(leader.name)
            return f"SIGKILL {leader.identity}"
        if kind == "term":
            leader.send(signal.SIGTERM)
            if leader.wait_exit(self.rd + 10.0) is None:
                leader.send(signal.SIGKILL)
                leader.wait_exit(5.0)
            self.spawn(leader.name)
            return f"SIGTERM {leader.identity}"
        if kind == "rolling":
            # A Deployment rollout: the replacement starts as the old pod gets SIGTERM.
            leader.send(signal.SIGTERM)
            self.spawn(leader.name)
            if leader.wait_exit(self.rd + 10.0) is None:
                leader.send(signal.SIGKILL)
                leader.wait_exit(5.0)
            return f"rolling restart of {leader.identity}"
        if kind == "edit-follower":
            # A follower that has seen this leader: one whose first look at the Lease is the
            # edit naming it takes it at once (rule 9's stated limit, as client-go does), and
            # cannot know the tokens written before it looked.
            follower = self.follower(leader, seen_on=lease)
            if follower is None:
                return "hand edit to a follower skipped: no live follower that saw the leader"
            done = api.official_replace(
                lambda body: setattr(body.spec, "holder_identity", follower.identity)
            )
            return f"holderIdentity set to follower {follower.identity} by hand" + (
                "" if done else ": failed"
            )
        if kind == "lower-token":
            lowered: list[int] = []

            def lower(body: Any) -> None:
                current = int(body.spec.lease_transitions or 0)
                body.spec.lease_transitions = max(current - rng.randint(1, 5), 0)
                lowered[:] = [current, body.spec.lease_transitions]

            done = api.official_replace(lower)
            what = f"{lowered[0]} -> {lowered[1]}" if lowered else "?"
            if done and lowered:
                # The leader writes its token back at its next renewal (rule 5). Until then a
                # candidate started now (the next fault's restart) sees only the lowered value
                # and cannot know the higher one: the same limit as a deleted Lease. Let the
                # next fault wait for the write-back (or for the leader's claim to run out).
                deadline = time.monotonic() + 4 * self.ld + 5.0
                while time.monotonic() < deadline:
                    seen = api.transitions()
                    if seen is None or seen >= lowered[0]:
                        break
                    time.sleep(0.05)
            return f"leaseTransitions lowered {what} under {leader.identity}" + (
                "" if done else ": failed"
            )
        if kind == "leader-latency":
            delay = self.rd * rng.uniform(0.5, 1.5)
            fault = self.server.faults.latency(delay, user=leader.name)
            start = time.monotonic()
            try:
                seconds = self.hold(1.0, 3.0)
            finally:
                fault.remove()
                self.disturb(leader, start, kind, tail=delay)
            return f"latency {delay:.2f} s for the leader {leader.identity} during {seconds:.2f} s"
        if kind == "stalled-watch":
            fault = self.server.faults.blackhole(verb="watch")
            try:
                seconds = self.hold(1.2, 2.5)
            finally:
                fault.remove()
            return f"every watch stalled for {seconds:.2f} s"
        if kind == "retry-after":
            retry_after = rng.randint(1, 3)
            rate = rng.uniform(0.5, 1.0)
            fault = self.server.faults.error(429, rate=rate, retry_after=retry_after)
            start = time.monotonic()
            try:
                seconds = self.hold(0.5, 2.0)
            finally:
                fault.remove()
                self.disturb(None, start, kind)
            return f"429 with Retry-After {retry_after} s at rate {rate:.2f} for {seconds:.2f} s"
        if kind == "pause":
            target = leader if rng.random() < 0.75 else (self.follower(leader) or leader)
            target.send(signal.SIGSTOP)
            start = time.monotonic()
            try:
                seconds = self.hold(1.2, 2.5)
            finally:
                target.send(signal.SIGCONT)
                self.disturb(target, start, kind)
            return f"SIGSTOP {target.identity} for {seconds:.2f} s"
        if kind == "blackhole":
            target = leader if rng.random() < 0.75 else (self.follower(leader) or leader)
            fault = self.server.faults.blackhole(user=target.name)
            start = time.monotonic()
            try:
                seconds = self.hold(1.2, 2.5)
            finally:
                fault.remove()
                self.disturb(target, start, kind)
            return f"blackhole of {target.identity} for {seconds:.2f} s"
        if kind == "errors":
            status = rng.choice((500, 503, 504, 429))
            rate = rng.uniform(0.5, 1.0)
            fault = self.server.faults.error(status, rate=rate, retry_after=0)
            start = time.monotonic()
            try:
                seconds = self.hold(0.3, 1.5)
            finally:
                fault.remove()
                self.disturb(None, start, kind)
            return f"{status} at rate {rate:.2f} for {seconds:.2f} s"
        if kind == "latency":
            delay = self.rd * rng.uniform(1.1, 1.6)
            user = leader.name if rng.random() < 0.6 else None
            fault = self.server.faults.latency(delay, user=user)
            start = time.monotonic()
            try:
                seconds = self.hold(0.5, 1.5)
            finally:
                fault.remove()
                self.disturb(leader if user else None, start, kind, tail=delay)
            who = leader.identity if user else "everyone"
            return f"latency {delay:.2f} s for {who} during {seconds:.2f} s"
        if kind == "delete":
            # A candidate that never saw the Lease (one still starting) cannot know a live
            # holder's claim and would create it at once: see rule 6 in state.py. Delete only
            # once every candidate has seen the leader.
            if self.known_by_all(lease, 4 * self.ld + 15.0) is None:
                return "Lease delete skipped: no leader known to every candidate"
            done = api.delete()
            if not done:
                return "Lease delete failed"
            # Until a candidate that saw the Lease re-creates it, a candidate started now (the
            # next fault's restart) never saw it and would create it with token 0: rule 6's
            # stated limit, not a fault of the library. Let the next fault wait for it.
            deadline = time.monotonic() + 4 * self.ld + 5.0
            while not api.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return "Lease deleted"
        if kind == "edit":
            how = rng.choice(("outsider", "label", "renew-time", "duration"))
            ld = int(self.ld)

            def change(body: dict[str, Any]) -> None:
                spec = body.setdefault("spec", {})
                if how == "outsider":
                    spec["holderIdentity"] = "operator-by-hand"
                    spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
                    spec["acquireTime"] = spec["renewTime"] = _micro(0)
                    spec["leaseDurationSeconds"] = ld
                elif how == "label":
                    labels = body.setdefault("metadata", {}).setdefault("labels", {})
                    labels["chaos/edited"] = str(rng.randrange(1_000_000))
                elif how == "renew-time":
                    spec["renewTime"] = _micro(-3600.0)
                else:
                    spec["leaseDurationSeconds"] = ld + rng.choice((1, 2))

            done = api.edit(change)
            return f"Lease edited by hand ({how})" + ("" if done else ": failed")
        raise ValueError(kind)

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        profile = self.profile
        for index in range(profile.candidates):
            self.spawn(f"c{index}")
        started = time.monotonic()
        holders = self.settle("start")
        cycle: list[str] = []
        while True:
            elapsed = time.monotonic() - started
            transitions = self.transitions()
            # Every kind of fault at least once, however slow the machine.
            covered = all(self.faults[kind] for kind in profile.faults)
            enough_graceful = profile.graceful is None or self.released() >= profile.graceful
            if covered and profile.duration is not None and elapsed >= profile.duration:
                break
            if (
                covered
                and enough_graceful
                and profile.transitions is not None
                and transitions >= profile.transitions
            ):
                break
            if elapsed >= profile.max_duration:
                self.log(f"chaos: stopping at the {profile.max_duration:.0f} s limit")
                break
            if not cycle:
                cycle = list(profile.faults)
                self.rng.shuffle(cycle)
            kind = cycle.pop()
            # One Lease of a group, drawn at random; no draw for a single Lease, so its seeds
            # replay as they did before groups.
            lease = self.rng.choice(self.leases) if len(self.leases) > 1 else self.leases[0]
            leader = holders.get(lease) if holders is not None else None
            if (
                leader is None
                or not leader.alive
                or leader.paused
                or not leader.leads(self.key(lease))
            ):
                holders = self.settle("a stall")
                if holders is None:
                    continue
                leader = holders[lease]
            time.sleep(self.rng.uniform(0.0, 2 * self.ri))
            began = time.monotonic()
            what = self.inject(kind, leader, lease)
            if self.group:
                what = f"{lease} (held by {leader.identity}): {what}"
            self.faults[kind] += 1
            self.targets[lease] += 1
            self.injected.append((began, kind, what))
            self.log(
                f"chaos: {elapsed:6.1f} s (t={time.monotonic():.3f}), {transitions:4d} "
                f"transitions: {what}"
            )
            holders = self.settle(what)


def run(
    profile: Profile,
    *,
    impl: Impl = "ours",
    seed: int | None = None,
    workdir: str | Path | None = None,
    timing: Timing | None = None,
    drain: bool | None = None,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Run a chaos profile against a fresh embedded server and check the logs.

    ``seed`` None draws one (printed first); ``workdir`` None uses a temporary directory that
    is removed afterwards unless the verdict failed. ``drain``: judge work overlaps after a
    graceful stop as violations; None decides by ``library_drains()`` for ours (never for
    the official client, which has no stop path).
    """
    if profile.shards is not None and impl != "ours":
        raise ValueError(f"profile {profile.name!r} runs a group: only impl='ours' has groups")
    if drain is None:
        drain = impl == "ours" and library_drains()
    from leader_election.testing.server import LeaseAPIServer

    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    if timing is None:
        timing = profile.timing if impl == "ours" else OFFICIAL_TIMING
    log(
        f"chaos: profile {profile.name}, {impl}, seed {seed}; faults {','.join(profile.faults)}; "
        f"work {'on' if profile.work else 'off'}, graceful work overlaps "
        f"{'judged (the library drains)' if drain else 'reported only'}"
    )
    own_dir = workdir is None
    directory = Path(tempfile.mkdtemp(prefix="chaos-")) if workdir is None else Path(workdir)
    started = time.monotonic()
    driver: _Driver | None = None
    verdict = Verdict()
    passed = False
    try:
        with LeaseAPIServer() as server:
            fleet = Fleet(directory, grace=timing.renew_deadline / 1000 + 10.0)
            try:
                driver = _Driver(
                    server,
                    fleet,
                    profile=profile,
                    impl=impl,
                    timing=timing,
                    rng=random.Random(seed),
                    log=log,
                )
                driver.run()
            finally:
                fleet.close()
            records = [
                ProcessRecord(
                    identity=c.identity,
                    events=c.snapshot(),
                    returncode=c.returncode,
                    killed=c.killed,
                    terminated=c.terminated_at is not None,
                    disturbed=[
                        (start, end, kind)
                        for who, start, end, kind in (driver.disturbed if driver else [])
                        if who is None or who == c.identity
                    ],
                )
                for c in fleet.candidates
            ]
            samples, problems = read_action_logs(
                c.action_log for c in fleet.candidates if c.action_log
            )
            work, work_problems = read_action_logs(
                c.work_log for c in fleet.candidates if c.work_log
            )
            if profile.shards is None:
                verdict = check(
                    samples, records, log_problems=problems + work_problems, work=work, drain=drain
                )
            else:
                verdict = check_group(
                    samples,
                    records,
                    log_problems=problems + work_problems,
                    work=work,
                    drain=drain,
                    leases=profile.leases,
                )
            passed = verdict.ok
    finally:
        if own_dir and passed:
            shutil.rmtree(directory, ignore_errors=True)
        elif not passed:
            log(f"chaos: logs kept in {directory}")
    return RunResult(
        seed=seed,
        profile=profile,
        impl=impl,
        timing=timing,
        verdict=verdict,
        faults=driver.faults if driver else Counter(),
        stalls=driver.stalls if driver else [],
        injected=driver.injected if driver else [],
        targets=driver.targets if driver else Counter(),
        seconds=time.monotonic() - started,
        workdir=str(directory),
    )
