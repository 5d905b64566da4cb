"""A group candidate: one ``LeaderElectionGroup`` over K Leases, for the chaos group profile.

``python -m harness.group_candidate --kubeconfig PATH --lease-prefix P --shards K
--identity ID --lease-duration MS --renew-deadline MS --renewal-interval MS
[--wall-clock-skew S] [--action-log PATH] [--log-level LEVEL] [HARNESS-OPTIONS]``

It speaks the single-Lease candidate's protocol (``leader_election.testing.candidate``), once
per Lease of the group (``P-0`` ... ``P-(K-1)``), every record naming its Lease:

- JSON event lines on stdout: ``ready`` (with ``leases``), then ``elected`` (``token``,
  ``since``), ``lost`` (``token``, ``reason``) and ``changed`` (``leader``), each with
  ``lease``, and ``exit`` (``threads`` still alive after ``stop()``);
- ``--action-log PATH``: one protected action loop for the whole group which, every few
  milliseconds, appends ``monotonic-time identity fencing-token lease=NAME`` for each Lease
  it leads, the time read between two reads of that Lease's token that agree (as the
  single-Lease loop does). One thread rather than one per Lease: K loops waking every 2 ms
  in each of several processes would crowd a small machine;
- ``--work-log PATH`` (``harness.ours_candidate``'s harness options): the leader-only job of
  ``harness.work`` registered with ``group.run_while_leader``, so it runs once per term and
  Lease, its samples carrying ``lease=NAME``.

SIGTERM and SIGINT stop the group as an application's shutdown hook would (with
``handle_signals=False``): ``group.stop()`` drains and releases every Lease it leads, and the
process exits 0 once it returned. Only public API is used.
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
from collections.abc import Sequence
from typing import Any, TextIO

from harness.ours_candidate import add_harness_arguments, wait_for_gate
from harness.work import WorkLog

__all__ = ["main"]


class _Reporter:
    """One JSON object per line on ``out``, thread-safe and flushed at once."""

    def __init__(self, out: TextIO, identity: str) -> None:
        self._out = out
        self._identity = identity
        self._lock = threading.Lock()

    def __call__(self, kind: str, **fields: Any) -> None:
        record: dict[str, Any] = {
            "t": time.monotonic(),
            "pid": os.getpid(),
            "identity": self._identity,
            "event": kind,
        }
        record.update(fields)
        line = json.dumps(record)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness.group_candidate",
        description="Run one member of a LeaderElectionGroup and report its events per Lease.",
        allow_abbrev=False,
    )
    add_harness_arguments(parser)
    parser.add_argument("--kubeconfig", help="kubeconfig to connect with (default: as usual)")
    parser.add_argument("--lease-prefix", default="chaos", help="Leases PREFIX-0 ... PREFIX-K-1")
    parser.add_argument("--shards", type=int, default=3, help="how many Leases (default 3)")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--identity", help="holder identity (default: unique per process)")
    parser.add_argument("--renewal-interval", type=float, default=1000, help="milliseconds")
    parser.add_argument("--lease-duration", type=float, help="milliseconds")
    parser.add_argument("--renew-deadline", type=float, help="milliseconds")
    parser.add_argument(
        "--wall-clock-skew",
        type=float,
        default=0.0,
        help="shift this member's wall clock by SECONDS (monotonic time is untouched)",
    )
    parser.add_argument("--action-log", help="append protected actions to this file")
    parser.add_argument(
        "--action-period", type=float, default=0.002, help="seconds between protected actions"
    )
    parser.add_argument(
        "--log-level", help="log the library at this level to stderr, stamped with monotonic"
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


def _protected_loop(group: Any, path: str, stop: threading.Event, period: float) -> None:
    names: tuple[str, ...] = group.lease_names
    identity: str = group.identity
    with open(path, "a", buffering=1, encoding="utf-8") as log:
        while not stop.is_set():
            for name in names:
                # The same term before and after reading the clock, per Lease: a term is one
                # unbroken interval, so it covers `now` (see the single-Lease candidate).
                before = group.fencing_token(name)
                now = time.monotonic()
                after = group.fencing_token(name)
                if before is not None and before == after:
                    log.write(f"{now:.6f} {identity} {after} lease={name}\n")
            stop.wait(period)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    # Imports paid before the start gate, as the other candidate programs do.
    from leader_election import (
        LeaderChangedEvent,
        LeaderElectedEvent,
        LeaderElectionGroup,
        LeaderLostEvent,
        SkewedClock,
        SystemClock,
        Term,
        leader_changed,
        leader_elected,
        leader_lost,
    )

    if args.log_level:
        _log_to_stderr(args.log_level)
    options: dict[str, Any] = {
        "shards": args.shards,
        "lease_prefix": args.lease_prefix,
        "namespace": args.namespace,
        "renewal_interval": args.renewal_interval,
        "clock": SkewedClock(args.wall_clock_skew) if args.wall_clock_skew else SystemClock(),
        # Our own handler below is the one stop path, whether or not the library would
        # install one: the exit event must follow a stop() that returned.
        "handle_signals": False,
    }
    for key in ("identity", "kubeconfig", "lease_duration", "renew_deadline"):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    group = LeaderElectionGroup.for_root(**options)
    report = _Reporter(sys.stdout, group.identity)
    stop = threading.Event()

    if args.work_log:
        work = WorkLog(
            args.work_log,
            group.identity,
            stop_min=args.work_stop_min,
            stop_max=args.work_stop_max,
            seed=args.work_seed,
        )

        def work_while_leader(term: Term, lease_name: str) -> None:
            if term.is_set():
                return  # the term ended before the job began
            work.run(term, term.fencing_token, lease=lease_name)

        group.run_while_leader(work_while_leader, name="harness-work")

    def on_elected(_sender: Any, *, event: LeaderElectedEvent) -> None:
        report(
            "elected",
            lease=event.lease_name,
            token=event.fencing_token,
            standalone=event.standalone,
            since=event.since,
        )

    def on_lost(_sender: Any, *, event: LeaderLostEvent) -> None:
        report("lost", lease=event.lease_name, token=event.fencing_token, reason=event.reason.value)

    def on_changed(_sender: Any, *, event: LeaderChangedEvent) -> None:
        report("changed", lease=event.lease_name, leader=event.leader)

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    # Before the gate and start(): a SIGTERM from then on is a graceful stop, not a death.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    leader_elected.connect(on_elected, sender=group)
    leader_lost.connect(on_lost, sender=group)
    leader_changed.connect(on_changed, sender=group)
    wait_for_gate(args.start_file, group.identity)
    worker: threading.Thread | None = None
    try:
        group.start()
        report(
            "ready",
            wall=datetime.datetime.now(datetime.timezone.utc).isoformat(),
            leases=list(group.lease_names),
            namespace=group.namespace,
        )
        if args.action_log:
            worker = threading.Thread(
                target=_protected_loop,
                args=(group, args.action_log, stop, args.action_period),
                name="harness-group-candidate-actions",
            )
            worker.start()
        while not stop.wait(1.0):
            pass
    finally:
        stop.set()
        if worker is not None:
            worker.join(5.0)
        group.stop()
        for signal_, receiver in (
            (leader_elected, on_elected),
            (leader_lost, on_lost),
            (leader_changed, on_changed),
        ):
            signal_.disconnect(receiver, sender=group)
    # Threads still alive after stop() would be cut off by the exit: name them, so the
    # checker can fail a run that leaves one behind.
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    report("exit", threads=others)
    return 0


if __name__ == "__main__":
    sys.exit(main())
