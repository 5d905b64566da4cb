"""Celery beat in real processes against the embedded server: ``celery beat -S
leader_election.celery:LeaderElectedScheduler`` replicas send a task due every 200 ms to
kombu's filesystem transport, where the test reads every message any of them sent: only the
leader sends, each message carries its term's fencing token, a SIGKILLed leader is replaced
after its Lease expires and a SIGTERMed one releases at once."""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from leader_election.celery import FENCING_TOKEN_HEADER
from leader_election.testing import LeaseAPIServer, wait_for

from .conftest import base_env
from .runs import Run, terms

pytestmark = [pytest.mark.processes, pytest.mark.slow]

LEASE_DURATION = 1.0


def sent(broker: Path) -> list[Run]:
    """Every message in the broker's folder as a zero-length run: (sent at, pid, token).

    kombu names each file after the monotonic time of the send, in milliseconds; a file still
    being written is read again next time.
    """
    runs: list[Run] = []
    for path in sorted((broker / "out").glob("*.msg")):
        try:
            message = json.loads(path.read_text())
        except ValueError:
            continue
        headers = message["headers"]
        at = int(path.name.split("_", 1)[0]) / 1000
        origin = re.fullmatch(r"gen(\d+)@.*", headers["origin"])
        assert origin is not None, headers["origin"]
        assert headers["task"] == "celery_beat_app.record"
        runs.append(Run(at, at, int(origin[1]), int(headers[FENCING_TOKEN_HEADER])))
    return runs


def test_only_the_leading_beat_sends_through_sigkill_and_sigterm(
    server: LeaseAPIServer, services: Any, tmp_path: Path
) -> None:
    broker = tmp_path / "broker"
    (broker / "out").mkdir(parents=True)
    (broker / "control").mkdir()
    kubeconfig = server.write_kubeconfig(tmp_path / "beat.kubeconfig")
    env = base_env(BEAT_KUBECONFIG=str(kubeconfig), BEAT_BROKER_DIR=str(broker))

    def beat(name: str) -> Any:
        argv = [sys.executable, "-m", "celery", "-A", "celery_beat_app", "beat"]
        argv += ["-S", "leader_election.celery:LeaderElectedScheduler", "--loglevel", "INFO"]
        argv += ["-s", str(tmp_path / f"schedule-{name}")]
        return services(argv, env=env)

    first, second = beat("first"), beat("second")
    by_pid = {first.pid: first, second.pid: second}

    # 1. One replica sends; the other's ticks send nothing.
    wait_for(lambda: len(sent(broker)) >= 5, 30, what="five messages")
    leader_pid = sent(broker)[-1].pid
    assert {run.pid for run in sent(broker)} == {leader_pid}
    follower_pid = (set(by_pid) - {leader_pid}).pop()

    # 2. SIGKILL the leader: the other replica sends once the Lease expired.
    killed_at = time.monotonic()
    by_pid[leader_pid].signal(signal.SIGKILL)
    by_pid[leader_pid].wait(10)

    def sent_by(pid: int) -> list[float]:
        return [run.start for run in sent(broker) if run.pid == pid]

    wait_for(lambda: sent_by(follower_pid), 15, what="the second replica's first message")
    takeover_after_kill = min(sent_by(follower_pid)) - killed_at
    assert takeover_after_kill >= LEASE_DURATION * 0.5, takeover_after_kill

    # 3. A third replica joins; SIGTERM the leader: it releases, the newcomer sends at once.
    third = beat("third")
    wait_for(lambda: "competes for lease" in third.output(), 30, what="the third replica")
    wait_for(lambda: len(sent_by(follower_pid)) >= 3, 10, what="the second leader sending")
    terminated_at = time.monotonic()
    by_pid[follower_pid].signal(signal.SIGTERM)
    assert by_pid[follower_pid].wait(15) == 0, by_pid[follower_pid].output()
    exited_after = time.monotonic() - terminated_at
    assert "stopped competing" in by_pid[follower_pid].output()
    last_of_second = max(sent_by(follower_pid))
    assert last_of_second <= time.monotonic()
    wait_for(lambda: sent_by(third.pid), 15, what="the third replica's first message")
    handover = min(sent_by(third.pid)) - max(last_of_second, terminated_at)
    # Released, not expired: an expiry takes a whole lease duration after the last renewal.
    assert 0 <= handover < LEASE_DURATION, handover
    wait_for(lambda: len(sent_by(third.pid)) >= 3, 10, what="the third leader sending")

    # 4. Every message: one replica per term, tokens strictly increasing, no interleaving.
    seen = terms(sent(broker))
    assert [pid for _, pid in seen] == [leader_pid, follower_pid, third.pid], seen
    print(
        f"takeover after SIGKILL {takeover_after_kill:.3f} s; SIGTERM to exit "
        f"{exited_after:.3f} s; next leader's first message "
        f"{handover:.3f} s after the SIGTERM; {len(sent(broker))} messages; terms {seen}"
    )
