"""A candidate process: ``python -m leader_election.testing.candidate --kubeconfig PATH ...``.

One ``LeaderElectionModule`` in a process of its own, reporting every event as a JSON line on
stdout (with ``time.monotonic()``, which all processes on a Linux machine share). The demo,
the multi-process tests, the benchmarks and the chaos suite start it; so can you, to watch a
failover against ``leader-election serve``.

With ``--action-log PATH`` it also runs a *protected action loop*: every few milliseconds,
while leader, it appends ``monotonic-time identity fencing-token`` to PATH. The time is read
between two checks that see the same term (``fencing_token``), so a logged time always lies
inside a term in which this process was entitled to act; merged logs of all candidates must
never interleave. The write itself may come later (a pause between check and write is the
classic hazard that only fencing tokens guard against), but the logged time stays entitled.

SIGTERM and SIGINT stop the module (a leader releases the Lease) and exit with status 0; the
``exit`` event lists the threads still alive after ``stop()`` (none, when all went well).

The other side of the protocol is here too: ``read_events`` reads such lines from a candidate's
stdout, for every program that starts candidates (the demo, the integration tests, and
``harness/fleet.py`` for the chaos suite and the benchmarks).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from leader_election.clock import SkewedClock, SystemClock
from leader_election.events import (
    LeaderChangedEvent,
    LeaderElectedEvent,
    LeaderLostEvent,
    leader_changed,
    leader_elected,
    leader_lost,
)
from leader_election.module import LeaderElectionModule

__all__ = ["main", "parse_event", "read_events"]


class _Reporter:
    """Writes one JSON object per line to ``out``, thread-safely, flushed at once."""

    def __init__(self, out: TextIO, identity: str) -> None:
        self._out = out
        self._identity = identity
        self._lock = threading.Lock()

    def __call__(self, kind: str, **fields: Any) -> None:
        record = {"t": time.monotonic(), "pid": os.getpid(), "identity": self._identity}
        record["event"] = kind
        record.update(fields)
        line = json.dumps(record)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def parse_event(line: str) -> dict[str, Any] | None:
    """One event line as a dict; None for a blank line.

    A line that is not a JSON object (a stray ``print``, a traceback reaching stdout) becomes
    ``{"t": <now>, "event": "raw", "line": ...}`` rather than being lost or raising.
    """
    text = line.strip()
    if not text:
        return None
    try:
        event = json.loads(text)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        return {"t": time.monotonic(), "event": "raw", "line": text}
    return event


def read_events(
    lines: Iterable[str],
    on_event: Callable[[dict[str, Any]], None],
    *,
    copy_to: TextIO | None = None,
) -> None:
    """Read a candidate's event lines until end of file, calling ``on_event`` for each.

    Meant as the target of a reader thread over ``process.stdout``; ``copy_to`` also receives
    every non-blank line as it arrived (a post-mortem copy of the stream).
    """
    for line in lines:
        event = parse_event(line)
        if event is None:
            continue
        if copy_to is not None:
            copy_to.write(line.strip() + "\n")
        on_event(event)


def _protected_loop(
    election: LeaderElectionModule, path: str, stop: threading.Event, period: float
) -> None:
    with open(path, "a", buffering=1, encoding="utf-8") as log:
        while not stop.is_set():
            # The same term before and after reading the clock: a term is one unbroken
            # interval (a new one gets a new token), so it covers `now`. Checking only after
            # would be wrong at a term's start: a pause between reading the clock and the
            # check could date an action before the term that allowed it began.
            before = election.fencing_token
            now = time.monotonic()
            after = election.fencing_token
            if before is not None and before == after:
                log.write(f"{now:.6f} {election.identity} {after}\n")
            stop.wait(period)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m leader_election.testing.candidate",
        description="Run one leader-election candidate and report its events as JSON lines.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig to connect with (default: as usual)")
    parser.add_argument("--lease", default="demo", help="Lease name (default: demo)")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--identity", help="holder identity (default: unique per process)")
    parser.add_argument(
        "--renewal-interval", type=float, default=1000, help="milliseconds (default 1000)"
    )
    parser.add_argument("--lease-duration", type=float, help="milliseconds")
    parser.add_argument("--renew-deadline", type=float, help="milliseconds")
    parser.add_argument(
        "--no-release", action="store_true", help="do not release the Lease on stop"
    )
    parser.add_argument(
        "--wall-clock-skew",
        type=float,
        default=0.0,
        help="shift this candidate's wall clock by SECONDS (monotonic time is untouched)",
    )
    parser.add_argument("--action-log", help="append protected actions to this file")
    parser.add_argument(
        "--action-period", type=float, default=0.002, help="seconds between protected actions"
    )
    parser.add_argument(
        "--run-for", type=float, help="stop by itself after SECONDS (default: run until signal)"
    )
    parser.add_argument(
        "--log-level",
        help="log the library at this level (DEBUG, INFO, ...) to stderr, each line stamped "
        "with time.monotonic() like the events",
    )
    return parser


def _log_to_stderr(level: str) -> None:
    class _Monotonic(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"{time.monotonic():.6f} {record.threadName} {super().format(record)}"

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Monotonic("%(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("leader_election")
    package.addHandler(handler)
    package.setLevel(level.upper())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.log_level:
        _log_to_stderr(args.log_level)
    options: dict[str, Any] = {
        "lease_name": args.lease,
        "namespace": args.namespace,
        "renewal_interval": args.renewal_interval,
        "release_on_stop": not args.no_release,
        "clock": SkewedClock(args.wall_clock_skew) if args.wall_clock_skew else SystemClock(),
    }
    for key in ("identity", "kubeconfig", "lease_duration", "renew_deadline"):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    election = LeaderElectionModule.for_root(**options)
    report = _Reporter(sys.stdout, election.identity)
    stop = threading.Event()

    def on_elected(_sender: Any, *, event: LeaderElectedEvent) -> None:
        report("elected", token=event.fencing_token, standalone=event.standalone, since=event.since)

    def on_lost(_sender: Any, *, event: LeaderLostEvent) -> None:
        report("lost", token=event.fencing_token, reason=event.reason.value)

    def on_changed(_sender: Any, *, event: LeaderChangedEvent) -> None:
        report("changed", leader=event.leader)

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    # Installed before start(): the library's handler releases first, then chains to ours.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    leader_elected.connect(on_elected, sender=election)
    leader_lost.connect(on_lost, sender=election)
    leader_changed.connect(on_changed, sender=election)
    election.start()
    report(
        "ready",
        wall=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        lease=f"{args.namespace}/{args.lease}",
    )
    worker = None
    if args.action_log:
        worker = threading.Thread(
            target=_protected_loop,
            args=(election, args.action_log, stop, args.action_period),
            name="leader-election-candidate-actions",
        )
        worker.start()
    deadline = None if args.run_for is None else time.monotonic() + args.run_for
    while not stop.is_set():
        remaining = 1.0 if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            break
        stop.wait(min(remaining, 1.0))
    stop.set()
    if worker is not None:
        worker.join(5.0)
    election.stop()
    # Threads still alive after stop() would have been cut off by the exit: name them so the
    # chaos checker can fail a run that leaves one behind.
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    report("exit", threads=others)
    return 0


if __name__ == "__main__":
    sys.exit(main())
