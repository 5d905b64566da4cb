"""``leader-election demo``: candidates electing and failing over, on your screen.

Starts the embedded Lease API server, three candidate processes
(``leader_election.testing.candidate``), and narrates what happens: one is elected, the leader
is killed with SIGKILL (no chance to release: the others wait for the Lease to expire), the new
leader is stopped with SIGTERM (it releases: the handover is immediate). Exits by itself in
well under a minute and leaves no process behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leader_election.testing.candidate import read_events
from leader_election.testing.server import LeaseAPIServer

__all__ = ["run_demo"]

LEASE = "demo"
RENEWAL_MS = 500
LEASE_MS = 2000


class _Candidate:
    def __init__(
        self, name: str, kubeconfig: str, on_event: Callable[[_Candidate, dict[str, Any]], None]
    ) -> None:
        self.name = name
        self.on_event = on_event
        self.leading = False
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "leader_election.testing.candidate",
                "--kubeconfig",
                kubeconfig,
                "--lease",
                LEASE,
                "--identity",
                name,
                "--renewal-interval",
                str(RENEWAL_MS),
                "--lease-duration",
                str(LEASE_MS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, name=f"demo-reader-{name}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        read_events(self.proc.stdout, self._on_line)

    def _on_line(self, event: dict[str, Any]) -> None:
        if event.get("event") == "elected":
            self.leading = True
        elif event.get("event") == "lost":
            self.leading = False
        self.on_event(self, event)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_demo(out: Callable[[str], None] = print) -> int:
    """Run the demo, writing its narrative with ``out``; returns an exit status."""
    started = time.monotonic()
    lock = threading.Lock()
    elected = threading.Condition(lock)
    history: list[tuple[float, str]] = []

    def say(text: str) -> None:
        out(f"[{time.monotonic() - started:6.2f} s] {text}")

    def on_event(candidate: _Candidate, event: dict[str, Any]) -> None:
        kind = event.get("event")
        with lock:
            if kind == "ready":
                say(f"{candidate.name} (pid {event['pid']}) joins the election")
            elif kind == "elected":
                history.append((event["t"], candidate.name))
                say(f"{candidate.name} is ELECTED leader (fencing token {event.get('token')})")
                elected.notify_all()
            elif kind == "lost":
                say(f"{candidate.name} stops leading ({event.get('reason')})")

    def wait_for_new_leader(since: float, timeout: float = 15.0) -> tuple[float, str]:
        with elected:
            ok = elected.wait_for(lambda: any(t >= since for t, _ in history), timeout)
            if not ok:
                raise RuntimeError("no leader was elected in time")
            return next((t, n) for t, n in history if t >= since)

    candidates: list[_Candidate] = []
    with (
        tempfile.TemporaryDirectory(prefix="leader-election-demo-") as tmp,
        LeaseAPIServer() as server,
    ):
        out(f"Embedded Lease API server: {server.url}")
        out(
            "Watch along in another terminal:  "
            f"kubectl --kubeconfig {server.kubeconfig_path} get lease {LEASE} -w"
        )
        out(
            f"Three candidates compete for Lease default/{LEASE}: renewal every {RENEWAL_MS} ms, "
            f"lease duration {LEASE_MS / 1000:g} s.\n"
        )
        try:
            for i in range(1, 4):
                name = f"candidate-{i}"
                kubeconfig = server.write_kubeconfig(Path(tmp) / f"{name}.kubeconfig", user=name)
                candidates.append(_Candidate(name, str(kubeconfig), on_event))
            _, first = wait_for_new_leader(0.0, timeout=30.0)
            time.sleep(2.0)  # let it lead for a while: the demo is meant to be watched

            leader = next(c for c in candidates if c.name == first)
            with lock:
                say(
                    f"killing {first} with SIGKILL: it cannot release the Lease, the others "
                    f"wait until it expires ({LEASE_MS / 1000:g} s after they last saw it renewed)"
                )
            killed = time.monotonic()
            leader.proc.kill()
            t, second = wait_for_new_leader(killed)
            with lock:
                say(f"failover took {t - killed:.2f} s")
            time.sleep(2.0)

            leader = next(c for c in candidates if c.name == second)
            with lock:
                say(f"stopping {second} with SIGTERM: it releases the Lease on its way out")
            stopped = time.monotonic()
            leader.proc.send_signal(signal.SIGTERM)
            t, third = wait_for_new_leader(stopped)
            with lock:
                say(f"handover took {(t - stopped) * 1000:.0f} ms")
            time.sleep(1.0)
            lease = server.get_object("leases", "default", LEASE) or {}
            spec = lease.get("spec", {})
            out(
                f"\nLease default/{LEASE}: holder {spec.get('holderIdentity')!r}, "
                f"leaseTransitions {spec.get('leaseTransitions')}, "
                f"renewTime {spec.get('renewTime')}"
            )
        finally:
            for candidate in candidates:
                candidate.stop()
    out(f"Done in {time.monotonic() - started:.1f} s: {first} -> {second} -> {third}.")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
