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
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
