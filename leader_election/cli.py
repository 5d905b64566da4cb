"""The ``leader-election`` command: ``serve``, ``demo`` (and more subcommands as they land).

``main(argv) -> int`` is the only place where errors become exit codes.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from leader_election import status, supervisor
from leader_election._version import __version__
from leader_election.errors import ConfigurationError, LeaderElectionError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leader-election",
        description="Kubernetes Lease leader election: tools around the leader_election library.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    status.register(commands)
    supervisor.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="leader-election: %(message)s")
    try:
        result: int = args.handler(args, sys.stdout)
    except ConfigurationError as exc:
        print(f"leader-election {args.command}: {exc}", file=sys.stderr)
        return 2
    except supervisor.LeadershipTimeout as exc:
        print(f"leader-election {args.command}: {exc}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again later
    except FileNotFoundError as exc:
        print(f"leader-election {args.command}: command not found: {exc}", file=sys.stderr)
        return 127
    except PermissionError as exc:
        print(f"leader-election {args.command}: command not executable: {exc}", file=sys.stderr)
        return 126
    except LeaderElectionError as exc:
        print(f"leader-election {args.command}: {exc}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
