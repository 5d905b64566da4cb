"""One request to the Kubernetes API that keeps what the operations tools need.

``transport.Transport`` is the election's path (JSON bodies, decoded answers). The operations
modules (``podlabel``, ``preflight``, ``check``) also need a patch media type, the answer's
``Date`` header and the time the exchange took, so they send through ``send`` instead: the same
``ApiClient`` (configuration, credentials refreshed by ``auth_settings()``, connection pool),
no urllib3 retries, and a total timeout.

``send`` raises ``ApiError`` with status 0 when no answer came, naming the real cause (refused,
unresolvable, TLS, timed out) and how long the attempt took.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3

from leader_election._version import __version__
from leader_election.errors import ApiError
from leader_election.transport import api_error, describe_no_answer

__all__ = ["Reply", "describe_no_answer", "send"]

USER_AGENT = f"leader-election-python/{__version__}"


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: status, headers (lower-case names), body, and the exchange's duration."""

    status: int
    data: bytes
    elapsed: float  # seconds, from sending to the whole answer read (monotonic clock)
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (``{}`` when it is not one)."""
        try:
            decoded = json.loads(self.data) if self.data else None
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}

    @property
    def is_status(self) -> bool:
        """Whether the body is a Kubernetes ``Status`` object (what an API server errs with)."""
        return self.json().get("kind") == "Status"


def _headers(api_client: Any, content_type: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if content_type:
        headers["Content-Type"] = content_type
    # auth_settings() runs the client's refresh hook (exec plugins, rotated SA tokens).
    for setting in api_client.configuration.auth_settings().values():
        if setting.get("in") == "header" and setting.get("value"):
            headers[setting["key"]] = setting["value"]
    return headers


def send(
    api_client: Any,
    method: str,
    path: str,
    *,
    verb: str,
    what: str,
    timeout: float,
    body: Any = None,
    content_type: str = "application/json",
    raise_for_status: bool = True,
) -> Reply:
    """Send one request; ``timeout`` (seconds) bounds the whole exchange.

    Raises ``ApiError`` (status 0) when no answer came, and, with ``raise_for_status``, the
    ``ApiError`` leaf for an error answer (``ForbiddenError``, ``NotFoundError``, ...).
    """
    host = str(api_client.configuration.host).rstrip("/")
    payload = json.dumps(body).encode() if body is not None else None
    started = time.monotonic()
    try:
        response = api_client.rest_client.pool_manager.request(
            method,
            host + path,
            body=payload,
            headers=_headers(api_client, content_type if payload is not None else None),
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
            redirect=False,
            preload_content=True,
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        elapsed = time.monotonic() - started
        reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
        raise ApiError(
            f"{verb} {what}: {describe_no_answer(reason or exc, host, elapsed, timeout)}",
            status=0,
            reason=type(reason or exc).__name__,
            verb=verb,
        ) from exc
    elapsed = time.monotonic() - started
    headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
    reply = Reply(response.status, response.data or b"", elapsed, headers)
    if raise_for_status and not 200 <= reply.status < 300:
        raise api_error(reply.status, reply.data, verb=verb, what=what)
    return reply
