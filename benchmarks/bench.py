"""The measurements: ours and the official client, same server, same timing, separate processes.

Phases (each implementation gets the same treatment in the same run):

1. *Crash failover*: a fleet of N candidates; the leader is SIGKILLed at a random phase of its
   renewal cycle; time from the kill to the ``elected`` event of the next leader. The killed
   candidate is replaced by a new process before the next round.
2. *Graceful handover*: the same with SIGTERM.
2b. *Graceful handover of work*: the same with SIGTERM, every candidate running a leader-only
   job (``harness.work``) that needs ``Settings.work_stop`` seconds (200 ms) to return after
   its stop event; from the work logs, the time from the old job's return to the new job's
   start, and so the *work gap* (no job running) or *overlap* (two jobs running) per handover.
3. *Steady state*: for each fleet size, both fleets start (imports paid first, then a start
   gate); "settled" is when one candidate leads and every other one has reported that leader
   (its ``changed`` event); requests from the gate until then are the cost of settling. Then,
   over a window of idle steady state, requests per minute per candidate from the server's
   request log (every candidate has its own user), CPU seconds (``/proc/PID/stat``) and peak
   RSS (``VmHWM``) per process.
4. *Import time* beyond ``import kubernetes``, in fresh interpreters.
5. *Events*: every process's elected/lost sequence, checked by the chaos checker's rules.
"""

from __future__ import annotations

import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checker import ProcessRecord, Verdict, check, read_action_logs
from harness.fleet import REPO_ROOT, Candidate, Fleet, Impl, Timing, candidate_command

__all__ = [
    "IMPLS",
    "ROUND_KINDS",
    "Round",
    "Settings",
    "SteadyResult",
    "measure_imports",
    "run_rounds",
    "run_steady",
]

IMPLS: tuple[Impl, ...] = ("ours", "official")
ROUND_KINDS = ("kill", "term", "work")
"""Crash failover, graceful handover, graceful handover of a leader-only job."""
# client-go's proportions (15 s / 10 s / 2 s) scaled down to what the official client accepts.
DEFAULT_TIMING = Timing(lease_duration=3000, renew_deadline=2000, renewal_interval=1000)
NAMESPACE = "default"


@dataclass(frozen=True)
class Settings:
    """What a benchmark run does; ``quick()`` is the development variant."""

    timing: Timing = DEFAULT_TIMING
    candidates: int = 5
    rounds: int = 20
    sizes: tuple[int, ...] = (1, 5, 25)
    repeats: int = 3
    window: float = 60.0
    import_runs: int = 7
    seed: int = 0
    quick: bool = False
    work_stop: float = 0.2
    """Seconds the work job of the ``work`` rounds needs to return after its stop event."""

    @classmethod
    def quick_settings(cls, seed: int) -> Settings:
        return cls(rounds=5, repeats=1, window=15.0, import_runs=3, seed=seed, quick=True)


# -- shared helpers ----------------------------------------------------------------------------
class _Slots:
    """Candidates of one implementation on one Lease, one user per slot, replaced when gone."""

    def __init__(
        self,
        server: Any,
        fleet: Fleet,
        *,
        impl: Impl,
        lease: str,
        timing: Timing,
        prefix: str,
        work_stop: float | None = None,
    ) -> None:
        self.server = server
        self.work_stop = work_stop
        self.fleet = fleet
        self.impl = impl
        self.lease = lease
        self.timing = timing
        self.prefix = prefix
        self.slots: dict[str, Candidate] = {}
        self.generation: Counter[str] = Counter()
        self.kubeconfigs: dict[str, str] = {}

    def spawn(self, slot: str, *, start_file: str | None = None) -> Candidate:
        user = f"{self.prefix}-{slot}"
        self.generation[slot] += 1
        identity = f"{user}-g{self.generation[slot]}"
        if user not in self.kubeconfigs:
            path = self.fleet.workdir / f"{user}.kubeconfig"
            self.kubeconfigs[user] = self.server.write_kubeconfig(path, user=user)
        work_log = None
        if self.work_stop is not None:
            work_log = str(self.fleet.workdir / f"work-{identity}.log")
        argv = candidate_command(
            self.impl,
            kubeconfig=self.kubeconfigs[user],
            lease=self.lease,
            identity=identity,
            timing=self.timing,
            start_file=start_file,
            work_log=work_log,
            work_stop=(self.work_stop or 0.0, self.work_stop or 0.0),
        )
        candidate = self.fleet.spawn(user, identity, self.impl, argv, work_log=work_log)
        self.slots[slot] = candidate
        return candidate

    def replace_departed(self) -> None:
        for slot, candidate in list(self.slots.items()):
            if not candidate.alive:
                candidate.wait_exit(1.0)
                self.spawn(slot)

    def live(self) -> list[Candidate]:
        return [c for c in self.slots.values() if c.alive]

    def settled_leader(self) -> Candidate | None:
        """The one leader, once every other live candidate has reported it as leader."""
        leaders = [c for c in self.live() if c.leading]
        if len(leaders) != 1:
            return None
        leader = leaders[0]
        for candidate in self.live():
            if candidate is leader:
                continue
            changed = candidate.last("changed")
            if changed is None or changed.get("leader") != leader.identity:
                return None
        return leader

    def wait_settled(self, timeout: float, *, replace: bool = True) -> Candidate | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if replace:
                self.replace_departed()
            leader = self.settled_leader()
            if leader is not None:
                return leader
            time.sleep(0.01)
        return None


def _records(fleet: Fleet) -> list[ProcessRecord]:
    return [
        ProcessRecord(
            identity=c.identity,
            events=c.snapshot(),
            returncode=c.returncode,
            killed=c.killed,
            terminated=c.terminated_at is not None,
        )
        for c in fleet.candidates
    ]


def events_verdict(records: Sequence[ProcessRecord]) -> Verdict:
    """The chaos checker's event and exit rules applied to benchmark processes."""
    return check([], records)


# -- 1 and 2: failover and handover -------------------------------------------------------------
@dataclass
class Round:
    """One failover (``kill``) or handover (``term``) round."""

    impl: Impl
    kind: str
    t_signal: float
    old: str
    t_elected: float | None = None
    new: str | None = None
    old_exit: int | None = None
    old_events: list[str] = field(default_factory=list)
    requests: list[tuple[float, float, str, str, int]] = field(default_factory=list)
    """(arrival, duration, user, verb, code) around the round, for the timeline."""
    lanes: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    """identity -> [(event, t)] around the round, for the timeline."""
    old_job_return: float | None = None
    """``work`` rounds: the old leader's last work sample (its job's return, or its death)."""
    new_job_start: float | None = None
    """``work`` rounds: the new leader's first work sample."""

    @property
    def seconds(self) -> float | None:
        return None if self.t_elected is None else self.t_elected - self.t_signal

    @property
    def job_handover(self) -> float | None:
        """Seconds from the old job's return to the new job's start; negative: overlap."""
        if self.old_job_return is None or self.new_job_start is None:
            return None
        return self.new_job_start - self.old_job_return


def run_rounds(
    server: Any,
    settings: Settings,
    impl: Impl,
    kind: str,
    *,
    workdir: Path,
    rng: random.Random,
    log: Callable[[str], None],
) -> tuple[list[Round], list[ProcessRecord]]:
    """``settings.rounds`` rounds of SIGKILL (``kind="kill"``), SIGTERM (``"term"``) or
    SIGTERM with a leader-only job that takes ``settings.work_stop`` s to stop (``"work"``)."""
    timing = settings.timing
    ld, rd, ri = timing.seconds()
    signum = signal.SIGKILL if kind == "kill" else signal.SIGTERM
    lease = f"{kind}-{impl}"
    rounds: list[Round] = []
    with Fleet(workdir / lease, grace=rd + 10.0) as fleet:
        slots = _Slots(
            server,
            fleet,
            impl=impl,
            lease=lease,
            timing=timing,
            prefix=f"{impl}-{kind}",
            work_stop=settings.work_stop if kind == "work" else None,
        )
        for index in range(settings.candidates):
            slots.spawn(f"c{index}")
        for number in range(settings.rounds):
            leader = slots.wait_settled(4 * ld + 30.0)
            if leader is None:
                log(f"  {impl} {kind} round {number + 1}: no settled leader, round skipped")
                continue
            # A random phase of the renewal cycle, after at least one full cycle of calm.
            time.sleep(ri + rng.uniform(0.0, ri))
            if slots.settled_leader() is not leader:
                continue
            t_signal = time.monotonic()
            leader.send(signum)
            result = Round(impl, kind, t_signal, leader.identity)
            found = _wait_new_leader(slots, leader, t_signal, 4 * ld + 10.0)
            if found is not None:
                result.new, result.t_elected = found
            result.old_exit = leader.wait_exit(rd + 10.0)
            if result.old_exit is None:
                leader.send(signal.SIGKILL)
                result.old_exit = leader.wait_exit(5.0)
            result.old_events = [
                str(e.get("event")) + (f":{e['reason']}" if e.get("reason") else "")
                for e in leader.snapshot()
                if e.get("t", 0) >= t_signal and e.get("event") != "changed"
            ]
            if kind == "work" and result.new is not None:
                new = next(c for c in fleet.candidates if c.identity == result.new)
                result.old_job_return = _last_work_sample(leader)
                result.new_job_start = _first_work_sample(new, since=t_signal, timeout=5.0)
            rounds.append(result)
            took = result.seconds
            job = result.job_handover
            log(
                f"  {impl} {kind} round {number + 1}: "
                + ("no new leader" if took is None else f"{took * 1000:.0f} ms")
                + (
                    ""
                    if job is None
                    else f", old job's return to new job's start {job * 1000:.0f} ms"
                )
                + f" (old leader exit {result.old_exit}, {', '.join(result.old_events) or '-'})"
            )
            slots.spawn(leader.name.rsplit("-", 1)[-1])
        # Keep the request log and events of every round for the timeline.
        entries = server.requests.entries()
        events = {c.identity: c.snapshot() for c in fleet.candidates}
        kills = {c.identity: c.killed_at for c in fleet.candidates if c.killed_at is not None}
    users = {f"{impl}-{kind}-c{i}" for i in range(settings.candidates)}
    for result in rounds:
        start = result.t_signal - ld - 1.0
        end = (result.t_elected or result.t_signal + ld) + 1.0
        result.requests = [
            (e.monotonic, e.duration, e.user, e.verb, e.code)
            for e in entries
            if e.user in users and start <= e.monotonic <= end
        ]
        result.lanes = {
            identity: [
                (str(e.get("event")), float(e["t"]))
                for e in evs
                if e.get("event") in ("elected", "lost", "exit")
            ]
            + ([("killed", kills[identity])] if identity in kills else [])
            for identity, evs in events.items()
        }
    return rounds, _records(fleet)


def _work_samples(candidate: Candidate) -> list[float]:
    samples, _ = read_action_logs([candidate.work_log] if candidate.work_log else [])
    return [sample.t for sample in samples]


def _last_work_sample(candidate: Candidate) -> float | None:
    """The old leader's job's return: its last sample (it has exited by now)."""
    times = _work_samples(candidate)
    return max(times) if times else None


def _first_work_sample(candidate: Candidate, *, since: float, timeout: float) -> float | None:
    """The new leader's job's start: its first sample after ``since``, waited for."""
    deadline = time.monotonic() + timeout
    while True:
        times = [t for t in _work_samples(candidate) if t >= since]
        if times:
            return min(times)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def _wait_new_leader(
    slots: _Slots, old: Candidate, since: float, timeout: float
) -> tuple[str, float] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for candidate in slots.fleet.candidates:
            if candidate is old:
                continue
            event = candidate.last("elected")
            if event is not None and float(event["t"]) > since:
                return candidate.identity, float(event["t"])
        # The official client exits after losing: keep the fleet at full strength.
        for slot, candidate in list(slots.slots.items()):
            if candidate is not old and not candidate.alive:
                candidate.wait_exit(1.0)
                slots.spawn(slot)
        time.sleep(0.002)
    return None


# -- 3: steady state ---------------------------------------------------------------------------
@dataclass
class SteadyResult:
    """One implementation, one fleet size, one repetition."""

    impl: Impl
    size: int
    settle_requests: int | None = None
    settle_seconds: float | None = None
    window: float = 0.0
    leader: dict[str, float] = field(default_factory=dict)
    """Per-minute rates of the leader: writes, reads, watches, other, total."""
    followers: list[dict[str, float]] = field(default_factory=list)
    leader_cpu: float | None = None
    """CPU seconds over the window."""
    follower_cpu: list[float] = field(default_factory=list)
    leader_rss: float | None = None
    follower_rss: list[float] = field(default_factory=list)
    leader_changes: int = 0
    """Elected events during the window (0 in a steady state)."""


def _rates(entries: Sequence[Any], seconds: float) -> dict[str, float]:
    per_minute = 60.0 / seconds
    counts: Counter[str] = Counter()
    for entry in entries:
        verb = entry.verb
        if verb in ("update", "create", "patch", "delete"):
            counts["writes"] += 1
        elif verb == "watch":
            counts["watches"] += 1
        elif verb in ("get", "list"):
            counts["reads"] += 1
        else:
            counts["other"] += 1
    rates = {key: counts[key] * per_minute for key in ("writes", "reads", "watches", "other")}
    rates["total"] = sum(rates.values())
    rates["beyond_watch"] = rates["total"] - rates["watches"]
    return rates


def run_steady(
    server: Any,
    settings: Settings,
    size: int,
    *,
    repeat: int,
    workdir: Path,
    log: Callable[[str], None],
) -> tuple[dict[Impl, SteadyResult], list[ProcessRecord]]:
    """Both implementations at ``size`` candidates: settle one after the other (each alone
    on the server), then a window of idle steady state measured for both at once. Returns
    the results and the processes' records (for the event checks)."""
    timing = settings.timing
    ld, rd, ri = timing.seconds()
    base = workdir / f"steady-{size}-{repeat}"
    results = {impl: SteadyResult(impl, size) for impl in IMPLS}
    fleets: dict[Impl, Fleet] = {}
    slots: dict[Impl, _Slots] = {}
    try:
        for impl in IMPLS:
            fleets[impl] = Fleet(base / impl, grace=rd + 10.0)
            slots[impl] = _Slots(
                server,
                fleets[impl],
                impl=impl,
                # A Lease of its own: the official client never releases, so a reused one
                # would make the next fleet wait out the previous fleet's last leader.
                lease=f"steady-{impl}-{size}-{repeat}",
                timing=timing,
                prefix=f"{impl}-s{size}r{repeat}",
            )
            gate = str(base / f"{impl}.go")
            for index in range(size):
                slots[impl].spawn(f"c{index}", start_file=gate)
        # Wait until every process has paid its imports and waits at its gate.
        armed_by = time.monotonic() + 60.0 + 2.0 * size
        for impl in IMPLS:
            for candidate in slots[impl].live():
                if (
                    candidate.wait_event(
                        lambda e: e.get("event") == "armed", armed_by - time.monotonic()
                    )
                    is None
                ):
                    raise RuntimeError(f"{candidate.identity} did not reach its start gate")
        for impl in IMPLS:
            result = results[impl]
            gate_opened = time.monotonic()
            (base / f"{impl}.go").touch()
            leader = slots[impl].wait_settled(4 * ld + 30.0, replace=False)
            settled = time.monotonic()
            if leader is None:
                log(f"  {impl} x{size}: did not settle")
                continue
            # When the last follower reported the leader (or the leader reported itself).
            times = [_event_time(leader, "elected")]
            times += [_event_time(c, "changed") for c in slots[impl].live() if c is not leader]
            settled = max(times)
            result.settle_seconds = settled - gate_opened
            # Watches still open are not in the log yet: count them from the in-flight list.
            arrived = server.requests.entries(since=gate_opened) + server.requests.in_flight()
            result.settle_requests = sum(
                1
                for e in arrived
                if e.user.startswith(slots[impl].prefix + "-")
                and gate_opened <= e.monotonic <= settled
            )
        time.sleep(2 * ri)
        window_start = time.monotonic()
        cpu_start = {c.identity: c.cpu_seconds() for impl in IMPLS for c in slots[impl].live()}
        time.sleep(settings.window)
        window_end = time.monotonic()
        for impl in IMPLS:
            result = results[impl]
            result.window = window_end - window_start
            prefix = slots[impl].prefix + "-"
            entries = [
                e
                for e in server.requests.entries(since=window_start)
                if e.monotonic < window_end and e.user.startswith(prefix)
            ]
            entries += [
                e
                for e in server.requests.in_flight()
                if window_start <= e.monotonic < window_end and e.user.startswith(prefix)
            ]
            for candidate in slots[impl].live():
                start_cpu = cpu_start.get(candidate.identity)
                end_cpu = candidate.cpu_seconds()
                cpu = None if start_cpu is None or end_cpu is None else end_cpu - start_cpu
                rss = candidate.peak_rss_mib()
                mine = [e for e in entries if e.user == candidate.name]
                rates = _rates(mine, result.window)
                if candidate.leading:
                    result.leader = rates
                    result.leader_cpu = cpu
                    result.leader_rss = rss
                else:
                    result.followers.append(rates)
                    if cpu is not None:
                        result.follower_cpu.append(cpu)
                    if rss is not None:
                        result.follower_rss.append(rss)
            result.leader_changes = sum(
                1
                for c in fleets[impl].candidates
                for e in c.snapshot()
                if e.get("event") == "elected" and window_start <= float(e["t"]) < window_end
            )
            log(
                f"  {impl} x{size}: settled in {result.settle_seconds or 0:.2f} s with "
                f"{result.settle_requests} requests; leader {result.leader.get('total', 0):.1f}"
                f"/min; follower "
                + (
                    f"{statistics.median(f['beyond_watch'] for f in result.followers):.1f}/min"
                    if result.followers
                    else "-"
                )
                + f"; leader CPU {result.leader_cpu} s"
            )
    finally:
        for fleet in fleets.values():
            fleet.close()
    records = [record for fleet in fleets.values() for record in _records(fleet)]
    return results, records


def _event_time(candidate: Candidate, kind: str) -> float:
    event = candidate.last(kind)
    return float(event["t"]) if event is not None else time.monotonic()


# -- 4: import time ----------------------------------------------------------------------------
IMPORTS = {
    "ours": "from leader_election import LeaderElectionModule",
    "official": (
        "from kubernetes.leaderelection import electionconfig, leaderelection\n"
        "from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock"
    ),
}


def measure_imports(runs: int) -> dict[str, list[float]]:
    """Seconds to import each library after ``import kubernetes``, in fresh interpreters;
    and ``kubernetes`` itself, for scale."""
    results: dict[str, list[float]] = {"kubernetes": [], "ours": [], "official": []}
    for _ in range(runs):
        for impl, statement in IMPORTS.items():
            program = (
                "import time\n"
                "t0 = time.perf_counter()\n"
                "import kubernetes\n"
                "t1 = time.perf_counter()\n"
                f"{statement}\n"
                "t2 = time.perf_counter()\n"
                "print(t1 - t0, t2 - t1)\n"
            )
            out = subprocess.run(
                [sys.executable, "-c", program],
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO_ROOT,
                timeout=120,
            ).stdout.split()
            results["kubernetes"].append(float(out[0]))
            results[impl].append(float(out[1]))
    return results
