"""Benchmark of ``LeaderElectionGroup`` (``make bench-groups``): many Leases, one process.

Against an embedded Lease API server in this process, each member a separate process (so its
threads, CPU and memory are its own):

1. member A starts with ``--leases`` Leases (default 1000) and takes them all;
2. **idle A**: over ``--window`` seconds, A's threads (those of the library), CPU (user +
   system, % of one core), RSS, and its API requests per minute, next to the formula
   ``(Leases held + 1 heartbeat) x 60 / renewal interval``;
3. member B joins: the **time to rebalance** until each holds half;
4. **idle A + B**: the same figures for both.

Prints a Markdown table (paste it into ``docs/benchmarks.md``); writes nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leader_election.testing import LeaseAPIServer, wait_for  # noqa: E402 - after the path fix


# -- a member (run as a subprocess) ------------------------------------------------------------
def member_main(args: argparse.Namespace) -> int:
    from leader_election import LeaderElectionGroup

    group = LeaderElectionGroup.for_root(
        shards=args.leases,
        lease_prefix="bench",
        identity=args.identity,
        kubeconfig=args.kubeconfig,
        renewal_interval=args.interval,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with group:
        while not stop.wait(1.0):
            usage = resource.getrusage(resource.RUSAGE_SELF)
            with open("/proc/self/statm", encoding="ascii") as statm:
                rss_pages = int(statm.read().split()[1])
            report = {
                "held": len(group.held),
                "members": len(group.members),
                "threads": sum(
                    1 for t in threading.enumerate() if t.name.startswith("leader-election")
                ),
                "cpu": usage.ru_utime + usage.ru_stime,
                "rss_mib": rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20,
                "at": time.monotonic(),
            }
            print(json.dumps(report), flush=True)
    return 0


# -- the driver ----------------------------------------------------------------------------------
class Member:
    """A member process and its latest report."""

    def __init__(self, identity: str, server: LeaseAPIServer, args: argparse.Namespace) -> None:
        self.identity = identity
        self.latest: dict[str, Any] = {}
        kubeconfig = server.write_kubeconfig(
            Path(args.tmp) / f"{identity}.kubeconfig", user=identity
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "member",
                "--identity",
                identity,
                "--kubeconfig",
                kubeconfig,
                "--leases",
                str(args.leases),
                "--interval",
                str(args.interval),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name=f"bench-reader-{identity}")
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.latest = json.loads(line)
            except ValueError:
                continue

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(10)


def measure(
    server: LeaseAPIServer, members: list[Member], window: float, interval_s: float
) -> list[dict[str, Any]]:
    start = {m.identity: dict(m.latest) for m in members}
    since = time.monotonic()
    time.sleep(window)  # the measurement window itself: figures are rates over it
    rows = []
    for m in members:
        end = m.latest
        wall = end["at"] - start[m.identity]["at"]
        requests = server.requests.count(since=since, user=m.identity)
        watches = server.requests.count(since=since, user=m.identity, verb="watch")
        rows.append(
            {
                "member": m.identity,
                "held": end["held"],
                "threads": end["threads"],
                "cpu_percent": 100 * (end["cpu"] - start[m.identity]["cpu"]) / wall,
                "rss_mib": end["rss_mib"],
                "requests_per_min": (requests - watches) * 60 / window,
                "formula_per_min": (end["held"] + 1) * 60 / interval_s,
            }
        )
    return rows


def driver_main(args: argparse.Namespace) -> int:
    interval_s = args.interval / 1000
    members: list[Member] = []
    with tempfile.TemporaryDirectory() as tmp, LeaseAPIServer(request_log_size=2_000_000) as server:
        args.tmp = tmp
        try:
            a = Member("member-a", server, args)
            members.append(a)
            started = time.monotonic()
            wait_for(lambda: a.latest.get("held") == args.leases, 300, what="A holds all")
            took_all = time.monotonic() - started
            idle_one = measure(server, [a], args.window, interval_s)
            b = Member("member-b", server, args)
            members.append(b)
            joined = time.monotonic()
            half = args.leases // 2
            wait_for(
                lambda: a.latest.get("held") == args.leases - half and b.latest.get("held") == half,
                300,
                what="A and B hold half each",
            )
            rebalance = time.monotonic() - joined
            idle_two = measure(server, [a, b], args.window, interval_s)
        finally:
            for m in members:
                m.close()
    print(f"Leases: {args.leases}; renewal_interval: {args.interval} ms; window {args.window} s")
    print(
        f"A alone took all Leases in {took_all:.1f} s; B joining: rebalanced in {rebalance:.1f} s"
    )
    print()
    print(
        "| phase | member | Leases held | threads | CPU (% of a core) | RSS (MiB) "
        "| requests/min | formula (held+1)/interval |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for phase, rows in (("A alone", idle_one), ("A + B", idle_two)):
        for row in rows:
            print(
                f"| {phase} | {row['member']} | {row['held']} | {row['threads']} "
                f"| {row['cpu_percent']:.1f} | {row['rss_mib']:.0f} "
                f"| {row['requests_per_min']:.0f} | {row['formula_per_min']:.0f} |"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="driver", choices=("driver", "member"))
    parser.add_argument("--leases", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=5000, help="renewal_interval (ms)")
    parser.add_argument("--window", type=float, default=30.0, help="idle window (s)")
    parser.add_argument("--identity", default="member")
    parser.add_argument("--kubeconfig", default="")
    args = parser.parse_args(argv)
    return member_main(args) if args.role == "member" else driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
