"""The ``leader-election`` command: ``serve``, ``demo`` (and more subcommands as they land).

``main(argv) -> int`` is the only place where errors become exit codes.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from leader_election._version import __version__
from leader_election.errors import LeaderElectionError
from leader_election.testing.server import LeaseAPIServer

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leader-election",
        description="Kubernetes Lease leader election: tools around the leader_election library.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the embedded Lease API server until SIGINT/SIGTERM",
        description=(
            "Run the embedded Kubernetes Lease API server in the foreground (Leases, ConfigMaps, "
            "Namespaces, Events) until SIGINT or SIGTERM. Prints the URL and the path of an "
            "admin kubeconfig that kubectl and the official client load as-is."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=0, help="port to bind; 0 picks a free one (default: 0)"
    )
    serve.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="also write the admin kubeconfig here (default: a temporary file removed at exit)",
    )
    serve.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA")
    return parser


def _serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = LeaseAPIServer(host=args.host, port=args.port, tls=args.tls)
    try:
        try:
            server.start()
        except OSError as exc:
            print(
                f"leader-election serve: cannot listen on {args.host}:{args.port}: {exc}",
                file=sys.stderr,
            )
            return 1
        kubeconfig = server.kubeconfig_path
        if args.kubeconfig:
            kubeconfig = server.write_kubeconfig(args.kubeconfig)
        print(f"Lease API server listening on {server.url}", flush=True)
        print(f"kubeconfig: {kubeconfig}", flush=True)
        print(f"try: kubectl --kubeconfig {kubeconfig} get leases -A", flush=True)
        # Wake up now and then: a signal handler only runs between bytecodes of this thread.
        while not stop.wait(0.5):
            pass
        print("stopping", flush=True)
        return 0
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "serve":
            return _serve(args)
    except LeaderElectionError as exc:
        print(f"leader-election {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
