"""Our candidate process (``leader_election.testing.candidate``) with the harness's options.

``python -m harness.ours_candidate [HARNESS-OPTIONS] CANDIDATE-OPTIONS...``, where the harness
adds, before handing the rest to ``leader_election.testing.candidate``:

- ``--start-file PATH``: import everything first, print an ``armed`` event, then wait until
  PATH exists before the election starts, so a whole fleet starts electing at one instant
  without the cost of importing Python packages (seconds, for 25 processes on a small
  machine) blurring the start;
- ``--work-log PATH`` (with ``--work-stop-min``/``--work-stop-max`` seconds and
  ``--work-seed``): a ``run_while_leader`` job (``harness.work``) that logs samples while it
  works and needs a random stop time to return after its stop event.

The candidate program builds its module inside ``main()``. The harness takes the module from
the first ``leader.elected`` it sends (the sender *is* the module) and registers the job then:
``run_while_leader`` starts a job at once for the term in progress when called while leading,
and one for every later term by itself. Only public API is used, as an application would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from harness.work import WorkLog

__all__ = ["add_harness_arguments", "main", "wait_for_gate"]


def add_harness_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both candidate programs take beyond the election's own."""
    parser.add_argument("--start-file", help="start electing once this file exists")
    parser.add_argument("--work-log", help="run the leader-only work job; samples go here")
    parser.add_argument("--work-stop-min", type=float, default=0.0, help="seconds (default 0)")
    parser.add_argument("--work-stop-max", type=float, default=0.5, help="seconds (default 0.5)")
    parser.add_argument("--work-seed", type=int, help="seed of the job's stop times")


def wait_for_gate(start_file: str | None, identity: str) -> None:
    """Print ``armed``, then poll for ``start_file`` every 5 ms (no-op without a gate)."""
    if start_file is None:
        return
    record = {"t": time.monotonic(), "pid": os.getpid(), "identity": identity, "event": "armed"}
    print(json.dumps(record), flush=True)
    while not os.path.exists(start_file):
        time.sleep(0.005)


def _install_work_job(work: WorkLog) -> Any:
    """Register ``work`` with the module that sends the first ``leader.elected``."""
    from leader_election import LeaderElectionModule
    from leader_election.events import leader_elected

    registered = threading.Event()

    def job(module: LeaderElectionModule) -> Any:
        def work_while_leader(stop_event: threading.Event) -> None:
            # The token first, then the stop event: a later term's token is only published
            # after this term's stop event is set, so an unset event vouches for the token.
            token = module.fencing_token
            if token is None or stop_event.is_set():
                return  # the term ended before the job began
            work.run(stop_event, token)

        return work_while_leader

    def on_elected(sender: Any, **_: Any) -> None:
        if registered.is_set() or not isinstance(sender, LeaderElectionModule):
            return
        registered.set()
        sender.run_while_leader(job(sender), name="harness-work")

    leader_elected.connect(on_elected, weak=False)
    return on_elected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.ours_candidate", allow_abbrev=False)
    add_harness_arguments(parser)
    parser.add_argument("--identity")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    import kubernetes.client  # noqa: F401 - paid before the gate, as the official harness does

    from leader_election.testing import candidate

    identity = args.identity or ""
    if identity:
        rest += ["--identity", identity]
    if args.work_log:
        _install_work_job(
            WorkLog(
                args.work_log,
                identity or str(os.getpid()),
                stop_min=args.work_stop_min,
                stop_max=args.work_stop_max,
                seed=args.work_seed,
            )
        )
    wait_for_gate(args.start_file, identity)
    return candidate.main(rest)


if __name__ == "__main__":
    sys.exit(main())
