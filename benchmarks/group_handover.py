"""Benchmark of ``LeaderElectionGroup`` hand-offs (``make bench-groups``): 3 member processes,
12 Leases, a crash, a join and a graceful stop.

Against an embedded Lease API server in this process; each member a separate process with its
own user, running the group with its default process hooks (SIGTERM: drain, release, then the
default disposition) and a leader-only job per Lease (``harness.work``: samples while it
works, and a random 0-300 ms to finish after its term ends). A sampler reads every Lease
from the server every millisecond.

1. members A, B, C start together: the time until each holds 4 Leases;
2. SIGKILL C: the time until A and B hold 6 each (bound: lease duration + 2 renewal
   intervals after the kill);
3. member D joins: the time until each holds 4, and the longest time any Lease that moved
   had no holder (released by its old member, not yet taken by D);
4. SIGTERM A: its Leases move by release; per Lease, the time from A's job returning to the
   new holder's job starting (negative would be two jobs at once) and the time without holder;
5. at the end, every Lease's work samples from every member, checked as the chaos suite
   checks them: no two members' work on one Lease ever overlaps.

Prints a Markdown section (paste it into ``docs/benchmarks.md``); writes nothing else.
``BENCH_DEBUG=1`` makes the members log at debug level to stderr (wall-clock timestamps, to
merge the members' logs).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.checker import find_overlaps, read_action_logs, terms_from_samples  # noqa: E402
from leader_election.testing import LeaseAPIServer, wait_for  # noqa: E402

PREFIX = "handover"


# -- a member (run as a subprocess) --------------------------------------------------------------
def member_main(args: argparse.Namespace) -> int:
    from harness.work import WorkLog
    from leader_election import LeaderElectionGroup

    if os.environ.get("BENCH_DEBUG"):
        import logging

        logging.basicConfig(
            level=logging.DEBUG,
            format=f"%(created).3f {args.identity} %(threadName)s %(message)s",
        )
    group = LeaderElectionGroup.for_root(
        shards=args.leases,
        lease_prefix=PREFIX,
        identity=args.identity,
        kubeconfig=args.kubeconfig,
        renewal_interval=args.interval,
        lease_duration=args.lease_duration,
    )
    logs = {
        name: WorkLog(
            str(Path(args.workdir) / f"{args.identity}.{name}.work"),
            args.identity,
            stop_min=0.0,
            stop_max=0.3,
        )
        for name in group.lease_names
    }

    @group.run_while_leader
    def work(term: threading.Event, lease_name: str) -> None:
        logs[lease_name].run(term, getattr(term, "fencing_token", None))

    group.start()
    print(json.dumps({"started": time.monotonic()}), flush=True)
    threading.Event().wait()  # until a signal: the group's hooks drain and release
    return 0


# -- the driver ----------------------------------------------------------------------------------
class Sampler:
    """Reads every Lease's holder every millisecond; keeps each Lease's holder changes."""

    def __init__(self, server: LeaseAPIServer, names: list[str]) -> None:
        self.server = server
        self.names = names
        self.changes: dict[str, list[tuple[float, str]]] = {name: [] for name in names}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-lease-sampler")

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def holder(self, name: str) -> str:
        obj = self.server.get_object("leases", "default", name)
        return str((obj or {}).get("spec", {}).get("holderIdentity") or "")

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            now = time.monotonic()
            for name in self.names:
                holder = self.holder(name)
                changes = self.changes[name]
                if not changes or changes[-1][1] != holder:
                    changes.append((now, holder))

    def quiet(self, seconds: float) -> bool:
        """No holder changed for ``seconds``: the hand-offs of a step are over."""
        last = max((changes[-1][0] for changes in self.changes.values() if changes), default=0)
        return time.monotonic() - last >= seconds

    def counts(self) -> dict[str, int]:
        held: dict[str, int] = defaultdict(int)
        for name in self.names:
            held[self.holder(name)] += 1
        return dict(held)

    def holderless(self, since: float, moved_from: str) -> list[float]:
        """For each Lease that went from ``moved_from`` to another member after ``since``:
        seconds seen with no holder in between (0 when no sample fell in that window)."""
        gaps = []
        for changes in self.changes.values():
            previous = ""
            left_at: float | None = None  # when it was seen free after moved_from held it
            for t, holder in changes:
                if holder == moved_from:
                    left_at = None
                elif holder == "" and previous == moved_from and t >= since:
                    left_at = t
                elif holder not in ("", moved_from):
                    if left_at is not None:
                        gaps.append(t - left_at)
                    elif previous == moved_from and t >= since:
                        gaps.append(0.0)
                    left_at = None
                previous = holder
        return gaps


class Member:
    def __init__(
        self, identity: str, server: LeaseAPIServer, args: argparse.Namespace, workdir: str
    ) -> None:
        self.identity = identity
        kubeconfig = server.write_kubeconfig(
            Path(workdir) / f"{identity}.kubeconfig", user=identity
        )
        command = [sys.executable, __file__, "member", "--identity", identity]
        command += ["--kubeconfig", str(kubeconfig), "--workdir", workdir]
        command += ["--leases", str(args.leases), "--interval", str(args.interval)]
        command += ["--lease-duration", str(args.lease_duration)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _timed(what: str, predicate: Callable[[], bool], since: float, timeout: float = 120) -> float:
    wait_for(predicate, timeout, what=what, interval=0.001)
    return time.monotonic() - since


def settle(sampler: Sampler, interval: float) -> None:
    """Wait until no Lease moved for 3 renewal intervals, so a step's figures are its own."""
    wait_for(lambda: sampler.quiet(3 * interval), 60, what="the Leases to stay put")


def work_terms_by_lease(workdir: str, names: list[str]) -> dict[str, list[Any]]:
    terms = {}
    for name in names:
        samples, problems = read_action_logs(Path(workdir).glob(f"*.{name}.work"))
        if problems:
            raise SystemExit(f"malformed work logs: {problems[:3]}")
        terms[name] = terms_from_samples(samples)
    return terms


def driver_main(args: argparse.Namespace) -> int:
    names = [f"{PREFIX}-{i}" for i in range(args.leases)]
    interval = args.interval / 1000
    members: dict[str, Member] = {}
    figures: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as workdir,
        LeaseAPIServer() as server,
        Sampler(server, names) as sampler,
    ):
        try:
            share = -(-args.leases // 3)
            for identity in ("member-a", "member-b", "member-c"):
                members[identity] = Member(identity, server, args, workdir)
            last_start = time.monotonic()
            figures["balanced"] = _timed(
                "each of 3 members to hold its share",
                lambda: sorted(sampler.counts().values()) == [share] * 3,
                last_start,
            )
            settle(sampler, interval)

            killed = time.monotonic()
            members["member-c"].proc.kill()
            members["member-c"].proc.wait(10)
            half = args.leases // 2
            figures["after_kill"] = _timed(
                "A and B to take C's Leases",
                lambda: sampler.counts() == {"member-a": half, "member-b": half},
                killed,
            )
            settle(sampler, interval)

            joined = time.monotonic()
            members["member-d"] = Member("member-d", server, args, workdir)
            figures["join"] = _timed(
                "D to take its share",
                lambda: sorted(sampler.counts().values()) == [share] * 3,
                joined,
            )
            settle(sampler, interval)
            join_gaps = sampler.holderless(joined, "member-a") + sampler.holderless(
                joined, "member-b"
            )

            held_by_a = [n for n in names if sampler.holder(n) == "member-a"]
            terminated = time.monotonic()
            members["member-a"].proc.send_signal(signal.SIGTERM)
            status = members["member-a"].proc.wait(60)
            half = args.leases // 2
            figures["after_term"] = _timed(
                "B and D to take A's Leases",
                lambda: sampler.counts() == {"member-b": half, "member-d": half},
                terminated,
            )
            term_gaps = sampler.holderless(terminated, "member-a")
        finally:
            for member in members.values():
                member.close()
        terms = work_terms_by_lease(workdir, names)

    overlaps = {name: find_overlaps(t)[0] for name, t in terms.items()}
    cross = {
        name: [o for o in found if o.first.identity != o.second.identity]
        for name, found in overlaps.items()
    }
    # A's Leases after the SIGTERM: from A's last work sample to the next holder's first.
    handoffs = []
    for name in held_by_a:
        a_terms = [t for t in terms[name] if t.identity == "member-a"]
        later = [t for t in terms[name] if t.identity != "member-a" and t.start > terminated]
        if a_terms and later:
            handoffs.append(min(later, key=lambda t: t.start).start - a_terms[-1].end)

    lease_s = args.lease_duration / 1000
    print("## Groups: hand-offs between member processes")
    print()
    print(
        f"Measured by `make bench-groups` (`benchmarks/group_handover.py`): {args.leases} Leases, "
        f"`renewal_interval={args.interval}`, `lease_duration={args.lease_duration}` (ms); "
        "members are separate processes with the default process hooks; a sampler reads every "
        "Lease from the server each millisecond; each Lease's leader-only job needs 0-300 ms "
        "to finish after its term ends."
    )
    print()
    print("| step | figure |")
    print("| --- | --- |")
    print(
        f"| A, B, C start together: each holds {share} | {figures['balanced']:.2f} s after the "
        f"last start ({figures['balanced'] / interval:.1f} renewal intervals, a settle of "
        f"{min(interval, 2.0):g} s included) |"
    )
    bound = lease_s + 2 * interval
    print(
        f"| SIGKILL C: A and B hold {half} each | {figures['after_kill']:.2f} s after the kill "
        f"(bound: lease duration + 2 renewal intervals = {bound:.1f} s) |"
    )
    print(
        f"| D joins: each holds {share} | {figures['join']:.2f} s after D's process started; "
        f"{len(join_gaps)} Leases moved, longest without a holder "
        f"{1000 * max(join_gaps, default=0):.1f} ms |"
    )
    print(
        f"| SIGTERM A (exit status {status}): B and D hold {half} each | "
        f"{figures['after_term']:.2f} s; {len(term_gaps)} Leases released, longest without a "
        f"holder {1000 * max(term_gaps, default=0):.1f} ms; from A's job returning to the next "
        f"holder's job starting: {1000 * min(handoffs, default=0):.1f} to "
        f"{1000 * max(handoffs, default=0):.1f} ms |"
    )
    total = sum(len(t) for t in terms.values())
    print(
        f"| work of two members on one Lease at once | "
        f"{sum(len(c) for c in cross.values())} (over {total} job runs on {len(terms)} Leases) |"
    )
    bad = [name for name, found in cross.items() if found]
    if bad:
        for name in bad:
            for overlap in cross[name]:
                print(f"OVERLAP on {name}: {overlap.describe()}", file=sys.stderr)
        return 1
    if any(gap < 0 for gap in handoffs) or figures["after_kill"] > bound:
        print("a hand-off overlapped, or the crash took longer than its bound", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="driver", choices=("driver", "member"))
    parser.add_argument("--leases", type=int, default=12)
    parser.add_argument("--interval", type=int, default=500, help="renewal_interval (ms)")
    parser.add_argument("--lease-duration", type=int, default=2000, help="ms")
    parser.add_argument("--identity", default="member")
    parser.add_argument("--kubeconfig", default="")
    parser.add_argument("--workdir", default="")
    args = parser.parse_args(argv)
    return member_main(args) if args.role == "member" else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
