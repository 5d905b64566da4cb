"""The ``leader-election`` command: ``status``, ``check``, ``rbac``, ``run``, ``sidecar``, ``serve``
and ``demo``.

This module is the whole command line and nothing else: the argparse registration of every
subcommand, one handler per subcommand that turns parsed arguments into a call of its engine,
and ``main(argv) -> int``, the only place where errors become exit codes. The engines live in
their own modules (``status.read_status``, ``check.run_check``, ``rbac.manifests``,
``supervisor.supervise``, ``sidecar.Sidecar``, ``testing.server.LeaseAPIServer``,
``demo.run_demo``). The embedded
server, the demo, ``check`` and ``rbac`` are imported by their handler only, so ``import
leader_election.cli`` (and ``--help``) never loads the server or the ``kubernetes`` client.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from leader_election._version import __version__
from leader_election.errors import ConfigurationError, LeaderElectionError, NotFoundError
from leader_election.options import LeaderElectionOptions
from leader_election.status import DEFAULT_TIMEOUT, read_status
from leader_election.supervisor import LeadershipTimeout, supervise

__all__ = ["add_lease_arguments", "build_parser", "main"]


@dataclass(frozen=True, slots=True)
class _Command:
    """How ``main`` runs a subcommand: its handler, and whether it narrates through logging."""

    handler: Callable[[argparse.Namespace], int]
    logs: bool = False


# -- argument types ------------------------------------------------------------------------
def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def add_lease_arguments(parser: argparse.ArgumentParser, *, positional: bool = False) -> None:
    """``--lease``, ``-n/--namespace`` and ``--kubeconfig``: how every command names a Lease.

    With ``positional``, the Lease may also be given as the first argument (``status my-app``);
    the handler then reads it with ``_lease_name``.
    """
    if positional:
        parser.add_argument(
            "lease_positional", nargs="?", metavar="NAME", help="name of the Lease (or --lease)"
        )
        parser.add_argument("--lease", metavar="NAME", help="name of the Lease")
    else:
        parser.add_argument("--lease", required=True, metavar="NAME", help="name of the Lease")
    parser.add_argument(
        "-n",
        "--namespace",
        default="default",
        metavar="NS",
        help="namespace of the Lease (default: %(default)s, as in the library)",
    )
    parser.add_argument(
        "--kubeconfig", metavar="PATH", help="kubeconfig file to use (its current context)"
    )
    parser.add_argument(
        "--require-cluster",
        action="store_true",
        help="fail (exit 2) instead of running standalone when no cluster is found",
    )


def add_candidate_arguments(parser: argparse.ArgumentParser) -> None:
    """``--identity``, ``--renewal-interval``, ``--lease-duration`` and ``--renew-deadline``:
    how a command that runs a candidate (``run``, ``sidecar``) sets it up."""
    parser.add_argument(
        "--identity",
        metavar="ID",
        help="holderIdentity to write (default: $POD_NAME or the hostname, plus a random suffix)",
    )
    parser.add_argument(
        "--renewal-interval",
        default="10000",
        metavar="MS",
        help="how often the leader renews, in milliseconds (default: %(default)s)",
    )
    parser.add_argument(
        "--lease-duration",
        metavar="MS",
        help="lease duration in milliseconds, whole seconds (default: twice the renewal interval)",
    )
    parser.add_argument(
        "--renew-deadline",
        metavar="MS",
        help="step down when not renewed for this long, in milliseconds (default: midway "
        "between the renewal interval and the lease duration)",
    )


def candidate_options(args: argparse.Namespace) -> LeaderElectionOptions:
    """The options of the candidate a command runs; the command handles signals itself."""
    values: dict[str, Any] = {
        "lease_name": args.lease,
        "namespace": args.namespace,
        "kubeconfig": args.kubeconfig,
        "standalone": not args.require_cluster,
        "renewal_interval": args.renewal_interval,
        "handle_signals": False,
        "await_leadership": False,
    }
    for option in ("identity", "lease_duration", "renew_deadline"):
        if getattr(args, option) is not None:
            values[option] = getattr(args, option)
    return LeaderElectionOptions.from_mapping(values)


class _UsageError(Exception):
    """Arguments that parse but do not make sense together (exit status 2)."""


def _lease_name(args: argparse.Namespace) -> str:
    """The Lease named positionally or by ``--lease`` (the same name if both)."""
    positional = getattr(args, "lease_positional", None)
    if positional and args.lease and positional != args.lease:
        raise _UsageError(f"two Lease names: {positional!r} and --lease {args.lease!r}; give one")
    name = positional or args.lease
    if not name:
        raise _UsageError(
            f"which Lease? give its name: leader-election {args.command} NAME [-n NS] "
            f"(or --lease NAME)"
        )
    return str(name)


def _cli_wording(message: str) -> str:
    """Library messages name options (``kubeconfig=``); on the command line they are flags."""
    return message.replace("or pass kubeconfig= / api_client=", "or pass --kubeconfig PATH")


# -- status --------------------------------------------------------------------------------
_STATUS_DESCRIPTION = """\
Read a Lease once and show its holder, when it was acquired and last renewed, its lease
duration, how many times it changed hands (leaseTransitions) and whether it is expired.

Expiry is judged here by renewTime + leaseDurationSeconds against this machine's clock;
candidates judge it by when they saw the Lease change, so clock skew never misleads them.

The cluster is found as the library finds it: --kubeconfig, else KUBECONFIG, else the
in-cluster ServiceAccount, else ~/.kube/config. Needs the RBAC verb get on the Lease.
"""

_STATUS_EPILOG = """\
exit status:
  0   the Lease was read (held, free or expired)
  1   it does not exist, or the API refused (the message says why)
  2   invalid arguments, or no cluster configuration found

  (with -o json, stdout always gets an object: {"found": false, ...} when missing)

examples:
  leader-election status my-app -n prod
  leader-election status --group workers -n prod
  leader-election status --lease my-app -o json | jq .holder
"""


def _add_status(commands: Any) -> None:
    parser = commands.add_parser(
        "status",
        help="show who holds a Lease, since when, and whether it expired",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_STATUS_DESCRIPTION,
        epilog=_STATUS_EPILOG,
    )
    add_lease_arguments(parser, positional=True)
    parser.add_argument(
        "--group",
        metavar="GROUP",
        help="show a LeaderElectionGroup instead: who holds which of its Leases, and its "
        "members (needs list on leases)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text for people (default) or json for scripts",
    )
    parser.add_argument(
        "--request-timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="give up on the API server after this long (default: %(default)g)",
    )
    parser.set_defaults(command_spec=_Command(_status, logs=True))


def _status(args: argparse.Namespace) -> int:
    """Print the report; 0 once the Lease was read, 1 when it does not exist."""
    if args.group:
        if args.lease or getattr(args, "lease_positional", None):
            raise _UsageError("give a Lease or --group GROUP, not both")
        from leader_election.group_status import read_group_status  # noqa: PLC0415

        group = read_group_status(
            args.group, args.namespace, kubeconfig=args.kubeconfig, timeout=args.request_timeout
        )
        if args.output == "json":
            sys.stdout.write(json.dumps(group.to_json(), indent=2) + "\n")
        else:
            sys.stdout.write(group.to_text())
        return 0
    name = _lease_name(args)
    try:
        status = read_status(
            name, args.namespace, kubeconfig=args.kubeconfig, timeout=args.request_timeout
        )
    except NotFoundError as exc:
        if args.output == "json":
            # A script piping into jq gets an object either way.
            missing = {"namespace": args.namespace, "name": name, "found": False, "error": str(exc)}
            sys.stdout.write(json.dumps(missing, indent=2) + "\n")
        raise
    if args.output == "json":
        sys.stdout.write(json.dumps({**status.to_json(), "found": True}, indent=2) + "\n")
    else:
        sys.stdout.write(status.to_text())
    return 0


# -- check ---------------------------------------------------------------------------------
_CHECK_DESCRIPTION = """\
Check that this machine can take part in an election on a Lease, and say what to fix:

  1. which API server, found how (--kubeconfig, in-cluster, KUBECONFIG, ~/.kube/config,
     as the library finds it), and as which user;
  2. whether it answers, and this machine's clock offset from it (from the Date header,
     +- round trip / 2 + 1 s);
  3. RBAC, one SelfSubjectAccessReview per verb the library needs (--pod-label adds get and
     patch on pods; create on events is optional);
  4. the Lease: holder, last renewal, expired or not, transitions.
"""

_CHECK_EPILOG = """\
exit status:
  0   nothing is wrong (warnings, such as a Lease nobody created yet, are printed)
  1   something is wrong: the verdict says what and what to do
  2   invalid arguments, or a configuration that cannot be loaded

examples:
  leader-election check my-app -n prod
  leader-election check --lease my-app --pod-label -o json | jq .verdict
"""


def _add_check(commands: Any) -> None:
    parser = commands.add_parser(
        "check",
        help="check connection, user, clock, RBAC and the Lease, with a verdict",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_CHECK_DESCRIPTION,
        epilog=_CHECK_EPILOG,
    )
    add_lease_arguments(parser, positional=True)
    parser.add_argument(
        "--pod-label",
        action="store_true",
        help="the application uses leader_pod_label: also check get and patch on pods",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text for people (default) or json for scripts",
    )
    parser.add_argument(
        "--request-timeout",
        type=_positive_seconds,
        default=5.0,
        metavar="SECONDS",
        help="give up on each request after this long (default: %(default)g)",
    )
    parser.set_defaults(command_spec=_Command(_check))


def _check(args: argparse.Namespace) -> int:
    """Print the findings and the verdict; 1 when something is wrong."""
    from leader_election.check import run_check  # noqa: PLC0415 - the engine, on use

    report = run_check(
        _lease_name(args),
        args.namespace,
        kubeconfig=args.kubeconfig,
        pod_label=args.pod_label,
        timeout=args.request_timeout,
    )
    if args.output == "json":
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(report.to_text())
    return 0 if report.ok else 1


# -- rbac ----------------------------------------------------------------------------------
_RBAC_DESCRIPTION = """\
Print a ServiceAccount, Role and RoleBinding (YAML) that let a Pod elect on one Lease, and
nothing more: get, update and watch on that Lease by name, and create on leases (a create is
authorized before its body is read, so Kubernetes cannot restrict it to a name).

Optional rules: --pod-label adds get and patch on pods (the leader-pod label; Pod names are
generated, so no resourceNames); --events adds create on events.

The same manifests, for a Lease named my-app, ship in the package (leader_election/manifests/,
a copy of the repository's rbac/).
"""

_RBAC_EPILOG = """\
examples:
  leader-election rbac my-app -n prod | kubectl apply -f -
  leader-election rbac --lease my-app -n prod --service-account web --pod-label > rbac.yaml
"""


def _add_rbac(commands: Any) -> None:
    parser = commands.add_parser(
        "rbac",
        help="print the ServiceAccount, Role and RoleBinding for a Lease (YAML)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_RBAC_DESCRIPTION,
        epilog=_RBAC_EPILOG,
    )
    parser.add_argument(
        "lease_positional", nargs="?", metavar="NAME", help="name of the Lease (or --lease)"
    )
    parser.add_argument("--lease", metavar="NAME", help="name of the Lease")
    parser.add_argument(
        "-n",
        "--namespace",
        default="default",
        metavar="NS",
        help="namespace of the Lease and of the Pods (default: %(default)s)",
    )
    parser.add_argument(
        "--service-account",
        default="leader-election",
        metavar="SA",
        help="the Pods' serviceAccountName (default: %(default)s)",
    )
    parser.add_argument(
        "--role-name",
        metavar="NAME",
        help="name of the Role and RoleBinding (default: leader-election-LEASE)",
    )
    parser.add_argument(
        "--pod-label", action="store_true", help="add get and patch on pods (leader-pod label)"
    )
    parser.add_argument(
        "--no-events",
        dest="events",
        action="store_false",
        help="leave out create on events (the library then records no leadership Events)",
    )
    parser.add_argument(
        "--no-service-account",
        action="store_true",
        help="leave the ServiceAccount out (it exists already)",
    )
    parser.set_defaults(command_spec=_Command(_rbac))


def _rbac(args: argparse.Namespace) -> int:
    """Print the manifests; 2 for a name Kubernetes would refuse."""
    from leader_election.rbac import manifests, render  # noqa: PLC0415 - the engine, on use

    name = _lease_name(args)
    objects = manifests(
        name,
        args.namespace,
        service_account=args.service_account,
        role_name=args.role_name or "",
        pod_label=args.pod_label,
        events=args.events,
        with_service_account=not args.no_service_account,
    )
    header = (
        f"leader-election rbac: leader election on Lease {args.namespace}/{name}, "
        f"as ServiceAccount {args.namespace}/{args.service_account}.\n"
        "Apply: kubectl apply -f FILE; then check: "
        f"leader-election check {name} -n {args.namespace}"
    )
    if not args.pod_label:
        header += "\nOptional: --pod-label (get, patch on pods for the leader-pod label)"
    if not args.events:
        header += "\nOptional: --events (create on events)"
    sys.stdout.write(render(objects, header=header))
    return 0


# -- run -----------------------------------------------------------------------------------
_RUN_DESCRIPTION = """\
Run CMD only while this process holds the Lease, like etcdctl lock and consul lock.

  1. Wait until this process leads the Lease.
  2. Start CMD in its own process group. Its environment gets LEADER_ELECTION_LEASE
     (namespace/name), LEADER_ELECTION_IDENTITY and LEADER_ELECTION_FENCING_TOKEN
     (leaseTransitions of this term: storage can reject writes carrying an older one).
  3. If leadership is lost, send CMD's process group SIGTERM, then SIGKILL after the grace
     period. SIGTERM, SIGINT and SIGHUP sent to leader-election are forwarded the same way.
     If leader-election itself dies (even by SIGKILL), CMD's process group is killed too
     (Linux; see docs/cli.md for other systems).
  4. When CMD exits, kill what it left running in its process group, release the Lease so
     that another candidate takes over at once, and exit with CMD's status.

The cluster is found as the library finds it: --kubeconfig, else KUBECONFIG, else the
in-cluster ServiceAccount, else ~/.kube/config, else standalone mode (no cluster: CMD runs
at once, with a warning; --require-cluster makes that exit 2 instead). A source that is set
but broken is an error. The ServiceAccount needs the Role in rbac/role.yaml.
"""

_RUN_EPILOG = """\
exit status:
  CMD's status   CMD ran (128+N when signal N ended it)
  1              the API refused (401, 403 naming the missing verb, missing namespace)
  2              invalid arguments or configuration
  75             --timeout passed before this process led the Lease (CMD never ran)
  126, 127       CMD is not executable, or not found
  128+N          signal N arrived before CMD started

example:
  leader-election run --lease nightly-report -n batch --timeout 60 -- ./report.sh --full
"""


def _add_run(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="run a command only while holding a Lease (like etcdctl lock / consul lock)",
        usage="%(prog)s --lease NAME [-n NS] [options] -- CMD [ARG ...]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_RUN_DESCRIPTION,
        epilog=_RUN_EPILOG,
    )
    add_lease_arguments(parser)
    add_candidate_arguments(parser)
    parser.add_argument(
        "--grace-period",
        type=_seconds,
        metavar="SECONDS",
        help="time between SIGTERM and SIGKILL when CMD must stop (default: lease duration "
        "minus renew deadline, so CMD is gone before another candidate may start)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up (exit 75) if not leading within this long (default: wait for ever)",
    )
    parser.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="-- CMD [ARG ...]",
        help="the command to run while leading, after --",
    )
    parser.set_defaults(command_spec=_Command(_run, logs=True))


def _run(args: argparse.Namespace) -> int:
    """Run CMD under the Lease; its exit status."""
    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    options = candidate_options(args)
    return supervise(command, options, grace_period=args.grace_period, timeout=args.timeout)


# -- sidecar -------------------------------------------------------------------------------
_SIDECAR_DESCRIPTION = """\
Run one candidate for a container that is not Python, beside it in the same Pod, and report
on local HTTP:

  GET /         JSON: lease, identity, leader (the holder), is_leader, fencing_token, state,
                healthy
  GET /healthz  200 while healthy, 503 when this candidate leads but stopped renewing (for a
                liveness probe)
  GET /metrics  Prometheus metrics (needs the extra: pip install 'leader-election[metrics]')

SIGTERM or SIGINT stops the candidate: its work ends, the Lease is released for the next
candidate at once, then the HTTP server stops. The cluster is found as the library finds it.
"""

_SIDECAR_EPILOG = """\
exit status:
  0   stopped by SIGTERM or SIGINT (the Lease was released)
  1   the address cannot be bound, or the API refused at start
  2   invalid arguments or configuration

example:
  leader-election sidecar --lease my-app -n prod --http 0.0.0.0:4040
  curl -s localhost:4040/ | jq .is_leader
"""


def _add_sidecar(commands: Any) -> None:
    parser = commands.add_parser(
        "sidecar",
        help="run a candidate and report leadership over local HTTP (for non-Python containers)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_SIDECAR_DESCRIPTION,
        epilog=_SIDECAR_EPILOG,
    )
    add_lease_arguments(parser)
    parser.add_argument(
        "--http",
        default="127.0.0.1:4040",
        metavar="HOST:PORT",
        help="where to serve (default: %(default)s; 0.0.0.0:PORT lets the kubelet probe it; "
        "port 0 picks a free one)",
    )
    add_candidate_arguments(parser)
    parser.set_defaults(command_spec=_Command(_sidecar, logs=True))


def _sidecar(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; 1 when the address cannot be bound."""
    from leader_election.module import LeaderElectionModule  # noqa: PLC0415 - on use
    from leader_election.sidecar import Sidecar, parse_http_address  # noqa: PLC0415 - on use

    host, port = parse_http_address(args.http)
    options = candidate_options(args)  # this command's own handler stops the sidecar
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    sidecar = Sidecar(LeaderElectionModule(options), host, port)
    try:
        try:
            sidecar.start()
        except OSError as exc:
            print(f"leader-election sidecar: cannot listen on {args.http}: {exc}", file=sys.stderr)
            return 1
        print(f"leader-election sidecar: serving {sidecar.url}", file=sys.stderr, flush=True)
        # Wake up now and then: a signal handler only runs between bytecodes of this thread.
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        sidecar.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- serve ---------------------------------------------------------------------------------
def _add_serve(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the embedded Lease API server until SIGINT/SIGTERM",
        description=(
            "Run the embedded Kubernetes Lease API server in the foreground (Leases, ConfigMaps, "
            "Namespaces, Events, Pods, SelfSubjectAccessReviews) until SIGINT or SIGTERM. "
            "Prints the URL and the path of an admin kubeconfig that kubectl and the official "
            "client load as-is."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to bind; 0 picks a free one (default: 0)"
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="also write the admin kubeconfig here (default: a temporary file removed at exit)",
    )
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA")
    parser.set_defaults(command_spec=_Command(_serve))


def _serve(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 1 when the address cannot be bound."""
    from leader_election.testing.server import LeaseAPIServer  # noqa: PLC0415 - on use only

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


# -- demo ----------------------------------------------------------------------------------
def _add_demo(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="watch candidates elect a leader and fail over (embedded API server)",
        description="Start the embedded Lease API server and three candidate processes; kill "
        "the leader, then stop the next one gracefully, narrating each election. Takes about "
        "15 seconds and leaves nothing running.",
    )
    parser.set_defaults(command_spec=_Command(_demo))


def _demo(args: argparse.Namespace) -> int:
    from leader_election.demo import run_demo  # noqa: PLC0415 - the engine, on use

    return run_demo()


# -- the command ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``leader-election`` parser; each subcommand sets ``command_spec``."""
    parser = argparse.ArgumentParser(
        prog="leader-election",
        description="Kubernetes Lease leader election: tools around the leader_election library.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_status(commands)
    _add_check(commands)
    _add_rbac(commands)
    _add_run(commands)
    _add_sidecar(commands)
    _add_demo(commands)
    _add_serve(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    spec: _Command = args.command_spec
    try:
        if spec.logs:
            # status and run narrate through the library's loggers; serve and demo print.
            logging.basicConfig(level=logging.INFO, format="leader-election: %(message)s")
        return spec.handler(args)
    except _UsageError as exc:
        print(f"leader-election {args.command}: {exc}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"leader-election {args.command}: {_cli_wording(str(exc))}", file=sys.stderr)
        return 2
    except LeadershipTimeout as exc:
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
        return 2 if isinstance(exc, ValueError) else 1


if __name__ == "__main__":
    sys.exit(main())
