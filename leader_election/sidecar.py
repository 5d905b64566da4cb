"""The sidecar: leader election for a container that is not Python, over local HTTP.

``leader-election sidecar --lease NAME --http 127.0.0.1:4040`` runs one candidate (a
``LeaderElectionModule``) beside the application's container in the same Pod and answers:

* ``GET /`` — JSON: ``lease``, ``identity`` (this candidate), ``leader`` (the holder it last
  observed, or null), ``is_leader``, ``fencing_token`` (``leaseTransitions`` of this term, or
  null), ``state`` and ``healthy``. The application polls it (or its readiness probe does);
* ``GET /healthz`` — ``election.healthy()`` as 200 or 503, for a liveness probe;
* ``GET /metrics`` — the Prometheus metrics when ``prometheus_client`` is installed (extra
  ``metrics``), else 404 saying so.

``Sidecar.stop()`` stops the module first — the term ends, the Lease is released for the next
candidate — then the HTTP server, so ``/`` answers ``is_leader: false`` until the very end.

Threads: the module's own, and one HTTP thread named ``leader-election-sidecar[HOST:PORT]``
serving one request at a time (each answer is a few hundred bytes; a slow client is cut off
after ``REQUEST_TIMEOUT``). ``stop()`` joins it with a bound and raises if it is still alive.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
from typing import Any

from leader_election.errors import ConfigurationError, MisuseError
from leader_election.health import health_report
from leader_election.module import LeaderElectionModule

__all__ = ["Sidecar", "parse_http_address"]

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = 5.0  # seconds a client may take to send its request
_JOIN_TIMEOUT = 10.0


def parse_http_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:4040`` for IPv6); raises ``ConfigurationError`` naming the rule."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigurationError(
            f"--http={text!r} must be HOST:PORT with a port 0..65535 (0 picks a free one), "
            "e.g. 127.0.0.1:4040, or 0.0.0.0:4040 to let the kubelet's probes reach it",
            option="http",
            value=text,
        )
    return host, int(port_text)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "leader-election-sidecar"
    timeout = REQUEST_TIMEOUT
    sidecar: Sidecar  # set on the subclass each Sidecar makes

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sidecar %s: " + format, self.address_string(), *args)

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, value: Any) -> None:
        self._send(code, json.dumps(value, indent=2).encode() + b"\n", "application/json")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._json(200, self.sidecar.state())
        elif path == "/healthz":
            report = health_report(self.sidecar.election)
            self._json(report.status, report.body)
        elif path == "/metrics":
            metrics = self.sidecar.metrics_text()
            if metrics is None:
                self._send(
                    404,
                    b"metrics need prometheus_client: pip install 'leader-election[metrics]'\n",
                    "text/plain; charset=utf-8",
                )
            else:
                self._send(200, metrics[0], metrics[1])
        else:
            self._json(404, {"error": f"no such path {path!r}; try /, /healthz or /metrics"})


class Sidecar:
    """A started election and the HTTP server that reports on it."""

    def __init__(self, election: LeaderElectionModule, host: str = "127.0.0.1", port: int = 4040):
        self.election = election
        self._host = host
        self._port = port
        self._httpd: http.server.HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._registry: Any = None
        self._stopped = False

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the port is the real one when 0 was asked for."""
        if self._httpd is None:
            raise MisuseError("Sidecar.address needs a started sidecar; call start() first")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def state(self) -> dict[str, Any]:
        """What ``GET /`` answers."""
        election = self.election
        return {
            "lease": election.options.lease_description,
            "identity": election.identity,
            "leader": election.leader_identity,
            "is_leader": election.is_leader,
            "fencing_token": election.fencing_token,
            "state": election.state.value,
            "healthy": election.healthy(),
        }

    def metrics_text(self) -> tuple[bytes, str] | None:
        """The exposition and its content type, or None without prometheus_client."""
        if self._registry is None:
            return None
        import prometheus_client  # noqa: PLC0415 - the optional extra, present when registered

        return prometheus_client.generate_latest(
            self._registry
        ), prometheus_client.CONTENT_TYPE_LATEST

    def start(self) -> Sidecar:
        """Bind, start serving, then start the election; returns self.

        Raises ``OSError`` when the address cannot be bound, and what ``election.start()``
        raises.
        """
        if self._httpd is not None or self._stopped:
            raise MisuseError("a Sidecar starts once; create a new one")
        try:
            import prometheus_client  # noqa: PLC0415 - optional extra

            from leader_election.metrics import instrument  # noqa: PLC0415 - needs the extra

            self._registry = prometheus_client.CollectorRegistry()
            instrument(self.election, registry=self._registry)
        except ImportError:
            self._registry = None
        handler = type("SidecarHandler", (_Handler,), {"sidecar": self})
        self._httpd = http.server.HTTPServer((self._host, self._port), handler)
        host, port = self.address
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"leader-election-sidecar[{host}:{port}]",
            daemon=True,  # a safety net only: stop() shuts it down and joins it
        )
        self._thread.start()
        try:
            self.election.start()
        except BaseException:
            self._stop_http()
            raise
        logger.info(
            "sidecar for lease %s (identity %s) serving %s",
            self.election.options.lease_description,
            self.election.identity,
            self.url,
        )
        return self

    def _stop_http(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        thread.join(_JOIN_TIMEOUT)
        httpd.server_close()
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not stop within {_JOIN_TIMEOUT} s")

    def stop(self, timeout: float | None = None) -> None:
        """Stop the election (drain, release), then the HTTP server. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.election.stop(timeout)
        finally:
            self._stop_http()

    def __enter__(self) -> Sidecar:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
