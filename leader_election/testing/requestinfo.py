"""What a request is about, decided from its method, path and query as kube-apiserver decides it.

``parse`` follows ``RequestInfoFactory.NewRequestInfo``: ``/apis/{group}/{version}/namespaces/
{ns}/{resource}/{name}/{subresource}`` (``/api/v1/...`` for the core group), the legacy
``/watch/`` prefix, and the verb from the method (GET without a name is ``list``, or ``watch``
with ``?watch=true``; DELETE without a name is ``deletecollection``). Everything else is a
non-resource request whose verb is the lower-case method. Authorization, the request log and
fault matching all use this result.
"""

from __future__ import annotations

from dataclasses import dataclass

from leader_election.testing.selection import SelectorError, parse_field_selector
from leader_election.testing.validation import is_valid_path_segment_name

__all__ = ["RequestInfo", "parse"]

_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The Kubernetes view of a request."""

    is_resource: bool
    verb: str
    path: str
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()
    # True when the verb came from the legacy /watch/ path segment
    watch_path: bool = False


def _is_watch(values: list[str] | None) -> bool:
    if not values:
        return False
    return values[0] not in ("0",) and values[0].lower() != "false"


def parse(method: str, path: str, query: dict[str, list[str]]) -> RequestInfo:
    """Classify a request (never fails: unknown shapes are non-resource requests)."""
    parts = list(path.strip("/").split("/")) if path.strip("/") else []
    non_resource = RequestInfo(False, method.lower(), path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    prefix = parts[0]
    rest = parts[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 3:
            return non_resource
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    watch_path = False
    if rest and rest[0] in ("watch", "proxy"):
        if len(rest) < 2:
            return non_resource
        verb = rest[0]
        watch_path = verb == "watch"
        rest = rest[1:]
    else:
        verb = _METHOD_VERBS.get(method, method.lower())
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = subresource = name = ""
    if len(rest) >= 3 and verb != "proxy":
        subresource = rest[2]
    if len(rest) >= 2:
        name = rest[1]
    if rest:
        resource = rest[0]
    if not name and verb == "get":
        verb = "watch" if _is_watch(query.get("watch")) else "list"
        selector = query.get("fieldSelector")
        if selector:
            try:
                wanted = parse_field_selector(selector[0]).requires_exact("metadata.name")
            except SelectorError:
                wanted = None
            if wanted and not is_valid_path_segment_name(wanted):
                name = wanted
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(
        True,
        verb,
        path,
        prefix,
        group,
        version,
        namespace,
        resource,
        subresource,
        name,
        tuple(rest),
        watch_path,
    )
