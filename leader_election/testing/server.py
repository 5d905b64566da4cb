"""The embedded Kubernetes Lease API server: ``LeaseAPIServer``.

An in-process kube-apiserver for what leader election touches — Leases, ConfigMaps, Namespaces,
Events, Pods (for leader-pod labels) and SelfSubjectAccessReviews — reproducing the real
server's semantics: resourceVersion conflicts, Status bodies, watch streams with bookmarks and
410 Expired, Table output for kubectl, authentication, RBAC and TLS (opt-in). Tests point the
official ``kubernetes`` client or kubectl at it.

Threads: one accept thread and one thread per connection (HTTP/1.1 keep-alive; a watch is
served on its connection's thread). All are named ``lease-api-server[PORT]-...``; ``stop()``
closes the listener and every connection (open watches and requests held by faults included)
and joins every thread with a bounded join that raises if one is still alive.

Request pipeline, in kube-apiserver's order: authentication (401) → fault injection →
authorization (403) → routing (404/405) → the verb's handler. Every request ends up in the
request log.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import secrets
import selectors
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from kubernetes import client

from leader_election.errors import ConfigurationError, MisuseError
from leader_election.testing import kubeconfig as kubeconfig_files
from leader_election.testing import kubetime, requestinfo, review, status
from leader_election.testing.api import (
    MAX_REQUEST_BODY_BYTES,
    Api,
    Response,
    WatchStream,
    is_pretty,
    parse_request_body,
    status_response,
)
from leader_election.testing.auth import (
    ANONYMOUS,
    SYSTEM_MASTERS,
    AuthenticationFailed,
    Authenticator,
    Decision,
    RBACAuthorizer,
    RequestAttributes,
    UserInfo,
    forbidden_status,
    unauthorized_status,
)
from leader_election.testing.faults import Fault, FaultInjector
from leader_election.testing.http11 import (
    BodyTooLarge,
    Connection,
    ConnectionClosed,
    ProtocolError,
    Request,
)
from leader_election.testing.requestlog import RequestLog, RequestLogEntry
from leader_election.testing.resources import NAMESPACES, resource_by_name
from leader_election.testing.schema import dumps
from leader_election.testing.status import StatusError
from leader_election.testing.store import Store
from leader_election.testing.tls import ServerTLS

__all__ = ["ADMIN_USER", "LeaseAPIServer"]

logger = logging.getLogger(__name__)

ADMIN_USER = "admin"
ADMIN_GROUPS = ("system:masters", "system:authenticated")
# Who a request without (valid) credentials is when authentication is off.
_ADMIN_LIKE = UserInfo(ADMIN_USER, ADMIN_GROUPS)
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_ACCEPT_POLL = 0.5
_HANDSHAKE_TIMEOUT = 10.0


class LeaseAPIServer:
    """An in-process kube-apiserver for Leases, ConfigMaps, Namespaces, Events and Pods.

    Threaded HTTP/1.1 on ``host``:``port`` (a free port by default). Use as a context manager
    or call ``start()`` / ``stop()``; ``stop()`` closes every connection and joins every thread.

    Reaching it: ``url``, ``kubeconfig_path`` (admin, group ``system:masters``),
    ``api_client(user=...)``, ``write_kubeconfig(path, user=...)``, ``add_user(name, groups)``.
    Inspecting it: ``get_object(resource, namespace, name)``, ``requests`` (the request log),
    ``resource_version``, ``compact()``. Breaking it: ``faults``.

    Args:
        tls: serve HTTPS with a throwaway CA; client certificates authenticate.
        authentication: when true, unknown tokens get 401 and requests without credentials are
            ``system:anonymous``; when false a request without (known) credentials acts as the
            admin, and a known token or certificate still names its user (for per-user request
            logs and faults).
        rbac: when truthy, RBAC decides (403 Forbidden); a path or YAML text is loaded into it.
        namespaces: the namespaces that exist at start (``default``, ``kube-system``,
            ``kube-public`` and ``kube-node-lease`` always).
        history: changes kept per resource for watches (the watch cache window); a watch from
            an older resourceVersion gets 410 Expired.
        bookmark_interval: seconds between BOOKMARK events on watches that allow them (the real
            server uses about 60 s, plus one 2 s before the watch's timeout).
        request_log_size: finished requests kept in ``requests``.
        fault_seed: seeds the dice of faults added with ``rate < 1`` (for repeatable runs).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        authentication: bool = False,
        rbac: bool | str | os.PathLike[str] = False,
        namespaces: Sequence[str] = (),
        history: int = 1000,
        bookmark_interval: float = 60.0,
        request_log_size: int = 200_000,
        fault_seed: int | None = None,
    ) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError(
                f"port={port!r} must be 0 (any free port) or 1..65535", option="port", value=port
            )
        if not isinstance(history, int) or history < 1:
            raise ConfigurationError(
                f"history={history!r} must be at least 1 (changes kept per resource for watches)",
                option="history",
                value=history,
            )
        if not isinstance(bookmark_interval, (int, float)) or bookmark_interval <= 0:
            raise ConfigurationError(
                f"bookmark_interval={bookmark_interval!r} must be a positive number of seconds",
                option="bookmark_interval",
                value=bookmark_interval,
            )
        self._host = host
        self._requested_port = port
        self._tls_enabled = tls
        self._authentication = authentication
        self._rbac_enabled = bool(rbac)
        self._rbac_source = rbac if isinstance(rbac, (str, os.PathLike)) else None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._state = "new"
        self._store = Store(history=history)
        self._requests = RequestLog(request_log_size)
        self._faults = FaultInjector(seed=fault_seed)
        self._authenticator = Authenticator()
        self._rbac = RBACAuthorizer()
        # name -> (token, groups): what token_for() and client certificates need; the
        # authenticator holds the tokens themselves.
        self._users: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._admin_token = secrets.token_urlsafe(32)
        self.add_user(ADMIN_USER, [SYSTEM_MASTERS], token=self._admin_token)
        self._api = Api(
            self._store,
            server_address=lambda: f"{self._host}:{self.port}",
            bookmark_interval=float(bookmark_interval),
            stopping=self._stopping,
        )
        self._listener: socket.socket | None = None
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._accept_thread: threading.Thread | None = None
        self._threads: set[threading.Thread] = set()
        self._connections: set[Connection] = set()
        self._handshaking: set[ssl.SSLSocket] = set()
        self._clients: list[Any] = []
        self._thread_ids = 0
        self._port = 0
        self._tmpdir: Path | None = None
        self._kubeconfig_path: str | None = None
        self._tls: Any = None
        self._ssl_context: ssl.SSLContext | None = None
        self._ca_path: str | None = None
        self._bootstrap(["default", "kube-system", "kube-public", "kube-node-lease", *namespaces])

    # -- lifecycle -------------------------------------------------------------------------

    def _bootstrap(self, names: Sequence[str]) -> None:
        def create(txn: Any) -> None:
            for name in dict.fromkeys(names):
                if txn.get(NAMESPACES, "", name) is None:
                    obj: dict[str, Any] = {
                        "metadata": {
                            "name": name,
                            "uid": str(uuid.uuid4()),
                            "creationTimestamp": kubetime.format_time(kubetime.now()),
                        }
                    }
                    NAMESPACES.prepare_for_create(obj)
                    errors = NAMESPACES.validate(obj)
                    if errors:
                        raise ConfigurationError(
                            f"namespaces: {name!r} is not a valid namespace name: {errors[0]}",
                            option="namespaces",
                            value=name,
                        )
                    txn.put(NAMESPACES, obj)

        self._store.transact(create)
        # The watch cache starts after the bootstrap objects, as a real one starts from a list.
        self._store.seal_history()

    def start(self) -> LeaseAPIServer:
        """Bind, start serving and write the admin kubeconfig; returns ``self``."""
        with self._lock:
            if self._state != "new":
                raise MisuseError(
                    f"LeaseAPIServer.start() called on a server that is {self._state}; "
                    "create a new LeaseAPIServer for each run"
                )
            self._state = "starting"
        try:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="lease-api-server-"))
            if self._tls_enabled:
                self._tls = ServerTLS()
                self._ssl_context = self._tls.server_context()
                self._ca_path = str(self._tmpdir / "ca.crt")
                Path(self._ca_path).write_bytes(self._tls.ca_pem)
            if self._rbac_source is not None:
                self._rbac.load(self._rbac_source)
            listener = socket.socket(
                socket.AF_INET6 if ":" in self._host else socket.AF_INET, socket.SOCK_STREAM
            )
            self._listener = listener  # closed by _cleanup() if binding fails
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self._host, self._requested_port))
            listener.listen(128)
            listener.setblocking(False)
            self._port = listener.getsockname()[1]
            self._wakeup = socket.socketpair()
            self._kubeconfig_path = self.write_kubeconfig(self._tmpdir / "kubeconfig")
            thread = threading.Thread(
                target=self._accept_loop, name=f"lease-api-server[{self._port}]-accept", daemon=True
            )
            self._accept_thread = thread
            thread.start()
        except BaseException:
            self._state = "stopped"
            self._cleanup()
            raise
        self._state = "running"
        logger.info(
            "lease API server listening on %s (kubeconfig %s)", self.url, self._kubeconfig_path
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection, join every thread (bounded), clean up.

        Raises ``RuntimeError`` naming the threads still alive after ``timeout`` seconds.
        Calling it again is a no-op.
        """
        with self._lock:
            if self._state in ("new", "stopped"):
                self._state = "stopped"
                return
            self._state = "stopping"
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._wakeup is not None:
            with contextlib.suppress(OSError):
                self._wakeup[1].send(b"x")
        self._store.close()
        self._faults.clear()
        with self._lock:
            connections = list(self._connections)
            handshaking = list(self._handshaking)
        for conn in connections:
            conn.abort()
        for tls in handshaking:
            # The socket level: the TLS object is busy in another thread's handshake.
            with contextlib.suppress(OSError, ValueError):
                socket.socket.shutdown(tls, socket.SHUT_RDWR)
        threads = [self._accept_thread] if self._accept_thread else []
        with self._lock:
            threads += list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        # Connection threads started while we were joining the accept thread.
        with self._lock:
            late = [t for t in self._threads if t not in threads]
        for thread in late:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads + late if t.is_alive()]
        self._cleanup()
        self._state = "stopped"
        if alive:
            raise RuntimeError(
                f"lease API server threads still running {timeout:g} s after stop(): "
                f"{sorted(alive)}"
            )
        logger.info("lease API server on port %s stopped", self._port)

    def _cleanup(self) -> None:
        for api_client in self._clients:
            try:
                api_client.close()
                api_client.rest_client.pool_manager.clear()
            except Exception:
                logger.debug("closing an api client failed", exc_info=True)
        self._clients.clear()
        for sock in (self._listener, *(self._wakeup or ())):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._listener = None
        self._wakeup = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> LeaseAPIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- how clients reach it --------------------------------------------------------------

    def _require_running(self, what: str) -> None:
        if self._state not in ("running", "starting"):
            raise MisuseError(
                f"LeaseAPIServer.{what} needs a started server (it is {self._state}); "
                "call start() first"
            )

    @property
    def port(self) -> int:
        """The bound port (0 before ``start()``)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``tls=True``)."""
        self._require_running("url")
        scheme = "https" if self._tls_enabled else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self._port}"

    @property
    def kubeconfig_path(self) -> str:
        """A kubeconfig file for the admin user (group ``system:masters``)."""
        self._require_running("kubeconfig_path")
        assert self._kubeconfig_path is not None
        return self._kubeconfig_path

    @property
    def ca_pem(self) -> bytes | None:
        """The CA certificate (PEM) clients must trust with ``tls=True``; None without TLS."""
        return self._tls.ca_pem if self._tls is not None else None

    @property
    def ca_path(self) -> str | None:
        """A file holding ``ca_pem`` (what ``ssl_ca_cert`` of the official client wants)."""
        return self._ca_path

    def add_user(self, name: str, groups: Sequence[str] = (), *, token: str | None = None) -> str:
        """Register a bearer token for ``name`` (member of ``groups``) and return it.

        The user is also in ``system:authenticated``. Without ``authentication=True`` the
        token still names its user in the request log and for per-user faults.
        """
        token = token or secrets.token_urlsafe(32)
        self._authenticator.add_token(token, name, groups)
        with self._lock:
            self._users[name] = (token, tuple(groups))
        return token

    def token_for(self, user: str | None = None) -> str:
        """The bearer token of ``user`` (admin when None); registers an unknown user."""
        name = user or ADMIN_USER
        with self._lock:
            known = self._users.get(name)
        return known[0] if known is not None else self.add_user(name)

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        user: str | None = None,
        client_certificate: bool = False,
        namespace: str = "default",
    ) -> str:
        """Write a kubeconfig for ``user`` (admin when ``None``) to ``path``; return the path.

        With ``client_certificate=True`` (needs ``tls=True``) the user authenticates with a
        client certificate (CN = user, O = its groups) instead of a bearer token.
        """
        self._require_running("write_kubeconfig()")
        name = user or ADMIN_USER
        ca_pem = self.ca_pem
        if client_certificate:
            cert = self._client_certificate(name)
            config = kubeconfig_files.kubeconfig(
                server=self.url,
                user=name,
                ca_pem=ca_pem,
                client_cert_pem=cert.cert_pem,
                client_key_pem=cert.key_pem,
                namespace=namespace,
            )
        else:
            config = kubeconfig_files.kubeconfig(
                server=self.url,
                user=name,
                token=self.token_for(name),
                ca_pem=ca_pem,
                namespace=namespace,
            )
        return kubeconfig_files.write_kubeconfig(path, config)

    def _client_certificate(self, name: str) -> Any:
        if self._tls is None:
            raise ConfigurationError(
                "client certificates need a TLS server; create it with LeaseAPIServer(tls=True)",
                option="client_certificate",
                value=True,
            )
        with self._lock:
            known = self._users.get(name)
        groups = known[1] if known is not None else ()
        return self._tls.issue_client_certificate(name, groups)

    def api_client(self, *, user: str | None = None, client_certificate: bool = False) -> Any:
        """A configured ``kubernetes.client.ApiClient`` for ``user`` (admin when ``None``).

        The server closes the clients it handed out when it stops.
        """
        self._require_running("api_client()")
        configuration = client.Configuration()
        configuration.host = self.url
        name = user or ADMIN_USER
        if self._tls_enabled:
            configuration.ssl_ca_cert = self._ca_path
        if client_certificate:
            cert = self._client_certificate(name)
            assert self._tmpdir is not None
            cert_path = self._tmpdir / f"{secrets.token_hex(8)}.crt"
            key_path = self._tmpdir / f"{secrets.token_hex(8)}.key"
            cert_path.write_bytes(cert.cert_pem)
            key_path.write_bytes(cert.key_pem)
            configuration.cert_file = str(cert_path)
            configuration.key_file = str(key_path)
        else:
            configuration.api_key = {"authorization": self.token_for(name)}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        api_client = client.ApiClient(configuration)
        with self._lock:
            self._clients.append(api_client)
        return api_client

    @property
    def authenticator(self) -> Authenticator:
        return self._authenticator

    @property
    def rbac(self) -> RBACAuthorizer:
        return self._rbac

    # -- inspection and faults --------------------------------------------------------------

    @property
    def requests(self) -> RequestLog:
        """The request log (see ``requestlog.RequestLog``)."""
        return self._requests

    @property
    def faults(self) -> FaultInjector:
        """Fault injection (see ``faults.FaultInjector``)."""
        return self._faults

    @property
    def store(self) -> Store:
        """The object store (for inspection; write through the API)."""
        return self._store

    @property
    def resource_version(self) -> str:
        """The cluster-wide resourceVersion of the latest write."""
        return str(self._store.resource_version)

    def compact(self) -> str:
        """Drop the watch history, as an etcd compaction: older watches get 410 Expired."""
        return str(self._store.compact())

    def get_object(self, resource: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The stored object as the API would return it, or ``None``.

        ``resource`` is a plural, singular, kind or short name (``leases``, ``Lease``, ``cm``);
        ``namespace`` is ignored for namespaces.
        """
        rtype = resource_by_name(resource)
        record = self._store.get(rtype, namespace if rtype.namespaced else "", name)
        return None if record is None else record.full()

    # -- serving ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        wakeup = self._wakeup
        assert listener is not None
        assert wakeup is not None
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        selector.register(wakeup[0], selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                for key, _ in selector.select(_ACCEPT_POLL):
                    if key.fileobj is not listener or self._stopping.is_set():
                        continue
                    try:
                        sock, _addr = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:
                        if self._stopping.is_set():
                            return
                        # Out of file descriptors (EMFILE) and the like: the connection waits in
                        # the backlog; back off instead of spinning on a listener that stays
                        # readable.
                        logger.warning("lease API server cannot accept a connection: %s", exc)
                        self._stopping.wait(0.1)
                        continue
                    self._spawn(sock)
        finally:
            selector.close()

    def _spawn(self, sock: socket.socket) -> None:
        with self._lock:
            if self._stopping.is_set():
                sock.close()
                return
            self._thread_ids += 1
            thread = threading.Thread(
                target=self._serve_connection,
                args=(sock,),
                name=f"lease-api-server[{self._port}]-conn-{self._thread_ids}",
                daemon=True,
            )
            self._threads.add(thread)
        try:
            thread.start()
        except RuntimeError as exc:  # "can't start new thread": refuse this one, keep serving
            logger.warning("lease API server cannot serve another connection: %s", exc)
            with self._lock:
                self._threads.discard(thread)
            sock.close()

    def _serve_connection(self, sock: socket.socket) -> None:
        conn: Connection | None = None
        try:
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer_cert = None
            if self._ssl_context is not None:
                sock.settimeout(_HANDSHAKE_TIMEOUT)
                tls = self._ssl_context.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False
                )
                sock = tls
                # stop() shuts down a socket still in its handshake too, so no join waits on it.
                # It sets _stopping before it looks at _handshaking: a socket added after that
                # look sees _stopping here, one added before it is shut down by stop().
                with self._lock:
                    self._handshaking.add(tls)
                if self._stopping.is_set():
                    with self._lock:
                        self._handshaking.discard(tls)
                    tls.close()
                    return
                try:
                    tls.do_handshake()
                except (OSError, ssl.SSLError, ValueError):
                    logger.debug("TLS handshake failed", exc_info=True)
                    tls.close()
                    return
                finally:
                    with self._lock:
                        self._handshaking.discard(tls)
                peer_cert = tls.getpeercert() or None
            conn = Connection(sock, stopping=self._stopping, max_body=MAX_REQUEST_BODY_BYTES)
            with self._lock:
                if self._stopping.is_set():
                    return
                self._connections.add(conn)
            while not self._stopping.is_set():
                try:
                    request = conn.read_request()
                except ProtocolError as exc:
                    self._write(conn, _protocol_response(exc), keep_alive=False)
                    break
                except BodyTooLarge:
                    error = status.request_entity_too_large(f"limit is {MAX_REQUEST_BODY_BYTES}")
                    self._write(conn, status_response(error), keep_alive=False)
                    break
                if request is None:
                    break
                if not self._handle(conn, request, peer_cert):
                    break
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("lease API server connection failed")
        finally:
            if conn is not None:
                conn.close()
                with self._lock:
                    self._connections.discard(conn)
            else:
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _write(
        self, conn: Connection, response: Response, *, keep_alive: bool, head_only: bool = False
    ) -> None:
        headers = [
            ("Audit-Id", str(uuid.uuid4())),
            ("Cache-Control", "no-cache, private"),
            ("Content-Type", response.content_type),
            *response.headers,
        ]
        with contextlib.suppress(ConnectionClosed):
            conn.send_response(
                response.code, headers, response.body, keep_alive=keep_alive, head_only=head_only
            )

    def _authenticate(self, request: Request, peer_cert: Mapping[str, Any] | None) -> UserInfo:
        header = request.header("authorization") or None
        try:
            user = self._authenticator.authenticate(header, peer_cert)
        except AuthenticationFailed:
            if self._authentication:
                raise StatusError(unauthorized_status()) from None
            return _ADMIN_LIKE
        if user == ANONYMOUS and not self._authentication:
            # Without authentication, a request without credentials may do anything, but a
            # known token or certificate still names its user (request logs, per-user faults).
            return _ADMIN_LIKE
        return user

    def _authorize(self, user: UserInfo, info: requestinfo.RequestInfo) -> None:
        if not self._rbac_enabled:
            return
        attrs = RequestAttributes(
            user=user,
            verb=info.verb,
            api_group=info.group,
            resource=info.resource,
            namespace=info.namespace,
            name=info.name,
            subresource=info.subresource,
            resource_request=info.is_resource,
            path=info.path,
        )
        decision = self._rbac.decide(attrs)
        if not decision.allowed:
            raise StatusError(forbidden_status(attrs, decision.reason))

    def _decide(self, attrs: RequestAttributes) -> Decision:
        """What this server's authorizer says (everything is allowed without RBAC mode)."""
        if not self._rbac_enabled:
            return Decision(True)
        return self._rbac.decide(attrs)

    def _handle(
        self, conn: Connection, request: Request, peer_cert: Mapping[str, Any] | None
    ) -> bool:
        """Serve one request; returns whether the connection may serve another."""
        started = time.monotonic()
        info = requestinfo.parse(request.method, request.path, request.query)
        token = self._requests.begin(
            RequestLogEntry(
                monotonic=started,
                wall=datetime.datetime.now(datetime.timezone.utc),
                user="",
                verb=info.verb,
                resource=info.resource,
                namespace=info.namespace,
                name=info.name,
                code=0,
                duration=0.0,
                method=request.method,
                path=request.path,
                subresource=info.subresource,
            )
        )
        fault_kind = ""
        logged = False
        keep_alive = request.keep_alive
        head_only = request.method == "HEAD"

        def log(code: int) -> None:
            # Logged before the answer is written: a client that got its answer finds its
            # request in the log at once.
            nonlocal logged
            if not logged:
                logged = True
                duration = time.monotonic() - started
                self._requests.end(token, code=code, duration=duration, fault=fault_kind)

        def answer(response: Response, *, keep: bool) -> bool:
            log(response.code)
            self._write(conn, response, keep_alive=keep, head_only=head_only)
            return keep

        try:
            user = self._authenticate(request, peer_cert)
            self._requests.update(token, user=user.name)
            decision = self._faults.decide(
                user.name, info.verb, info.resource, info.namespace, info.name
            )
            fault_kind = decision.kind
            if decision.latency and self._stopping.wait(decision.latency):
                return False
            action = decision.action
            if action is not None:
                if action.kind == "error":
                    raise _injected_error(action)
                if action.kind == "blackhole":
                    self._requests.update(token, fault=fault_kind)
                    self._hold(conn, action)
                return False  # dropped, or held until the client, the fault or stop() ended it
            self._authorize(user, info)
            if review.handles(info):
                code, body = review.review(request, info, user, self._decide, parse_request_body)
                return answer(
                    Response(code, dumps(body, pretty=is_pretty(request))), keep=keep_alive
                )
            result = self._api.handle(request, info)
            if isinstance(result, WatchStream):

                def partitioned() -> bool:
                    nonlocal fault_kind
                    cut = self._faults.partition(
                        user.name, info.verb, info.resource, info.namespace, info.name
                    )
                    if cut is None:
                        return False
                    fault_kind = "blackhole"
                    self._requests.update(token, fault=fault_kind)
                    self._hold(conn, cut)
                    return True

                try:
                    result.serve(conn, self._stopping, partitioned)
                finally:
                    result.close()
                    log(200)
                # A stream cut by a partition ended without its last chunk: never reuse it.
                return keep_alive and fault_kind != "blackhole" and not conn.peer_closed(0)
            return answer(result, keep=keep_alive)
        except StatusError as error:
            return answer(status_response(error), keep=keep_alive)
        except ConnectionClosed:
            return False
        except Exception as exc:
            logger.exception("lease API server failed on %s %s", request.method, request.path)
            failure = status.internal_error(f"{type(exc).__name__}: {exc}")
            return answer(status_response(failure), keep=False)
        finally:
            log(0)

    def _hold(self, conn: Connection, fault: Fault) -> None:
        """Leave a request unanswered until its client hangs up, the fault is lifted (which
        closes the connection) or the server stops."""
        if not fault.hold(conn.abort):
            return
        try:
            while not self._stopping.is_set() and fault.active:
                if conn.peer_closed(_ACCEPT_POLL):
                    return
        finally:
            fault.release(conn.abort)


def _protocol_response(exc: ProtocolError) -> Response:
    """Bytes that are not HTTP: Go answers a plain-text 400 (431 for huge heads); we add a
    Status body so every error a client sees is one."""
    if exc.code == 431:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": str(exc),
            "code": 431,
        }
        return Response(431, dumps(body))
    return status_response(status.bad_request(str(exc)))


def _injected_error(fault: Fault) -> StatusError:
    if fault.status == 429:
        return status.too_many_requests(
            fault.message or "Too many requests, please try again later.", fault.retry_after
        )
    if fault.status == 503:
        return status.service_unavailable(
            fault.message or "injected fault: the server is currently unable to handle the request"
        )
    if fault.status == 504:
        return status.timeout(fault.message or "injected fault", fault.retry_after)
    return status.internal_error(fault.message or "injected fault")
