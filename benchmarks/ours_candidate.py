"""Our candidate process (``leader_election.testing.candidate``) behind an optional start gate.

``python -m benchmarks.ours_candidate [--start-file PATH] CANDIDATE-OPTIONS...``: imports
everything first, prints an ``armed`` event, then waits until PATH exists before the election
starts, so a whole fleet starts electing at one instant without the cost of importing Python
packages (seconds, for 25 processes on a small machine) blurring the start.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence


def split_start_file(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """Remove ``--start-file PATH`` from ``argv``; return the path and the rest."""
    rest: list[str] = []
    start_file: str | None = None
    items = iter(argv)
    for item in items:
        if item == "--start-file":
            start_file = next(items)
        elif item.startswith("--start-file="):
            start_file = item.split("=", 1)[1]
        else:
            rest.append(item)
    return start_file, rest


def wait_for_gate(start_file: str | None, identity: str) -> None:
    """Print ``armed``, then poll for ``start_file`` every 5 ms (no-op without a gate)."""
    if start_file is None:
        return
    record = {"t": time.monotonic(), "pid": os.getpid(), "identity": identity, "event": "armed"}
    print(json.dumps(record), flush=True)
    while not os.path.exists(start_file):
        time.sleep(0.005)


def main(argv: Sequence[str] | None = None) -> int:
    start_file, rest = split_start_file(sys.argv[1:] if argv is None else argv)
    import kubernetes.client  # noqa: F401 - paid before the gate, as the official harness does

    from leader_election.testing import candidate

    identity = rest[rest.index("--identity") + 1] if "--identity" in rest else ""
    wait_for_gate(start_file, identity)
    return candidate.main(rest)


if __name__ == "__main__":
    sys.exit(main())
