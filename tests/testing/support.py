"""Helpers shared by the server tests (not fixtures)."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException


def status_of(exc: ApiException) -> dict[str, Any]:
    """The Status body of an API error."""
    assert exc.body, f"no body in {exc!r}"
    body: dict[str, Any] = json.loads(exc.body)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == exc.status
    return body


def raw(
    api_client: Any,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """A request through the official client's transport with a body it would not produce.

    Used where the typed API cannot express the input under test (malformed JSON, a wrong
    Content-Type, an oversized body). Returns the urllib3 response.
    """
    configuration = api_client.configuration
    all_headers = {"Accept": "application/json", **(headers or {})}
    token = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
    if token:
        all_headers["Authorization"] = token
    return api_client.rest_client.pool_manager.request(
        method,
        configuration.host + path,
        body=body,
        headers=all_headers,
        preload_content=True,
        timeout=30,
    )


def lease(name: str, **spec: Any) -> Any:
    """A ``V1Lease`` body."""
    return client.V1Lease(metadata=client.V1ObjectMeta(name=name), spec=client.V1LeaseSpec(**spec))


def continue_token(listed: Any) -> str | None:
    """A list's continue token (the field's Python name differs between client releases)."""
    meta = listed.metadata
    token = getattr(meta, "var_continue", None) or getattr(meta, "_continue", None)
    return str(token) if token else None
