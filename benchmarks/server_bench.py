"""Benchmark of the embedded Lease API server alone (``make bench-server``).

Two figures, each against a fresh ``LeaseAPIServer`` in this process:

1. **Lease updates per second** from 16 concurrent clients, each a separate process replacing
   its own Lease in a loop with optimistic concurrency (every PUT carries the
   resourceVersion of the previous answer). ``--client raw`` (default) speaks HTTP/1.1 with
   keep-alive through ``http.client``; ``--client official`` goes through the official
   ``kubernetes`` client (``CoordinationV1Api.replace_namespaced_lease``), whose own
   serialization costs CPU on this same machine.
2. **Concurrent watchers**: watcher processes hold N raw watch streams on one Lease's namespace;
   the server then updates the Lease K times and every stream must receive all K events. N grows
   until a round fails or the ceiling is reached; the largest N that passed is reported with
   the time the last event took to reach the last watcher.

Targets (on a 2-core machine): at least 500 updates/s and 200 watchers. Prints figures only;
writes nothing into the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leader_election.testing import (  # noqa: E402 - after the path fix above
    LeaseAPIServer,
    WaitTimeout,
    wait_for,
)

NAMESPACE = "default"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"


# -- workers (run as subprocesses) ------------------------------------------------------------


def _micro_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


def update_worker_raw(port: int, token: str, name: str, duration: float) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = {
        "metadata": {"name": name},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 15, "renewTime": _micro_now()},
    }
    connection.request("POST", LEASES, json.dumps(body), headers)
    response = connection.getresponse()
    lease = json.loads(response.read())
    print("ready", flush=True)
    sys.stdin.readline()  # the go signal
    updates = conflicts = errors = 0
    deadline = time.monotonic() + duration
    started = time.monotonic()
    while time.monotonic() < deadline:
        lease["spec"]["renewTime"] = _micro_now()
        connection.request("PUT", f"{LEASES}/{name}", json.dumps(lease), headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status == 200:
            lease = json.loads(payload)
            updates += 1
        elif response.status == 409:
            conflicts += 1
        else:
            errors += 1
    connection.close()
    return {
        "updates": updates,
        "conflicts": conflicts,
        "errors": errors,
        "elapsed": time.monotonic() - started,
    }


def update_worker_official(url: str, token: str, name: str, duration: float) -> dict[str, Any]:
    import datetime

    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    configuration = client.Configuration()
    configuration.host = url
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    api_client = client.ApiClient(configuration)
    api = client.CoordinationV1Api(api_client)

    def renew_time() -> datetime.datetime:
        # A whole-second datetime would lose its fraction on the wire (see kubetime).
        now = datetime.datetime.now(datetime.timezone.utc)
        return now.replace(microsecond=now.microsecond or 1)

    lease = api.create_namespaced_lease(
        NAMESPACE,
        client.V1Lease(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1LeaseSpec(
                holder_identity=name, lease_duration_seconds=15, renew_time=renew_time()
            ),
        ),
    )
    print("ready", flush=True)
    sys.stdin.readline()
    updates = conflicts = errors = 0
    deadline = time.monotonic() + duration
    started = time.monotonic()
    while time.monotonic() < deadline:
        assert lease.spec is not None
        lease.spec.renew_time = renew_time()
        try:
            lease = api.replace_namespaced_lease(name, NAMESPACE, lease)
            updates += 1
        except ApiException as exc:
            if exc.status == 409:
                conflicts += 1
            else:
                errors += 1
    api_client.rest_client.pool_manager.clear()
    return {
        "updates": updates,
        "conflicts": conflicts,
        "errors": errors,
        "elapsed": time.monotonic() - started,
    }


def watch_worker(
    port: int, token: str, count: int, *, resource_version: str, expected: int, limit: float
) -> dict[str, Any]:
    """Hold ``count`` raw watch streams; report how many saw ``expected`` MODIFIED events."""
    selector = selectors.DefaultSelector()
    seen: dict[socket.socket, int] = {}
    buffers: dict[socket.socket, bytes] = {}
    request = (
        f"GET {LEASES}?watch=1&resourceVersion={resource_version}&timeoutSeconds=600 HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(request)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        seen[sock] = 0
        buffers[sock] = b""
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    last_event = started
    deadline = started + limit
    marker = b'"type":"MODIFIED"'
    while time.monotonic() < deadline and any(n < expected for n in seen.values()):
        for key, _ in selector.select(0.2):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)  # only sockets are registered
            try:
                data = conn.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(conn)
                continue
            buffer = buffers[conn] + data
            lines = buffer.split(b"\n")
            buffers[conn] = lines.pop()
            found = sum(1 for line in lines if marker in line)
            if found:
                seen[conn] += found
                last_event = time.monotonic()
    complete = sum(1 for n in seen.values() if n >= expected)
    for sock in seen:
        sock.close()
    selector.close()
    return {"complete": complete, "held": count, "last_event": last_event - started}


def worker_main(argv: list[str]) -> int:
    kind, *rest = argv
    if kind == "update-raw":
        result = update_worker_raw(int(rest[0]), rest[1], rest[2], float(rest[3]))
    elif kind == "update-official":
        result = update_worker_official(rest[0], rest[1], rest[2], float(rest[3]))
    else:
        result = watch_worker(
            int(rest[0]),
            rest[1],
            int(rest[2]),
            resource_version=rest[3],
            expected=int(rest[4]),
            limit=float(rest[5]),
        )
    print(json.dumps(result), flush=True)
    return 0


# -- the benchmark --------------------------------------------------------------------------------


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _run_workers(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    for process in workers:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"a worker failed to start: {line!r}")
    for process in workers:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in workers:
        out, _ = process.communicate(timeout=600)
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def bench_updates(clients: int, duration: float, mode: str) -> None:
    with LeaseAPIServer() as server:
        token = server.token_for()
        workers = []
        for i in range(clients):
            name = f"bench-{i}"
            if mode == "raw":
                workers.append(_spawn(["update-raw", str(server.port), token, name, str(duration)]))
            else:
                workers.append(_spawn(["update-official", server.url, token, name, str(duration)]))
        started = time.monotonic()
        results = _run_workers(workers)
        updates = sum(r["updates"] for r in results)
        conflicts = sum(r["conflicts"] for r in results)
        errors = sum(r["errors"] for r in results)
        elapsed = max(r["elapsed"] for r in results)
        logged = server.requests.count(verb="update", code=200, since=started)
    print(
        f"updates ({mode} client, {clients} processes, {duration:g} s): "
        f"{updates / elapsed:.0f} updates/s  ({updates} ok, {conflicts} conflicts, "
        f"{errors} errors; server log: {logged} updates with 200)"
    )


def _registered(server: LeaseAPIServer, wanted: int) -> int:
    """Wait until the server holds ``wanted`` watches (at most a minute); return how many."""
    with contextlib.suppress(WaitTimeout):
        wait_for(lambda: server.store.watcher_count() >= wanted, 60, what="every watch")
    return server.store.watcher_count()


def bench_watchers(steps: list[int], events: int, processes: int) -> None:
    best = 0
    for total in steps:
        with LeaseAPIServer() as server:
            from kubernetes import client

            api = client.CoordinationV1Api(server.api_client())
            lease = api.create_namespaced_lease(
                NAMESPACE, client.V1Lease(metadata=client.V1ObjectMeta(name="watched"))
            )
            assert lease.metadata is not None
            start_rv = str(lease.metadata.resource_version)
            token = server.token_for()
            shares = [
                total // processes + (1 if i < total % processes else 0) for i in range(processes)
            ]
            workers = [
                _spawn(["watch", str(server.port), token, str(share), start_rv, str(events), "60"])
                for share in shares
                if share
            ]
            for process in workers:
                assert process.stdout is not None
                if process.stdout.readline().strip() != "ready":
                    raise RuntimeError("a watch worker failed to start")
            held = _registered(server, total)
            for process in workers:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            started = time.monotonic()
            for i in range(events):
                api.patch_namespaced_lease(
                    "watched", NAMESPACE, {"spec": {"holderIdentity": f"holder-{i}"}}
                )
            written = time.monotonic() - started
            results = []
            for process in workers:
                out, _ = process.communicate(timeout=600)
                results.append(json.loads(out.strip().splitlines()[-1]))
        complete = sum(r["complete"] for r in results)
        last = max(r["last_event"] for r in results)
        ok = complete == total and held == total
        print(
            f"watchers: {total} held ({held} registered), {complete}/{total} received all {events} "
            f"events; writes took {written:.2f} s, last event delivered after {last:.2f} s"
            + ("" if ok else "  <- FAILED")
        )
        if not ok:
            break
        best = total
    print(f"watchers: the server held {best} concurrent watchers that all received every event")


def _raise_file_limit() -> None:
    # Every watcher is a socket on both sides; the default soft limit (often 1024) would cap
    # the count, not the server.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> int:
    _raise_file_limit()
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of updates per run")
    parser.add_argument("--client", choices=["raw", "official", "both"], default="both")
    parser.add_argument(
        "--watchers", default="200,500,1000", help="comma-separated watcher counts to try"
    )
    parser.add_argument("--events", type=int, default=20, help="updates every watcher must receive")
    parser.add_argument("--watch-processes", type=int, default=4)
    args = parser.parse_args()
    version = sys.version.split()[0]
    print(f"embedded Lease API server benchmark on {os.cpu_count()} CPUs, Python {version}")
    modes = ["raw", "official"] if args.client == "both" else [args.client]
    for mode in modes:
        bench_updates(args.clients, args.duration, mode)
    bench_watchers([int(n) for n in args.watchers.split(",")], args.events, args.watch_processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
