"""JSON over HTTP to the Kubernetes API, through an official ``ApiClient``.

The official client gives us configuration (kubeconfig, in-cluster, exec plugins, token
refresh), authentication headers and its urllib3 connection pool; we send the requests
ourselves instead of going through the generated ``CoordinationV1Api`` models because:

- the models drop fields they do not know, so a replace would erase ``strategy``,
  ``preferredHolder`` or any future spec field another client wrote;
- they serialize MicroTime with ``datetime.isoformat()``, which omits the fraction when the
  microseconds are zero — a value kube-apiserver rejects;
- urllib3 retries an idempotent PUT up to three times by default, each with a fresh timeout,
  which would break the renew deadline. Every request here has ``retries=False`` and a total
  timeout that fits the remaining budget.

Errors become ``ApiError`` leaves (``errors.py``); "no answer" is an ``ApiError`` with status 0.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from leader_election._version import __version__
from leader_election.errors import (
    ApiError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
)

__all__ = ["Transport", "WatchStream", "api_error", "retry_after_seconds"]

logger = logging.getLogger(__name__)

USER_AGENT = f"leader-election-python/{__version__}"

_ERROR_CLASSES: dict[int, type[ApiError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
}


_MAX_RETRY_AFTER = 3600.0


def retry_after_seconds(header: object, body: Mapping[str, Any] | None) -> float:
    """Seconds a 429/5xx answer asks to wait: the ``Retry-After`` header (delta-seconds; an
    HTTP-date is not used by kube-apiserver and is ignored), else the Status'
    ``details.retryAfterSeconds``; 0 when neither is there or valid. At most an hour."""
    seconds = 0.0
    if isinstance(header, str) and header.strip():
        try:
            seconds = float(header.strip())
        except ValueError:
            seconds = 0.0
    if not seconds and body:
        details = body.get("details")
        value = details.get("retryAfterSeconds") if isinstance(details, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
    if not 0 < seconds < float("inf"):
        return 0.0
    return min(seconds, _MAX_RETRY_AFTER)


def api_error(
    status: int, data: bytes, *, verb: str, what: str, retry_after: object = None
) -> ApiError:
    """Build the ``ApiError`` leaf for an error answer, keeping the server's Status message.

    ``retry_after`` is the answer's ``Retry-After`` header, if any."""
    body: dict[str, Any] | None = None
    try:
        decoded = json.loads(data) if data else None
        if isinstance(decoded, dict):
            body = decoded
    except ValueError:
        body = None
    reason = str(body.get("reason", "")) if body else ""
    message = str(body.get("message", "")) if body else ""
    if not message:
        snippet = data[:200].decode("utf-8", "replace").strip()
        message = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    cls = _ERROR_CLASSES.get(status, ApiError)
    return cls(
        f"{verb} {what}: {message}",
        status=status,
        reason=reason,
        body=body,
        verb=verb,
        retry_after=retry_after_seconds(retry_after, body),
    )


def describe_no_answer(exc: BaseException, host: str, elapsed: float, timeout: float) -> str:
    """Why no answer came, in words, with the time it took: "connection refused by ... after
    0.35 s" rather than "no answer within 10.00 s"."""
    text = str(exc)
    lowered = text.lower()
    # Checked before the timeout: urllib3's NewConnectionError (refused, unresolvable) is a
    # subclass of its ConnectTimeoutError, so the class alone cannot tell them apart.
    if "refused" in lowered:
        cause = "connection refused (is the API server running, and is this the right port?)"
    elif (
        "name or service not known" in lowered
        or "nodename nor servname" in lowered
        or ("failed to resolve" in lowered)
    ):
        cause = "the host name does not resolve"
    elif "certificate" in lowered or "ssl" in lowered:
        cause = f"TLS failed: {text}"
    elif "unreachable" in lowered:
        cause = "the network is unreachable"
    elif isinstance(exc, urllib3.exceptions.TimeoutError) or "timed out" in lowered:
        return f"no answer from {host} within {timeout:.2f} s (timed out)"
    else:
        cause = text
    return f"cannot reach {host} after {elapsed:.2f} s: {cause}"


class WatchStream:
    """One open watch response: iterate ``events()``; ``close()`` from any thread ends it."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._closed = False

    def events(self) -> Iterator[dict[str, Any]]:
        """Yield decoded watch events until the server ends the stream or ``close()``."""
        buffer = b""
        for chunk in self._response.stream(amt=65536, decode_content=True):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    event = json.loads(line)
                    if isinstance(event, dict):
                        yield event
        if buffer.strip() and not self._closed:
            event = json.loads(buffer)
            if isinstance(event, dict):
                yield event

    def close(self) -> None:
        """Interrupt a blocked read and drop the connection (safe to call twice, any thread)."""
        self._closed = True
        response = self._response
        shutdown = getattr(response, "shutdown", None)  # urllib3 >= 2.3
        if callable(shutdown):
            try:
                shutdown()
            except Exception:  # best effort: the stream is being abandoned
                logger.debug("shutting down a watch response failed", exc_info=True)
        else:
            sock = _response_socket(response)
            if sock is not None:
                with contextlib.suppress(OSError):  # already closed by the peer
                    sock.shutdown(socket.SHUT_RDWR)
        try:
            response.close()
        except Exception:  # closing a broken response may raise anything
            logger.debug("closing a watch response failed", exc_info=True)


def _response_socket(response: Any) -> socket.socket | None:
    """The socket under an old urllib3 response, for urllib3 versions without shutdown()."""
    for path in (("connection", "sock"), ("_connection", "sock"), ("_fp", "fp", "raw", "_sock")):
        obj: Any = response
        for attr in path:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, socket.socket):
            return obj
    return None


class Transport:
    """Requests to one API server, authenticated as an ``ApiClient`` is configured."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client
        self._configuration = api_client.configuration
        self._host = str(self._configuration.host).rstrip("/")
        self._pool = api_client.rest_client.pool_manager

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        # auth_settings() runs the client's refresh hook (exec plugins, rotated SA tokens).
        for setting in self._configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        return headers

    def url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        return self._host + path + ("?" + urlencode(query) if query else "")

    def request(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        what: str,
        timeout: float,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request and return the decoded JSON answer.

        ``timeout`` (seconds) bounds the whole exchange. Raises an ``ApiError`` leaf for an
        error answer and ``ApiError`` with status 0 when no answer came in time.
        """
        payload = json.dumps(body).encode() if body is not None else None
        started = time.monotonic()
        try:
            response = self._pool.request(
                method,
                self.url(path, query),
                body=payload,
                headers=self._headers("application/json" if payload is not None else None),
                timeout=urllib3.Timeout(total=timeout),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Says what happened ("connection refused ... after 0.35 s"), not only that no
            # answer came within the timeout.
            cause = describe_no_answer(exc, self._host, time.monotonic() - started, timeout)
            raise ApiError(
                f"{verb} {what}: {cause}",
                status=0,
                reason=type(exc).__name__,
                verb=verb,
            ) from exc
        data: bytes = response.data or b""
        if not 200 <= response.status < 300:
            raise api_error(
                response.status,
                data,
                verb=verb,
                what=what,
                retry_after=response.headers.get("Retry-After"),
            )
        try:
            decoded = json.loads(data)
        except ValueError as exc:
            raise ApiError(
                f"{verb} {what}: the answer is not JSON: {data[:200]!r}",
                status=response.status,
                verb=verb,
            ) from exc
        if not isinstance(decoded, dict):
            raise ApiError(
                f"{verb} {what}: expected a JSON object, got {type(decoded).__name__}",
                status=response.status,
                verb=verb,
            )
        return decoded

    def watch(
        self,
        path: str,
        query: Mapping[str, str],
        *,
        what: str,
        connect_timeout: float,
        read_timeout: float,
    ) -> WatchStream:
        """Open a watch; raises like ``request`` when it cannot be opened."""
        try:
            response = self._pool.request(
                "GET",
                self.url(path, query),
                headers=self._headers(),
                timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(
                f"watch {what}: no answer from {self._host}: {exc}",
                status=0,
                reason=type(exc).__name__,
                verb="watch",
            ) from exc
        if not 200 <= response.status < 300:
            data = response.data or b""
            response.release_conn()
            raise api_error(
                response.status,
                data,
                verb="watch",
                what=what,
                retry_after=response.headers.get("Retry-After"),
            )
        return WatchStream(response)


def lease_path(namespace: str, name: str | None = None) -> str:
    """The REST path of the Leases of ``namespace`` (or of one Lease)."""
    path = f"/apis/coordination.k8s.io/v1/namespaces/{quote(namespace, safe='')}/leases"
    return path if name is None else f"{path}/{quote(name, safe='')}"
