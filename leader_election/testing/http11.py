"""HTTP/1.1 on one connection: reading requests, writing responses and chunked streams.

Small and strict on purpose: the embedded server needs control no stock server gives — holding
a request without answering (a blackhole), closing without answering (a dropped connection),
noticing a client that hung up during a watch, and closing every connection from ``stop()``.

Persistent connections follow RFC 9112: HTTP/1.1 keeps the connection unless ``Connection:
close``; HTTP/1.0 closes unless ``Connection: keep-alive``. Request bodies come with
``Content-Length`` or ``Transfer-Encoding: chunked``; ``Expect: 100-continue`` is honoured.
Every blocking call is bounded: reads poll in short slices so a closing server is noticed.
"""

from __future__ import annotations

import contextlib
import email.utils
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

__all__ = [
    "BodyTooLarge",
    "Connection",
    "ProtocolError",
    "Request",
    "reason_phrase",
]

MAX_HEADER_BYTES = 1 << 20  # Go's http.DefaultMaxHeaderBytes
POLL_INTERVAL = 0.5  # seconds between checks of the stop flag while a read blocks
SEND_TIMEOUT = 30.0  # a client that does not read for this long is dropped
HEADER_TIMEOUT = 60.0  # a request's head must arrive within this time once it started

_REASONS = {
    100: "Continue",
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    410: "Gone",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def reason_phrase(code: int) -> str:
    return _REASONS.get(code, "Unknown")


class ProtocolError(Exception):
    """The bytes are not an HTTP/1.1 request; answer 400 (or ``code``) and close."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


class BodyTooLarge(Exception):
    """The request body exceeds the limit; answer 413 and close."""


class ConnectionClosed(Exception):
    """The peer went away, or the server is stopping."""


@dataclass(slots=True)
class Request:
    """One parsed request."""

    method: str
    target: str
    path: str  # percent-decoded, as Go's URL.Path
    query: dict[str, list[str]]
    version: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes = b""
    keep_alive: bool = True
    raw_headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, as Go's ``url.Values.Get`` (None if absent)."""
        values = self.query.get(name)
        return values[0] if values else None


def _parse_query(raw: str) -> dict[str, list[str]]:
    # Go's url.ParseQuery drops pairs it cannot decode (and, since 1.17, pairs with ';').
    query: dict[str, list[str]] = {}
    for pair in raw.split("&"):
        if not pair or ";" in pair:
            continue
        try:
            items = parse_qsl(pair, keep_blank_values=True, strict_parsing=True, errors="strict")
        except (ValueError, UnicodeDecodeError):
            continue
        for key, value in items:
            query.setdefault(key, []).append(value)
    return query


class Connection:
    """A client connection: a socket, a read buffer and the framing state."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        stopping: threading.Event,
        max_body: int,
        idle_timeout: float = 300.0,
    ) -> None:
        self.sock = sock
        self._stopping = stopping
        self._max_body = max_body
        self._idle_timeout = idle_timeout
        self._buffer = bytearray()
        self._closed = False
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------

    def _recv(self, deadline: float | None) -> None:
        """Read more bytes into the buffer; raise ConnectionClosed on EOF or stop."""
        while True:
            if self._stopping.is_set() or self._closed:
                raise ConnectionClosed
            if deadline is not None and time.monotonic() >= deadline:
                raise ConnectionClosed
            try:
                self.sock.settimeout(POLL_INTERVAL)
                data = self.sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (OSError, ValueError):
                raise ConnectionClosed from None
            if not data:
                raise ConnectionClosed
            self._buffer += data
            return

    def read_request(self) -> Request | None:
        """The next request, or None when the client closed (or the server stops) between requests.

        Raises ``ProtocolError`` for malformed requests and ``BodyTooLarge`` for oversized bodies.
        """
        idle_deadline = time.monotonic() + self._idle_timeout
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                head_end, skip = end, 4
                break
            end = self._buffer.find(b"\n\n")
            if end >= 0:
                head_end, skip = end, 2
                break
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise ProtocolError("request header fields too large", 431)
            deadline = idle_deadline if not self._buffer else time.monotonic() + HEADER_TIMEOUT
            try:
                self._recv(deadline)
            except ConnectionClosed:
                if self._buffer.strip():
                    raise ProtocolError("incomplete request") from None
                return None
        head = bytes(self._buffer[:head_end]).decode("latin-1")
        del self._buffer[: head_end + skip]
        lines = head.replace("\r\n", "\n").split("\n")
        while lines and not lines[0]:
            lines.pop(0)  # tolerate empty lines before a request line (RFC 9112 §2.2)
        if not lines:
            raise ProtocolError("empty request")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise ProtocolError(f"malformed request line {lines[0][:100]!r}")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise ProtocolError(f"unsupported protocol version {version[:20]!r}")
        if not all(33 <= ord(c) <= 126 for c in method):
            raise ProtocolError("invalid method")
        raw_headers: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line[:1] in (" ", "\t"):
                raise ProtocolError("obsolete header line folding")
            name, sep, value = line.partition(":")
            if (
                not sep
                or not name
                or name != name.strip()
                or any(c in name for c in ' \t()<>@,;\\"/[]?={}')
            ):
                raise ProtocolError(f"malformed header line {line[:100]!r}")
            value = value.strip(" \t")
            raw_headers.append((name, value))
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if version == "HTTP/1.1" and "host" not in headers:
            raise ProtocolError("missing required Host header")
        connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        if version == "HTTP/1.1":
            keep_alive = "close" not in connection
        else:
            keep_alive = "keep-alive" in connection
        if not target.startswith("/"):
            if target == "*" or "://" not in target:
                raise ProtocolError(f"invalid request target {target[:100]!r}")
            # absolute-form: keep the path and query only
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        raw_path, _, raw_query = target.partition("?")
        try:
            path = unquote(raw_path, errors="strict")
        except UnicodeDecodeError:
            path = unquote(raw_path, errors="replace")
        request = Request(
            method=method,
            target=target,
            path=path,
            query=_parse_query(raw_query),
            version=version,
            headers=headers,
            keep_alive=keep_alive,
            raw_headers=raw_headers,
        )
        request.body = self._read_body(request)
        return request

    def _read_exact(self, size: int) -> bytes:
        deadline = time.monotonic() + HEADER_TIMEOUT
        while len(self._buffer) < size:
            try:
                self._recv(deadline)
            except ConnectionClosed:
                raise ProtocolError("request body ended early") from None
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _read_line(self) -> bytes:
        deadline = time.monotonic() + HEADER_TIMEOUT
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line.rstrip(b"\r\n")
            if len(self._buffer) > 65536:
                raise ProtocolError("chunk header too long")
            try:
                self._recv(deadline)
            except ConnectionClosed:
                raise ProtocolError("request body ended early") from None

    def _continue(self, request: Request) -> None:
        if request.header("expect").lower() == "100-continue" and request.version == "HTTP/1.1":
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _read_body(self, request: Request) -> bytes:
        encoding = request.header("transfer-encoding").lower()
        if encoding:
            codings = [c.strip() for c in encoding.split(",")]
            if codings != ["chunked"]:
                raise ProtocolError(f"unsupported transfer encoding {encoding[:50]!r}")
            self._continue(request)
            body = bytearray()
            while True:
                size_line = self._read_line().split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise ProtocolError("malformed chunk size") from None
                if size < 0:
                    raise ProtocolError("malformed chunk size")
                if size == 0:
                    while self._read_line():
                        pass  # trailers
                    return bytes(body)
                if len(body) + size > self._max_body:
                    raise BodyTooLarge
                body += self._read_exact(size)
                if self._read_exact(2) not in (b"\r\n",):
                    raise ProtocolError("malformed chunk")
        length_header = request.header("content-length")
        if not length_header:
            return b""
        values = {v.strip() for v in length_header.split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise ProtocolError(f"invalid Content-Length {length_header[:50]!r}")
        length = int(next(iter(values)))
        if length > self._max_body:
            raise BodyTooLarge
        if length:
            self._continue(request)
        return self._read_exact(length)

    # -- writing -----------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                raise ConnectionClosed
            try:
                self.sock.settimeout(SEND_TIMEOUT)
                self.sock.sendall(data)
            except (OSError, ValueError):
                raise ConnectionClosed from None

    @staticmethod
    def _head(code: int, headers: Iterable[tuple[str, str]]) -> bytearray:
        head = bytearray(f"HTTP/1.1 {code} {reason_phrase(code)}\r\n".encode("latin-1"))
        for name, value in headers:
            head += f"{name}: {value}\r\n".encode("latin-1", errors="replace")
        head += f"Date: {email.utils.formatdate(usegmt=True)}\r\n".encode("latin-1")
        return head

    def send_response(
        self,
        code: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        keep_alive: bool,
        head_only: bool = False,
    ) -> None:
        head = self._head(code, headers)
        head += f"Content-Length: {len(body)}\r\n".encode("latin-1")
        if not keep_alive:
            head += b"Connection: close\r\n"
        head += b"\r\n"
        self._send(bytes(head) if head_only else bytes(head) + body)

    def start_stream(self, code: int, headers: Iterable[tuple[str, str]]) -> None:
        head = self._head(code, headers)
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        self._send(bytes(head))

    def send_chunk(self, data: bytes) -> None:
        if data:
            self._send(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self._send(b"0\r\n\r\n")

    # -- liveness ----------------------------------------------------------------------------

    def peer_closed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the peer to hang up; True when it did (or we are closed).

        Bytes that arrive meanwhile (a pipelined request) are kept for the next read.
        """
        if self._closed:
            return True
        try:
            if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                readable = True
            else:
                # poll, not select: select cannot watch descriptors above FD_SETSIZE (1024),
                # and a server holding many watches has more.
                poller = select.poll()
                poller.register(self.sock, select.POLLIN | select.POLLPRI)
                readable = bool(poller.poll(timeout * 1000))
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        try:
            self.sock.settimeout(0.0)
            data = self.sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except (OSError, ValueError):
            return True
        if not data:
            return True
        self._buffer += data
        if len(self._buffer) > MAX_HEADER_BYTES:
            return True
        # Data keeps arriving while we hold the request: wait instead of spinning on select.
        self._stopping.wait(min(timeout, 0.05))
        return False

    def abort(self) -> None:
        """Close the connection now, from any thread (the owner notices on its next I/O)."""
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


def parse_authorization(value: str) -> tuple[str, str]:
    """Split ``Bearer <token>`` into (scheme lower-cased, credentials)."""
    scheme, _, credentials = value.strip().partition(" ")
    return scheme.lower(), credentials.strip()
