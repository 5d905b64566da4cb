"""The ``leader-election`` command: ``serve``, ``demo`` (and more subcommands as they land).

``main(argv) -> int`` is the only place where errors become exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from leader_election._version import __version__

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leader-election",
        description="Kubernetes Lease leader election: tools around the leader_election library.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "demo",
        help="watch candidates elect a leader and fail over (embedded API server)",
        description="Start the embedded Lease API server and three candidate processes; kill "
        "the leader, then stop the next one gracefully, narrating each election. Takes about "
        "15 seconds and leaves nothing running.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "demo":
        from leader_election.demo import run_demo  # noqa: PLC0415 - only this command needs it

        return run_demo()
    return 2


if __name__ == "__main__":
    sys.exit(main())
