"""``python -m chaos [--profile short|long] [--impl ours|official] [--seed N]``.

Exit status 0 when the checker found nothing, 1 otherwise. ``CHAOS_SEED`` in the environment
is used when ``--seed`` is not given, to replay a run from CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from chaos.runner import PROFILES, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="long")
    parser.add_argument("--impl", choices=("ours", "official"), default="ours")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--transitions", type=int, help="override the profile's target")
    parser.add_argument("--duration", type=float, help="override the profile's duration (s)")
    parser.add_argument("--candidates", type=int, help="override the number of candidates")
    parser.add_argument("--workdir", help="keep the logs here (default: a temporary directory)")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.transitions is not None:
        profile = dataclasses.replace(profile, transitions=args.transitions, duration=None)
    if args.duration is not None:
        profile = dataclasses.replace(profile, duration=args.duration, transitions=None)
    if args.candidates is not None:
        profile = dataclasses.replace(profile, candidates=args.candidates)
    seed = args.seed
    if seed is None and os.environ.get("CHAOS_SEED"):
        seed = int(os.environ["CHAOS_SEED"])
    result = run(profile, impl=args.impl, seed=seed, workdir=args.workdir)
    print(result.report())
    return 0 if result.verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
