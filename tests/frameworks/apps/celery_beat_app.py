"""A Celery app for ``celery beat -S leader_election.celery:LeaderElectedScheduler`` against the
embedded server: one task due every 200 ms, sent to kombu's filesystem transport so that the
test can read every message any beat process sent.

Environment: ``BEAT_KUBECONFIG`` (the embedded server), ``BEAT_BROKER_DIR`` (the messages),
``BEAT_LEASE`` (default ``beat``).
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

broker = Path(os.environ["BEAT_BROKER_DIR"])
app = Celery("celery_beat_app")
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={
        "data_folder_in": str(broker / "out"),
        "data_folder_out": str(broker / "out"),
        "control_folder": str(broker / "control"),
    },
    beat_schedule={"every-200-ms": {"task": "celery_beat_app.record", "schedule": 0.2}},
    # The follower's tick interval is min(renewal_interval, this).
    beat_max_loop_interval=1,
    leader_election_lease_name=os.environ.get("BEAT_LEASE", "beat"),
    leader_election_kubeconfig=os.environ["BEAT_KUBECONFIG"],
    leader_election_renewal_interval=200,
    leader_election_lease_duration=1000,
)


@app.task(name="celery_beat_app.record")
def record() -> None:
    """Never run: the test reads what beat sent, no worker consumes it."""
