"""The official client's candidate process, reporting the same JSON event lines as ours.

``python -m harness.official_candidate --kubeconfig PATH --lease NAME --identity X
--lease-duration MS --renew-deadline MS --renewal-interval MS [--action-log FILE]
[--wall-clock-skew S] [--start-file PATH] [--work-log FILE --work-stop-min S --work-stop-max S]``

It runs ``kubernetes.leaderelection`` as shipped: ``LeaseLock`` on the default configuration
(``load_kube_config``), ``electionconfig.Config`` with the same lease duration, renew deadline
and retry period (= our renewal interval), and ``LeaderElection(config).run()`` once, as the
package's example does. What the harness adds only *observes*:

- ``elected`` when ``onstarted_leading`` is called, ``lost`` when ``onstopped_leading`` is;
- ``changed`` when the lock's ``get`` returns a new holder (client-go's OnNewLeader, which the
  Python client lacks), by subclassing ``LeaseLock`` without changing a request;
- with ``--action-log``, the protected action loop: the official API has no ``is_leader``, so
  the loop acts while the flag set by ``onstarted_leading`` and cleared by
  ``onstopped_leading`` is up — all a user of this API can go by. No fencing token exists
  (the client never writes ``leaseTransitions``), so the log says ``-``;
- with ``--work-log``, the leader-only work job (``harness.work``): started in
  ``onstarted_leading``, told to stop in ``onstopped_leading``;
- ``--wall-clock-skew`` shifts the wall clock the election module reads (``time.time``) by
  replacing its ``time`` module reference with a shifted one; monotonic time is untouched.

There is no stop path: SIGTERM keeps Python's default disposition and ends the process at
once, without releasing the Lease. When ``run()`` returns (leadership lost) the process
prints ``exit`` and ends, as the shipped example does.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import threading
import time
import types
from collections.abc import Sequence
from typing import Any, TextIO

from harness.ours_candidate import add_harness_arguments, wait_for_gate
from harness.work import WorkLog


class _Reporter:
    def __init__(self, out: TextIO, identity: str) -> None:
        self._out = out
        self._identity = identity
        self._lock = threading.Lock()

    def __call__(self, kind: str, **fields: Any) -> None:
        record: dict[str, Any] = {"t": time.monotonic(), "pid": os.getpid()}
        record["identity"] = self._identity
        record["event"] = kind
        record.update(fields)
        line = json.dumps(record)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def _skewed_time_module(offset: float) -> types.SimpleNamespace:
    """A stand-in for the ``time`` module whose ``time()`` is ``offset`` seconds off."""
    return types.SimpleNamespace(
        time=lambda: time.time() + offset,
        sleep=time.sleep,
        monotonic=time.monotonic,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.official_candidate")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--lease", default="demo")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--identity", required=True)
    parser.add_argument("--lease-duration", type=float, required=True, help="milliseconds")
    parser.add_argument("--renew-deadline", type=float, required=True, help="milliseconds")
    parser.add_argument(
        "--renewal-interval", type=float, required=True, help="retry period, milliseconds"
    )
    parser.add_argument("--action-log")
    parser.add_argument("--action-period", type=float, default=0.002)
    parser.add_argument("--wall-clock-skew", type=float, default=0.0)
    add_harness_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Imported here so that --help stays fast; the import cost is paid before the gate.
    from kubernetes import config
    from kubernetes.leaderelection import electionconfig, leaderelection
    from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

    lease_duration = args.lease_duration / 1000
    if lease_duration != int(lease_duration):
        # The client writes str(lease_duration) and parses it back with int().
        print(f"--lease-duration must be whole seconds, got {args.lease_duration} ms")
        return 2
    if args.wall_clock_skew:
        # The module reads time.time() for every expiry and renew deadline.
        setattr(leaderelection, "time", _skewed_time_module(args.wall_clock_skew))  # noqa: B010

    report = _Reporter(sys.stdout, args.identity)
    leading = threading.Event()
    stop_actions = threading.Event()

    class ObservingLeaseLock(LeaseLock):
        """LeaseLock that reports a new holder when a read shows one (no extra request)."""

        reported: str | None = None

        def get(self, name: str, namespace: str) -> Any:
            ok, record = super().get(name, namespace)
            if ok and record is not None:
                holder = record.holder_identity or None
                if holder != self.reported:
                    self.reported = holder
                    report("changed", leader=holder)
            return ok, record

    work = (
        WorkLog(
            args.work_log,
            args.identity,
            stop_min=args.work_stop_min,
            stop_max=args.work_stop_max,
            seed=args.work_seed,
        )
        if args.work_log
        else None
    )
    jobs: list[tuple[threading.Thread, threading.Event]] = []

    def on_started() -> None:
        leading.set()
        report("elected", token=None, standalone=False)
        if work is not None:
            # What a user of this API can do for run_while_leader: a thread started here,
            # told to stop from onstopped_leading. There is no fencing token to give it.
            stop_work = threading.Event()
            thread = threading.Thread(
                target=work.run, args=(stop_work, None), name="official-candidate-work"
            )
            jobs.append((thread, stop_work))
            thread.start()

    def on_stopped() -> None:
        leading.clear()
        for _, stop_work in jobs:
            stop_work.set()
        report("lost", token=None, reason="renew_failed")

    config.load_kube_config(config_file=args.kubeconfig)
    lock = ObservingLeaseLock(args.lease, args.namespace, args.identity)
    election_config = electionconfig.Config(
        lock,
        lease_duration=int(lease_duration),
        renew_deadline=args.renew_deadline / 1000,
        retry_period=args.renewal_interval / 1000,
        onstarted_leading=on_started,
        onstopped_leading=on_stopped,
    )
    election = leaderelection.LeaderElection(election_config)
    wait_for_gate(args.start_file, args.identity)

    worker = None
    if args.action_log:

        def act() -> None:
            with open(args.action_log, "a", buffering=1, encoding="utf-8") as log:
                while not stop_actions.is_set():
                    # Between two checks, as in our candidate (one term per process here).
                    before = leading.is_set()
                    now = time.monotonic()
                    if before and leading.is_set():
                        log.write(f"{now:.6f} {args.identity} -\n")
                    stop_actions.wait(args.action_period)

        worker = threading.Thread(target=act, name="official-candidate-actions", daemon=True)
        worker.start()

    report(
        "ready",
        wall=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        lease=f"{args.namespace}/{args.lease}",
    )
    status = 0
    try:
        election.run()
        reason = "run() returned"
    except Exception as exc:  # noqa: BLE001 - what a user's process would die of, reported
        reason = f"run() raised {type(exc).__name__}: {exc}"
        status = 1
    stop_actions.set()
    if worker is not None:
        worker.join(5.0)
    for thread, stop_work in jobs:
        stop_work.set()
        thread.join(5.0)
    alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    report("exit", reason=reason, threads=alive)
    return status


if __name__ == "__main__":
    sys.exit(main())
