"""``python -m chaos [--profile short|long|all|group-short|group] [--impl ours|official]
[--seed N] [--faults KIND,...] [--shards K] [--no-work] [--drain|--no-drain]``.

Exit status 0 when the checker found nothing, 1 otherwise. ``CHAOS_SEED`` in the environment
is used when ``--seed`` is not given, to replay a run from CI. ``--faults`` replaces the
profile's fault kinds (``--faults all`` for every kind); ``--drain`` judges work overlaps
after a graceful stop as violations (default: when the library advertises drain). The group
profiles run members of a ``LeaderElectionGroup`` (ours only); ``--shards K`` sets how many
Leases the group has, and turns any profile into a group one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from chaos.runner import ALL_FAULTS, PROFILES, run


def fault_list(text: str) -> tuple[str, ...]:
    """``kill,term,...`` or ``all``; every name must be a known kind."""
    if text == "all":
        return ALL_FAULTS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in ALL_FAULTS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"unknown fault kinds {unknown}; choose from {', '.join(ALL_FAULTS)} or 'all'"
        )
    return kinds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="long")
    parser.add_argument("--impl", choices=("ours", "official"), default="ours")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--transitions", type=int, help="override the profile's target")
    parser.add_argument("--duration", type=float, help="override the profile's duration (s)")
    parser.add_argument("--candidates", type=int, help="override the number of candidates")
    parser.add_argument("--workdir", help="keep the logs here (default: a temporary directory)")
    parser.add_argument("--faults", type=fault_list, help="comma-separated kinds, or 'all'")
    parser.add_argument("--graceful", type=int, help="also go on until this many releases")
    parser.add_argument(
        "--shards", type=int, help="candidates are members of a group of this many Leases"
    )
    parser.add_argument(
        "--no-work", action="store_true", help="no leader-only work job (invariant 6 off)"
    )
    parser.add_argument(
        "--drain",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="judge work overlaps after a graceful stop (default: if the library drains)",
    )
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.transitions is not None:
        profile = dataclasses.replace(profile, transitions=args.transitions, duration=None)
    if args.duration is not None:
        profile = dataclasses.replace(profile, duration=args.duration, transitions=None)
    if args.candidates is not None:
        profile = dataclasses.replace(profile, candidates=args.candidates)
    if args.faults is not None:
        profile = dataclasses.replace(profile, faults=args.faults)
    if args.graceful is not None:
        profile = dataclasses.replace(profile, graceful=args.graceful)
    if args.shards is not None:
        if args.shards < 1:
            parser.error(f"--shards {args.shards}: a group needs at least one Lease")
        profile = dataclasses.replace(profile, shards=args.shards)
    if profile.shards is not None and args.impl != "ours":
        parser.error(f"profile {profile.name} runs a group: only --impl ours has groups")
    if args.no_work:
        profile = dataclasses.replace(profile, work=False)
    seed = args.seed
    if seed is None and os.environ.get("CHAOS_SEED"):
        seed = int(os.environ["CHAOS_SEED"])
    result = run(profile, impl=args.impl, seed=seed, workdir=args.workdir, drain=args.drain)
    print(result.report())
    return 0 if result.verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
