"""A process whose ``BackgroundScheduler`` runs a job every 200 ms only while it leads:
``python apscheduler_candidate.py KUBECONFIG RUNS_FILE``.

Each run appends ``start START PID TOKEN`` when it begins and ``end START END PID TOKEN`` when
it returns (monotonic seconds; the fencing token of the run's term) to RUNS_FILE, one
``write`` each, so the test can tell which runs of which processes overlapped. A run takes
150 ms, so a SIGTERM most likely finds one in progress: the library's handler drains it and
releases, then this file's handler (chained after it) lets the process exit 0.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler

from leader_election import LeaderElectionModule
from leader_election.apscheduler import fencing_token, schedule_while_leader

kubeconfig, runs_path = sys.argv[1:3]
pid = os.getpid()
done = threading.Event()


def on_sigterm(signum: int, frame: object) -> None:
    # Chained after the library's handler: the jobs have drained and the Lease is released.
    done.set()


signal.signal(signal.SIGTERM, on_sigterm)
election = LeaderElectionModule.for_root(
    lease_name="apscheduler",
    kubeconfig=kubeconfig,
    renewal_interval=200,
    lease_duration=1000,
)
scheduler = BackgroundScheduler()


def append(line: str) -> None:
    fd = os.open(runs_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def job() -> None:
    start = time.monotonic()
    token = fencing_token(scheduler)
    append(f"start {start:.6f} {pid} {token}")
    time.sleep(0.15)
    append(f"end {start:.6f} {time.monotonic():.6f} {pid} {token}")


# A run due while this process did not lead runs once, at once, when it is elected.
scheduler.add_job(job, "interval", seconds=0.2, misfire_grace_time=None, coalesce=True)
schedule_while_leader(election, scheduler)
scheduler.start()
election.start()
print(f"ready {election.identity}", flush=True)
while not done.wait(0.5):
    pass
scheduler.shutdown()
print("exiting", flush=True)
