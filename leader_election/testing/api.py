"""The REST API: routing and the verbs, in the order kube-apiserver's handlers run their checks.

``Api.handle`` takes a parsed HTTP request (already authenticated, authorized and past the
fault injector) and returns a ``Response`` or, for a watch, a ``WatchStream`` the connection
thread serves. Each verb follows its upstream handler (``create.go``, ``update.go``,
``patch.go``, ``delete.go``, ``get.go``/``watch.go``) and registry ``Store`` step by step, so
the first error a malformed request meets is the one the real server reports.

Deliberate differences from kube-apiserver, each because the real answer would be a 5xx for
what is only bad input (every such case is a 400 BadRequest here, with the real message):

* a non-numeric ``resourceVersion`` query parameter (the real storage layer fails with 500);
* a DeleteOptions body that does not decode (the real handler passes the raw decode error on).

Where a well-formed request makes the real storage layer fail with 500 (``metadata.
resourceVersion`` set on a create, a non-numeric one on an update), this server answers the
same 500, because a client under test should see what production would show it.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from leader_election.testing import discovery, kubetime, patch, status
from leader_election.testing.http11 import Connection, ConnectionClosed, Request
from leader_election.testing.requestinfo import RequestInfo
from leader_election.testing.resources import (
    NAMESPACES,
    OBJECT_META,
    RESOURCES,
    ResourceType,
    resource_by_path,
)
from leader_election.testing.schema import DecodeError, GoFloat, decode, dumps, loads
from leader_election.testing.selection import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from leader_election.testing.status import FieldError, StatusError
from leader_election.testing.store import Bookmark, Change, Record, Store, Transaction, Watcher
from leader_election.testing.validation import (
    is_valid_path_segment_name,
    validate_object_meta,
    validate_object_meta_update,
)

__all__ = [
    "MAX_REQUEST_BODY_BYTES",
    "Api",
    "Response",
    "WatchStream",
    "is_pretty",
    "parse_request_body",
]

# kube-apiserver's default --max-request-body-bytes... for resource writes: 3 MiB.
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024
# --min-request-timeout: a watch without timeoutSeconds lasts this long times 1..2.
MIN_REQUEST_TIMEOUT = 1800.0
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
# How often an idle watch checks whether its client hung up or a partition cut it (seconds).
# Changes wake a watch at once; this only bounds how long an abandoned stream lingers, and
# longer is cheaper with many watchers (each check takes the GIL).
_IDLE_CHECK = 1.0

JSON = "application/json"
YAML = "application/yaml"
ACCEPTED_INPUT = (JSON, YAML)
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"

# Storage-layer failures the real server answers with 500 for well-formed requests.
RESOURCE_VERSION_SET_ON_CREATE = "resourceVersion should not be set on objects to be created"


@dataclass(slots=True)
class Response:
    """A complete (non-streaming) answer."""

    code: int
    body: bytes
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


def status_response(error: StatusError, *, pretty: bool = False) -> Response:
    return Response(error.code, dumps(error.status, pretty=pretty), headers=list(error.headers))


# -- media types -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Output:
    """The negotiated response format."""

    media: str  # application/json or application/yaml
    convert: str = ""  # "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
    convert_version: str = "v1"
    pretty: bool = False


def _parse_media_ranges(accept: str) -> list[tuple[str, dict[str, str], float]]:
    ranges = []
    for index, item in enumerate(accept.split(",")):
        pieces = [p.strip() for p in item.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        params: dict[str, str] = {}
        quality = 1.0
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            key = key.strip().lower()
            value = value.strip().strip('"')
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            else:
                params[key] = value
        ranges.append((media, params, quality - index * 1e-6))
    ranges.sort(key=lambda r: -r[2])
    return [r for r in ranges if r[2] > 0]


def negotiate_output(request: Request, *, allow_convert: bool = True) -> _Output:
    """Pick the response format from ``Accept`` (406 when none can be produced)."""
    pretty = _is_pretty(request)
    accept = request.header("accept")
    if not accept:
        return _Output(JSON, pretty=pretty)
    for media, params, _ in _parse_media_ranges(accept):
        if media in ("*/*", "application/*"):
            return _Output(JSON, pretty=pretty)
        if media not in (JSON, YAML):
            continue
        target = params.get("as", "")
        if not target:
            return _Output(media, pretty=pretty)
        if (
            allow_convert
            and target in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")
            and params.get("g") == "meta.k8s.io"
            and params.get("v") in ("v1", "v1beta1")
        ):
            return _Output(media, target, params["v"], pretty=pretty)
    raise status.not_acceptable(ACCEPTED_INPUT)


def _is_pretty(request: Request) -> bool:
    value = request.param("pretty")
    if value:
        return value.lower() in ("1", "t", "true")
    agent = request.header("user-agent")
    return agent.startswith(("curl", "Wget", "Mozilla/5.0"))


def encode(output: _Output, value: Any) -> Response:
    if output.media == YAML:
        return Response(200, yaml.safe_dump(value, sort_keys=False).encode(), YAML)
    return Response(200, dumps(value, pretty=output.pretty))


class _NoTimestampLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: timestamps stay strings."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _from_yaml(value: Any) -> Any:
    if isinstance(value, float):
        return GoFloat(repr(value)) if not value.is_integer() else int(value)
    if isinstance(value, dict):
        return {str(k): _from_yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_yaml(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


# -- options ---------------------------------------------------------------------------------------


def _go_parse_int(text: str, bits: int = 64) -> int:
    """``strconv.ParseInt(text, 10, 64)`` with its error text."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def _go_parse_uint(text: str) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value >= 2**64:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def _go_bool(values: list[str] | None) -> bool:
    # runtime.Convert_Slice_string_To_bool: anything but "0"/"false" is true.
    if not values:
        return False
    return not (values[0] == "0" or values[0].lower() == "false")


def _parse_resource_version(text: str) -> int:
    """A resourceVersion query parameter ("" and "0" mean "any"); 400 when not a number."""
    if text in ("", "0"):
        return 0
    try:
        return _go_parse_uint(text)
    except ValueError as exc:
        raise status.bad_request(f'resourceVersion: Invalid value: "{text}": {exc}') from None


@dataclass(slots=True)
class ListOptions:
    label_selector: LabelSelector
    field_selector: FieldSelector
    watch: bool
    allow_bookmarks: bool
    resource_version: str
    resource_version_match: str
    timeout_seconds: int | None
    limit: int
    continue_token: str
    send_initial_events: bool | None


def _list_options(request: Request, rtype: ResourceType) -> ListOptions:
    """DecodeParameters + ValidateListOptions + field label conversion, as ``listOpts`` does."""
    query = request.query
    try:
        labels = parse_label_selector(request.param("labelSelector") or "")
        fields = parse_field_selector(request.param("fieldSelector") or "")
        watch = _go_bool(query.get("watch"))
        bookmarks = _go_bool(query.get("allowWatchBookmarks"))
        timeout_text = request.param("timeoutSeconds")
        timeout = _go_parse_int(timeout_text) if timeout_text is not None else None
        limit_text = request.param("limit")
        limit = _go_parse_int(limit_text) if limit_text is not None else 0
        initial = query.get("sendInitialEvents")
        send_initial = _go_bool(initial) if initial else None
    except (SelectorError, ValueError) as exc:
        raise status.bad_request(str(exc)) from None
    options = ListOptions(
        labels,
        fields,
        watch,
        bookmarks,
        request.param("resourceVersion") or "",
        request.param("resourceVersionMatch") or "",
        timeout,
        limit,
        request.param("continue") or "",
        send_initial,
    )
    errors = _validate_list_options(options)
    if errors:
        raise status.invalid("meta.k8s.io", "ListOptions", "", errors)
    try:
        options.field_selector = fields.transform(rtype.convert_field_label)
    except ValueError as exc:
        raise status.bad_request(str(exc)) from None
    return options


def _validate_list_options(options: ListOptions) -> list[FieldError]:
    errors: list[FieldError] = []
    match = options.resource_version_match
    if options.watch:
        if options.send_initial_events is not None:
            if match != "NotOlderThan":
                errors.append(
                    FieldError.forbidden(
                        "resourceVersionMatch",
                        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                    )
                )
            errors.append(
                FieldError.forbidden(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for watch unless the WatchList feature gate "
                    "is enabled",
                )
            )
        if match:
            if options.send_initial_events is None:
                errors.append(
                    FieldError.forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                        "provided",
                    )
                )
            if match != "NotOlderThan":
                errors.append(
                    FieldError.not_supported("resourceVersionMatch", match, ["NotOlderThan"])
                )
            if options.continue_token:
                errors.append(
                    FieldError.forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden when continue is provided",
                    )
                )
        return errors
    if match:
        if not options.resource_version:
            errors.append(
                FieldError.forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )
            )
        if options.continue_token:
            errors.append(
                FieldError.forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
        if match not in ("Exact", "NotOlderThan"):
            errors.append(
                FieldError.not_supported(
                    "resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]
                )
            )
        if match == "Exact" and options.resource_version == "0":
            errors.append(
                FieldError.forbidden(
                    "resourceVersionMatch",
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                )
            )
    if options.send_initial_events is not None:
        errors.append(
            FieldError.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list")
        )
    return errors


_FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")


def _write_options(request: Request, kind: str, *, patch_type: str = "") -> tuple[bool, str]:
    """Create/Update/PatchOptions: (dry run, field validation directive)."""
    errors: list[FieldError] = []
    dry_run = request.query.get("dryRun", [])
    if dry_run and dry_run != ["All"]:
        errors.append(FieldError.not_supported("dryRun", dry_run, ["All"]))
    validation = request.param("fieldValidation") or ""
    if validation not in _FIELD_VALIDATION:
        errors.append(
            FieldError.not_supported("fieldValidation", validation, list(_FIELD_VALIDATION))
        )
    manager = request.param("fieldManager")
    if manager is not None and len(manager) > 128:
        errors.append(FieldError.too_long("fieldManager", 128))
    if kind == "PatchOptions" and request.param("force") is not None and patch_type:
        errors.append(FieldError.forbidden("force", "may not be specified for non-apply patch"))
    if errors:
        raise status.invalid("meta.k8s.io", kind, "", errors)
    return bool(dry_run), validation or "Warn"


# -- decoding bodies ------------------------------------------------------------------------------


def _summarize(body: bytes, limit: int = 30) -> str:
    if not body:
        return "<empty>"
    if body[:1] == b"{":
        text = body.decode("utf-8", errors="replace")
        return text[:limit] + " ..." if len(body) > limit else text
    return body[:limit].hex() + " ..." if len(body) > limit else body.hex()


def _go_json_error(exc: ValueError) -> str:
    """A Go-flavoured message for a JSON syntax error."""
    message = str(exc)
    if (
        "Expecting value: line 1 column 1 (char 0)" in message
        and not getattr(exc, "doc", "x").strip()
    ):
        return "unexpected end of JSON input"
    if isinstance(exc, json.JSONDecodeError):
        doc, pos = exc.doc, exc.pos
        if pos >= len(doc):
            return "unexpected end of JSON input"
        return f"invalid character {doc[pos]!r} looking for beginning of value"
    return message


def _parse_body(body: bytes, media: str) -> Any:
    if media == YAML:
        try:
            return _from_yaml(yaml.load(body, Loader=_NoTimestampLoader))  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ValueError(f"error converting YAML to JSON: {exc}") from None
    return loads(body)


def parse_request_body(request: Request) -> Any:
    """A request's JSON or YAML body, parsed (``ValueError`` when it is not well-formed)."""
    return _parse_body(request.body, _input_media(request))


def is_pretty(request: Request) -> bool:
    """Whether the answer should be indented (``?pretty=true``, or curl/a browser)."""
    return _is_pretty(request)


def _input_media(request: Request) -> str:
    content_type = request.header("content-type")
    media = content_type.split(";", 1)[0].strip().lower() if content_type else JSON
    if media not in ACCEPTED_INPUT:
        raise status.unsupported_media_type(ACCEPTED_INPUT)
    return media


_FIND_KIND_TYPE = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)


def _json_kind(value: Any) -> str:
    return {list: "array", dict: "object", str: "string", bool: "bool"}.get(type(value), "number")


def _unrecognized(kind: str, problem: str, body: bytes) -> StatusError:
    """``transformDecodeError`` when not even apiVersion/kind could be read."""
    return status.bad_request(
        f"the object provided is unrecognized (must be of type {kind}): {problem} "
        f"({_summarize(body)})"
    )


def _decode_object(
    rtype: ResourceType, body: bytes, media: str, validation: str, warnings: list[str]
) -> dict[str, Any]:
    """Decode a create/update body as ``decoder.Decode`` + ``transformDecodeError`` do."""
    kind = rtype.kind
    parse_error = "couldn't get version/kind; json parse error: "
    try:
        data = _parse_body(body, media)
    except ValueError as exc:
        raise _unrecognized(kind, parse_error + _go_json_error(exc), body) from None
    if data is not None and not isinstance(data, dict):
        problem = (
            f"json: cannot unmarshal {_json_kind(data)} into Go value of type {_FIND_KIND_TYPE}"
        )
        raise _unrecognized(kind, parse_error + problem, body)
    data = data or {}
    # null leaves Go's zero value ("").
    api_version: Any = data.get("apiVersion") if data.get("apiVersion") is not None else ""
    data_kind: Any = data.get("kind") if data.get("kind") is not None else ""
    for key, value in (("apiVersion", api_version), ("kind", data_kind)):
        if not isinstance(value, str):
            problem = (
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field .{key} of type "
                "string"
            )
            raise _unrecognized(kind, parse_error + problem, body)
    _, version, problem = _gvk_problem(rtype, api_version, data_kind)
    if problem:
        if version is None:
            raise _unrecognized(kind, problem, body)
        raise status.bad_request(
            f'{data_kind or kind} in version "{version}" cannot be handled as a {kind}: {problem}'
        )
    try:
        obj, unknown = decode(rtype.schema, data)
    except DecodeError as exc:
        raise status.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}'
        ) from None
    _report_unknown(
        unknown,
        validation,
        warnings,
        lambda text: status.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {text}'
        ),
    )
    obj.pop("kind", None)
    obj.pop("apiVersion", None)
    obj["metadata"].pop("managedFields", None)
    return obj


def _gvk_problem(rtype: ResourceType, api_version: str, kind: str) -> tuple[str, str | None, str]:
    """Why an object's apiVersion/kind cannot be decoded as ``rtype`` ("" when it can).

    A missing apiVersion or kind defaults to the endpoint's, as the codec does. Returns the
    group and version decoded (version None when the apiVersion does not even parse).
    """
    if api_version.count("/") > 1:
        return "", None, f"unexpected GroupVersion string: {api_version}"
    group, _, version = api_version.rpartition("/")
    if not api_version:
        group, version = rtype.group, rtype.version
    if not version and group == rtype.group:
        version = rtype.version
    kind = kind or rtype.kind
    if (group, version, kind) == (rtype.group, rtype.version, rtype.kind):
        return group, version, ""
    if _registered(group, version, kind):
        return (
            group,
            version,
            (
                f"converting (v1.{kind}) to ({_internal_package(rtype)}.{rtype.kind}): "
                "unknown conversion"
            ),
        )
    return (
        group,
        version,
        (
            f'no kind "{kind}" is registered for version "{api_version or version}" '
            'in scheme "pkg/api/legacyscheme/scheme.go:30"'
        ),
    )


def _internal_package(rtype: ResourceType) -> str:
    return "coordination" if rtype.group == "coordination.k8s.io" else "core"


_REGISTERED = {
    ("", "v1"): {
        "ConfigMap",
        "Namespace",
        "Event",
        "Pod",
        "Secret",
        "Service",
        "Node",
        "Endpoints",
    },
    ("coordination.k8s.io", "v1"): {"Lease"},
    ("coordination.k8s.io", "v1beta1"): {"Lease"},
}


def _registered(group: str, version: str, kind: str) -> bool:
    return kind in _REGISTERED.get((group, version), set())


def _report_unknown(
    unknown: Sequence[str],
    validation: str,
    warnings: list[str],
    fail: Callable[[str], StatusError],
) -> None:
    if not unknown or validation == "Ignore":
        return
    texts = [f'unknown field "{name}"' for name in unknown]
    if validation == "Strict":
        raise fail("strict decoding error: " + ", ".join(texts))
    warnings.extend(texts)


def _warning_headers(warnings: Sequence[str]) -> list[tuple[str, str]]:
    return [
        ("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"') for w in warnings
    ]


# -- tables ---------------------------------------------------------------------------------------


def _partial(record_obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": record_obj["metadata"],
    }


def _table(
    rtype: ResourceType,
    objects: Sequence[dict[str, Any]],
    *,
    version: str,
    include_object: str,
    resource_version: str,
    headers: bool = True,
    continue_token: str = "",
    remaining: int | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": rtype.table_row(obj)}
        if include_object == "Object":
            row["object"] = {"kind": rtype.kind, "apiVersion": rtype.api_version, **obj}
        elif include_object == "None":
            row["object"] = None
        else:
            row["object"] = _partial(obj, version)
        rows.append(row)
    table: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": metadata,
    }
    table["columnDefinitions"] = [c.definition() for c in rtype.columns] if headers else None
    table["rows"] = rows
    return table


def _include_object(request: Request) -> str:
    value = request.param("includeObject") or ""
    if value not in ("", "None", "Object", "Metadata"):
        message = FieldError.not_supported(
            "includeObject", value, ["Metadata", "None", "Object", ""]
        )
        raise status.bad_request(f"Unable to convert to Table as requested: {message}")
    return value or "Metadata"


# -- the API --------------------------------------------------------------------------------------


class Api:
    """Routes resource and discovery requests to the store."""

    def __init__(
        self,
        store: Store,
        *,
        server_address: Callable[[], str],
        bookmark_interval: float,
        stopping: threading.Event,
    ) -> None:
        self.store = store
        self._server_address = server_address
        self._bookmark_interval = bookmark_interval
        self._stopping = stopping
        # Jitter for watch timeouts, not security.
        self._random = random.Random()  # noqa: S311

    # -- entry point -------------------------------------------------------------------------

    def handle(self, request: Request, info: RequestInfo) -> Response | WatchStream:
        """Answer one request; raises ``StatusError`` for error answers."""
        if not info.is_resource:
            return self._non_resource(request, info)
        rtype = self._route(request, info)
        verb = info.verb
        namespace = info.namespace if rtype.namespaced else ""
        if verb in ("list", "watch"):
            scope = (info.namespace or None) if rtype.namespaced else None
            # Only a name from the path (/watch/.../{name}) pins the watch; a name derived from
            # a fieldSelector is there for authorization and is enforced by the selector.
            path_name = info.parts[1] if info.watch_path and len(info.parts) >= 2 else ""
            return self.collection(
                request, rtype, scope, name=path_name, watch_path=info.watch_path
            )
        if verb == "get":
            return self.get(request, rtype, namespace, info.name)
        if verb == "create":
            return self.create(request, rtype, namespace)
        if verb == "update":
            return self.update(request, rtype, namespace, info.name)
        if verb == "patch":
            return self.patch(request, rtype, namespace, info.name)
        if verb == "delete":
            return self.delete(request, rtype, namespace, info.name)
        if verb == "deletecollection":
            return self.delete_collection(request, rtype, namespace)
        raise status.generic_server_response(405)

    def _route(self, request: Request, info: RequestInfo) -> ResourceType:
        """The resource a path names; go-restful's 404/405 for paths and methods without a route."""
        rtype = resource_by_path(info.group, info.version, info.resource)
        if info.api_prefix == "api" and info.group:
            rtype = None
        if rtype is None or info.subresource or len(info.parts) > 2:
            raise status.generic_server_response(404)
        has_name = bool(info.name) and len(info.parts) >= 2
        if rtype.namespaced:
            if not info.namespace and has_name:
                raise status.generic_server_response(404)
            cluster_wide = not info.namespace
        else:
            cluster_wide = False
        if info.watch_path:
            allowed = {"GET"}
        elif has_name:
            allowed = {"GET", "PUT", "PATCH", "DELETE"}
        elif cluster_wide:
            allowed = {"GET"}
        else:
            allowed = {"GET", "POST"} | ({"DELETE"} if "deletecollection" in rtype.verbs else set())
        if request.method not in allowed:
            raise status.generic_server_response(405)
        return rtype

    def _non_resource(self, request: Request, info: RequestInfo) -> Response:
        path = info.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            raise status.generic_server_response(405 if path in _DISCOVERY_PATHS else 404)
        output = _Output(JSON, pretty=_is_pretty(request))
        parts = path.strip("/").split("/")
        document: Any = None
        if path == "/version":
            document = discovery.version_info()
        elif path == "/api":
            document = discovery.api_versions(self._server_address())
        elif path == "/apis":
            document = discovery.group_list()
        elif path == "/openapi/v3":
            document = discovery.openapi_v3_root()
        elif path.startswith("/openapi/v3/"):
            document = discovery.openapi_v3_group_version(path[len("/openapi/v3/") :])
        elif path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        elif parts[0] == "api" and len(parts) == 2:
            document = discovery.api_resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            document = discovery.group(parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            document = discovery.api_resource_list(parts[1], parts[2])
        if document is None:
            raise status.generic_server_response(404)
        return encode(output, document)

    # -- reads -------------------------------------------------------------------------------

    def get(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        output = negotiate_output(request)
        wanted = _parse_resource_version(request.param("resourceVersion") or "")
        record = self.store.get(rtype, namespace, name)
        current = self.store.resource_version
        if wanted > current:
            raise status.too_large_resource_version(wanted, current)
        if record is None:
            raise status.not_found(rtype.group_resource, name)
        return self._object_response(request, output, rtype, record, code=200)

    def _object_response(
        self,
        request: Request,
        output: _Output,
        rtype: ResourceType,
        record: Record | dict[str, Any],
        *,
        code: int,
        warnings: Sequence[str] = (),
    ) -> Response:
        obj = record.obj if isinstance(record, Record) else record
        if output.convert == "Table":
            value: Any = _table(
                rtype,
                [obj],
                version=output.convert_version,
                include_object=_include_object(request),
                resource_version=obj["metadata"].get("resourceVersion", ""),
            )
        elif output.convert == "PartialObjectMetadata":
            value = _partial(obj, output.convert_version)
        elif output.convert == "PartialObjectMetadataList":
            raise status.not_acceptable(ACCEPTED_INPUT)
        elif output.media == JSON and not output.pretty and isinstance(record, Record):
            response = Response(code, record.full_json() + b"\n")
            response.headers.extend(_warning_headers(warnings))
            return response
        else:
            value = {"kind": rtype.kind, "apiVersion": rtype.api_version, **obj}
        response = encode(output, value)
        response.code = code
        response.headers.extend(_warning_headers(warnings))
        return response

    def collection(
        self,
        request: Request,
        rtype: ResourceType,
        namespace: str | None,
        *,
        name: str = "",
        watch_path: bool = False,
    ) -> Response | WatchStream:
        output = negotiate_output(request)
        options = _list_options(request, rtype)
        if name:
            selected = options.field_selector.requires_exact("metadata.name")
            if not options.field_selector.empty and selected != name:
                raise status.bad_request("fieldSelector metadata.name doesn't match requested name")
        if watch_path or options.watch:
            return self._watch(request, output, rtype, namespace, name=name, options=options)
        if output.convert == "Table":
            include = _include_object(request)
        records, list_rv, token, remaining = self._list_records(rtype, namespace, options)
        objects = [r.obj for r in records]
        if output.convert == "Table":
            value: Any = _table(
                rtype,
                objects,
                version=output.convert_version,
                include_object=include,
                resource_version=str(list_rv),
                continue_token=token,
                remaining=remaining,
            )
            return encode(output, value)
        if output.convert == "PartialObjectMetadataList":
            meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
            if token:
                meta["continue"] = token
            value = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": f"meta.k8s.io/{output.convert_version}",
                "metadata": meta,
                "items": [_partial(o, output.convert_version) for o in objects],
            }
            return encode(output, value)
        if output.convert:
            raise status.not_acceptable(ACCEPTED_INPUT)
        meta_json = {"resourceVersion": str(list_rv)}
        if token:
            meta_json["continue"] = token
        if remaining is not None:
            meta_json["remainingItemCount"] = remaining  # type: ignore[assignment]
        if output.media == JSON and not output.pretty:
            head = json.dumps(
                {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": meta_json},
                separators=(",", ":"),
            )
            body = (
                head[:-1].encode()
                + b',"items":['
                + b",".join(r.item_json() for r in records)
                + b"]}\n"
            )
            return Response(200, body)
        value = {
            "kind": rtype.list_kind,
            "apiVersion": rtype.api_version,
            "metadata": meta_json,
            "items": objects,
        }
        return encode(output, value)

    def _list_records(
        self, rtype: ResourceType, namespace: str | None, options: ListOptions
    ) -> tuple[list[Record], int, str, int | None]:
        at: int | None = None
        start_key: tuple[str, str] | None = None
        if options.continue_token:
            at, start_key = _decode_continue(options.continue_token)
        else:
            wanted = _parse_resource_version(options.resource_version)
            current = self.store.resource_version
            if wanted > current:
                raise status.too_large_resource_version(wanted, current)
            if options.resource_version_match == "Exact":
                at = wanted
        try:
            records, list_rv = self.store.list_objects(rtype, namespace, at)
        except StatusError as exc:
            if exc.code != 410:
                raise
            if options.continue_token:
                raise status.expired(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. "
                    "You can start a new list without the continue parameter."
                ) from None
            raise status.expired("The resourceVersion for the provided list is too old.") from None
        selected = [
            r
            for r in records
            if _selected(rtype, r.obj, options.label_selector, options.field_selector)
        ]
        if start_key is not None:
            selected = [r for r in selected if r.key >= start_key]
        if options.limit > 0 and len(selected) > options.limit:
            page = selected[: options.limit]
            last = page[-1].key
            token = _encode_continue(list_rv, (last[0], last[1] + "\x00"))
            return page, list_rv, token, len(selected) - options.limit
        return selected, list_rv, "", None

    # -- watch -------------------------------------------------------------------------------

    def _watch(
        self,
        request: Request,
        output: _Output,
        rtype: ResourceType,
        namespace: str | None,
        *,
        name: str,
        options: ListOptions,
    ) -> WatchStream:
        include = _include_object(request) if output.convert == "Table" else ""
        if (output.convert and output.convert != "Table") or output.media != JSON:
            # Only JSON has a stream serializer (YAML has none upstream either).
            raise status.not_acceptable((JSON,))
        since_rv = _parse_resource_version(options.resource_version)
        timeout = options.timeout_seconds
        if timeout is None or timeout == 0:
            seconds = MIN_REQUEST_TIMEOUT * (self._random.random() + 1.0)
        else:
            seconds = float(timeout)
        pinned = options.field_selector.requires_exact("metadata.name") or name
        scope_namespace = (
            namespace or options.field_selector.requires_exact("metadata.namespace") or ""
        )
        if rtype is NAMESPACES:
            scope_namespace = ""
        watcher: Watcher | None = None
        initial: list[Change] = []
        error: StatusError | None = None
        try:
            watcher, initial = self.store.watch(
                rtype,
                namespace=scope_namespace,
                name=pinned or "",
                since=None if since_rv == 0 else since_rv,
            )
        except StatusError as exc:
            # A too old resourceVersion is not an HTTP error: the stream carries an ERROR event.
            error = exc
        return WatchStream(
            self,
            rtype,
            watcher=watcher,
            initial=initial,
            options=options,
            output=output,
            include_object=include,
            timeout=seconds,
            since=since_rv,
            error=error,
        )

    # -- writes ------------------------------------------------------------------------------

    def create(self, request: Request, rtype: ResourceType, namespace: str) -> Response:
        output = negotiate_output(request)
        media = _input_media(request)
        dry_run, validation = _write_options(request, "CreateOptions")
        write = _Write(request, output, rtype, namespace if rtype.namespaced else "", dry_run)
        obj = _decode_object(rtype, request.body, media, validation, write.warnings)
        meta = obj["metadata"]
        _wipe_system_fields(meta)
        _ensure_namespace(meta, write.namespace)

        def create(txn: Transaction) -> Response:
            # Mutating admission (NamespaceLifecycle) runs before the registry's validation.
            if rtype.namespaced:
                _require_namespace(txn, write.namespace)
            _fill_system_fields(meta)
            if meta.get("generateName") and not meta.get("name"):
                suffix = "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
                meta["name"] = meta["generateName"] + suffix
            _before_create(rtype, obj)
            if meta.get("resourceVersion"):
                raise _real_500(RESOURCE_VERSION_SET_ON_CREATE)
            if txn.get(rtype, write.namespace, meta["name"]) is not None:
                raise status.already_exists(rtype.group_resource, meta["name"])
            return self._respond(write, obj if dry_run else txn.put(rtype, obj), code=201)

        return self.store.transact(create)

    def _respond(self, write: _Write, record: Record | dict[str, Any], *, code: int) -> Response:
        return self._object_response(
            write.request, write.output, write.rtype, record, code=code, warnings=write.warnings
        )

    def update(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        output = negotiate_output(request)
        dry_run, validation = _write_options(request, "UpdateOptions")
        media = _input_media(request)
        write = _Write(request, output, rtype, namespace if rtype.namespaced else "", dry_run, name)
        obj = _decode_object(rtype, request.body, media, validation, write.warnings)
        _ensure_namespace(obj["metadata"], write.namespace)
        _check_name(obj, name, write.namespace)
        uid = obj["metadata"].get("uid", "")

        def update(txn: Transaction) -> Response:
            existing = txn.get(rtype, write.namespace, name)
            # The object's uid is a precondition of the update (DefaultUpdatedObjectInfo).
            if uid and (existing is None or existing.obj["metadata"].get("uid") != uid):
                have = existing.obj["metadata"].get("uid", "") if existing else ""
                detail = f"UID in precondition: {uid}, UID in object meta: {have}"
                raise _precondition_conflict(rtype, write.namespace, name, detail)
            return self._commit_update(write, txn, existing, obj)

        return self.store.transact(update)

    def _commit_update(
        self, write: _Write, txn: Transaction, existing: Record | None, obj: dict[str, Any]
    ) -> Response:
        """The registry's ``Store.Update`` once the updated object is known (PUT and PATCH)."""
        rtype, name, namespace = write.rtype, write.name, write.namespace
        meta = obj["metadata"]
        rv_text = meta.get("resourceVersion", "")
        try:
            new_rv = _go_parse_uint(rv_text) if rv_text else 0
        except ValueError as exc:
            raise _real_500(str(exc)) from None
        if existing is None:
            if not rtype.allow_create_on_update:
                raise status.not_found(rtype.group_resource, name)
            # Create on update: system fields as on create; admission checks the namespace.
            _wipe_system_fields(meta)
            if rtype.namespaced:
                _require_namespace(txn, namespace)
            _fill_system_fields(meta)
            meta.pop("resourceVersion", None)
            _before_create(rtype, obj)
            return self._respond(write, obj if write.dry_run else txn.put(rtype, obj), code=201)
        # 1. Optimistic concurrency: the update must carry the stored resourceVersion, unless
        #    the kind allows unconditional updates (Leases do not).
        if new_rv == 0:
            if not rtype.allow_unconditional_update:
                cause = FieldError.invalid(
                    "metadata.resourceVersion", status.GoUint(0), "must be specified for an update"
                )
                raise status.invalid(rtype.group, rtype.resource, name, [cause])
            meta["resourceVersion"] = str(existing.rv)
        elif new_rv != existing.rv:
            raise status.conflict(rtype.group_resource, name)
        # 2. BeforeUpdate: identity and system fields come from the stored object.
        old = existing.obj
        old_meta = old["metadata"]
        _ensure_namespace(meta, namespace)
        if "generation" in old_meta:
            meta["generation"] = old_meta["generation"]
        else:
            meta.pop("generation", None)
        rtype.prepare_for_update(obj, old)
        if not meta.get("uid"):
            meta["uid"] = old_meta.get("uid", "")
        meta["creationTimestamp"] = old_meta.get("creationTimestamp")
        if old_meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = old_meta["deletionTimestamp"]
        if "deletionGracePeriodSeconds" in old_meta and "deletionGracePeriodSeconds" not in meta:
            meta["deletionGracePeriodSeconds"] = old_meta["deletionGracePeriodSeconds"]
        obj["metadata"] = meta = _ordered_meta(meta)
        # 3. Validation: the common ObjectMeta checks, then the kind's update validation.
        errors = validate_object_meta(meta, namespaced=rtype.namespaced, name_fn=_path_segment)
        errors += validate_object_meta_update(meta, old_meta)
        errors += rtype.validate_update(obj, old)
        if errors:
            raise status.invalid(rtype.group, rtype.kind, name, errors)
        # 4. The last finalizer of an object being deleted is gone: the update deletes it.
        if old_meta.get("deletionTimestamp") and not meta.get("finalizers"):
            if not write.dry_run:
                txn.delete(rtype, namespace, name)
            return self._respond(write, obj, code=200)
        # 5. etcd3's GuaranteedUpdate skips a write that changes nothing: same RV, no event.
        if obj == old:
            return self._respond(write, existing, code=200)
        return self._respond(write, obj if write.dry_run else txn.put(rtype, obj), code=200)

    def patch(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        content_type = request.header("content-type").split(";", 1)[0].strip()
        if content_type not in PATCH_TYPES:
            raise status.unsupported_media_type(PATCH_TYPES)
        output = negotiate_output(request)
        dry_run, validation = _write_options(request, "PatchOptions", patch_type=content_type)
        write = _Write(request, output, rtype, namespace if rtype.namespaced else "", dry_run, name)
        document = self._decode_patch(content_type, request.body, validation, write.warnings)

        def apply(txn: Transaction) -> Response:
            existing = txn.get(rtype, write.namespace, name)
            if existing is None:
                raise status.not_found(rtype.group_resource, name)
            patched, shown = _apply_patch(content_type, existing.full(), document, rtype)
            obj = self._decode_patched(rtype, patched, shown, validation, write.warnings)
            _ensure_namespace(obj["metadata"], write.namespace)
            _check_name(obj, name, write.namespace)
            return self._commit_update(write, txn, existing, obj)

        return self.store.transact(apply)

    @staticmethod
    def _decode_patch(content_type: str, body: bytes, validation: str, warnings: list[str]) -> Any:
        try:
            document = loads(body)
        except ValueError as exc:
            message = _go_json_error(exc)
            if content_type == "application/strategic-merge-patch+json":
                raise status.bad_request(message) from None
            raise status.bad_request(f"error decoding patch: {message}") from None
        if content_type == "application/json-patch+json":
            try:
                return patch.validate_json_patch(document)
            except patch.PatchError as exc:
                if exc.code == 413:
                    raise status.request_entity_too_large(exc.message) from None
                raise status.bad_request(exc.message) from None
        if document is not None and not isinstance(document, dict):
            kind = {list: "array", str: "string", bool: "bool"}.get(type(document), "number")
            message = (
                f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
            )
            if content_type == "application/strategic-merge-patch+json":
                raise status.bad_request(message)
            raise status.bad_request(f"error decoding patch: {message}")
        if content_type == "application/merge-patch+json" and document is None:
            raise status.bad_request("Invalid JSON Patch")
        return document

    @staticmethod
    def _decode_patched(
        rtype: ResourceType, patched: Any, shown: str, validation: str, warnings: list[str]
    ) -> dict[str, Any]:
        def fail(message: str) -> StatusError:
            return status.invalid("", "", "", [FieldError.invalid("patch", shown, message)])

        if not isinstance(patched, dict):
            raise fail(f"json: cannot unmarshal array into Go value of type {rtype.schema.go_type}")
        api_version = patched.get("apiVersion", "")
        kind = patched.get("kind", "")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            raise fail(
                "couldn't get version/kind; json parse error: apiVersion and kind must be strings"
            )
        _, _, problem = _gvk_problem(rtype, api_version, kind)
        if problem:
            raise fail(problem)
        try:
            obj, unknown = decode(rtype.schema, patched)
        except DecodeError as exc:
            raise fail(str(exc)) from None
        _report_unknown(unknown, validation, warnings, fail)
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        obj["metadata"].pop("managedFields", None)
        return obj

    def delete(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        output = negotiate_output(request)
        options = _delete_options(request)
        preconditions = options.get("preconditions") or {}
        request_namespace = namespace if rtype.namespaced else ""
        dry_run = bool(options.get("dryRun"))

        def delete(txn: Transaction) -> Response:
            existing = txn.get(rtype, request_namespace, name)
            if existing is None:
                raise status.not_found(rtype.group_resource, name)
            _check_preconditions(rtype, request_namespace, name, existing, preconditions)
            if rtype is NAMESPACES:
                if name in IMMORTAL_NAMESPACES:
                    # NamespaceLifecycle admission keeps the system namespaces.
                    raise status.forbidden(
                        rtype.group_resource, name, "this namespace may not be deleted"
                    )
                return self._delete_namespace(request, output, txn, existing, dry_run)
            if existing.obj["metadata"].get("finalizers"):
                # Finalizers hold the object: it is only marked, and goes when they are removed.
                return self._mark_deleted(request, output, txn, existing, dry_run)
            deleted = existing if dry_run else txn.delete(rtype, request_namespace, name)
            meta = deleted.obj["metadata"]
            body = status.success(
                name=name, group=rtype.group, kind=rtype.resource, uid=meta.get("uid", "")
            )
            return encode(output, body)

        return self.store.transact(delete)

    def _mark_deleted(
        self, request: Request, output: _Output, txn: Transaction, existing: Record, dry_run: bool
    ) -> Response:
        rtype = existing.rtype
        if existing.obj["metadata"].get("deletionTimestamp"):
            return self._object_response(request, output, rtype, existing, code=200)
        meta = dict(existing.obj["metadata"])
        meta["deletionTimestamp"] = kubetime.format_time(kubetime.now())
        meta["deletionGracePeriodSeconds"] = 0
        obj = {**existing.obj, "metadata": _ordered_meta(meta)}
        record: Record | dict[str, Any] = obj if dry_run else txn.put(rtype, obj)
        return self._object_response(request, output, rtype, record, code=200)

    def _delete_namespace(
        self, request: Request, output: _Output, txn: Transaction, existing: Record, dry_run: bool
    ) -> Response:
        # The namespace controller would empty and then remove a Terminating namespace; this
        # server does both at once and answers with the namespace as the delete left it.
        obj = dict(existing.obj)
        meta = dict(obj["metadata"])
        meta["deletionTimestamp"] = kubetime.format_time(kubetime.now())
        obj["metadata"] = _ordered_meta(meta)
        obj["status"] = {**obj.get("status", {}), "phase": "Terminating"}
        name = meta["name"]
        if not dry_run:
            for other in RESOURCES:
                if other.namespaced:
                    for record in txn.items(other, name):
                        txn.delete(other, name, record.key[1])
            txn.delete(NAMESPACES, "", name)
        return self._object_response(request, output, NAMESPACES, obj, code=200)

    def delete_collection(self, request: Request, rtype: ResourceType, namespace: str) -> Response:
        output = negotiate_output(request)
        options = _list_options(request, rtype)
        delete_options = _delete_options(request)
        dry_run = bool(delete_options.get("dryRun"))

        def delete_all(txn: Transaction) -> Response:
            items = []
            for record in txn.items(rtype, namespace):
                if not _selected(rtype, record.obj, options.label_selector, options.field_selector):
                    continue
                items.append(record.obj)
                if not dry_run:
                    txn.delete(rtype, namespace, record.key[1])
            body = {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(txn.resource_version)},
                "items": items,
            }
            return encode(output, body)

        return self.store.transact(delete_all)


_DISCOVERY_PATHS = frozenset(
    {"/version", "/api", "/apis", "/api/v1", "/healthz", "/livez", "/readyz"}
)


def _real_500(message: str) -> StatusError:
    """A 500 worded as kube-apiserver's ``ErrorToAPIStatus`` words a non-Status error."""
    return StatusError(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "code": 500,
        }
    )


@dataclass(slots=True)
class _Write:
    """What a write request carries through the registry."""

    request: Request
    output: _Output
    rtype: ResourceType
    namespace: str  # "" for cluster-scoped kinds
    dry_run: bool
    name: str = ""
    warnings: list[str] = field(default_factory=list)


_SYSTEM_FIELDS = (
    "creationTimestamp",
    "uid",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)


def _wipe_system_fields(meta: dict[str, Any]) -> None:
    """``rest.WipeObjectMetaSystemFields``: clients cannot set these on create."""
    for name in _SYSTEM_FIELDS:
        meta.pop(name, None)


def _before_create(rtype: ResourceType, obj: dict[str, Any]) -> None:
    """``rest.BeforeCreate``: defaulting, the kind's validation, then the common checks."""
    rtype.prepare_for_create(obj)
    meta = obj["metadata"]
    errors = rtype.validate(obj)
    if not errors:
        errors = validate_object_meta(meta, namespaced=rtype.namespaced, name_fn=_path_segment)
    if errors:
        raise status.invalid(rtype.group, rtype.kind, meta.get("name", ""), errors)


def _apply_patch(
    content_type: str, current: dict[str, Any], document: Any, rtype: ResourceType
) -> tuple[Any, str]:
    """Apply a decoded patch; returns the result and how a 422 shows it."""
    try:
        if content_type == "application/json-patch+json":
            patched = patch.json_patch(current, document)
            return patched, json.dumps(patched, sort_keys=True, separators=(",", ":"))
        if content_type == "application/merge-patch+json":
            patched = patch.json_merge_patch(current, document)
            return patched, json.dumps(patched, sort_keys=True, separators=(",", ":"))
        patched = patch.strategic_merge_patch(current, document or {}, rtype.schema)
        return patched, patch.go_format(document)
    except patch.PatchError as exc:
        if exc.code == 422 and not exc.message:
            # A JSON patch that does not apply: the real server hides the reason.
            raise status.generic_server_response(422) from None
        if exc.code == 413:
            raise status.request_entity_too_large(exc.message) from None
        raise status.bad_request(exc.message) from None


def _path_segment(name: str, prefix: bool) -> list[str]:
    return [] if prefix else is_valid_path_segment_name(name)


def _fill_system_fields(meta: dict[str, Any]) -> None:
    meta["creationTimestamp"] = kubetime.format_time(kubetime.now())
    meta["uid"] = str(uuid.uuid4())


_META_ORDER = [f.name for f in OBJECT_META.fields]


def _ordered_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """ObjectMeta in Go's field order (fields set in place lose their position otherwise)."""
    return {key: meta[key] for key in _META_ORDER if key in meta}


def _ensure_namespace(meta: dict[str, Any], request_namespace: str) -> None:
    """``EnsureObjectNamespaceMatchesRequestNamespace``."""
    have = meta.get("namespace", "")
    if have == request_namespace:
        return
    if not have:
        meta["namespace"] = request_namespace
    elif not request_namespace:
        meta.pop("namespace", None)
    else:
        raise status.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def _check_name(obj: dict[str, Any], name: str, namespace: str) -> None:
    meta = obj["metadata"]
    have = meta.get("name", "")
    if have != name:
        raise status.bad_request(
            f"the name of the object ({have}) does not match the name on the URL ({name})"
        )
    have_namespace = meta.get("namespace", "")
    if namespace and have_namespace and have_namespace != namespace:
        raise status.bad_request(
            f"the namespace of the object ({have_namespace}) does not match the namespace on the "
            f"request ({namespace})"
        )


def _require_namespace(txn: Transaction, namespace: str) -> None:
    """The NamespaceLifecycle admission plugin: no writes into a namespace that does not exist."""
    if txn.get(NAMESPACES, "", namespace) is None:
        raise status.not_found(NAMESPACES.group_resource, namespace)


def _precondition_conflict(
    rtype: ResourceType, namespace: str, name: str, detail: str
) -> StatusError:
    key = rtype.storage_key(namespace, name)
    return status.conflict(
        rtype.group_resource,
        name,
        f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, "
        f"AdditionalErrorMsg: Precondition failed: {detail}",
    )


def _check_preconditions(
    rtype: ResourceType, namespace: str, name: str, existing: Record, preconditions: dict[str, Any]
) -> None:
    meta = existing.obj["metadata"]
    uid = preconditions.get("uid")
    if uid is not None and uid != meta.get("uid", ""):
        raise _precondition_conflict(
            rtype,
            namespace,
            name,
            f"UID in precondition: {uid}, UID in object meta: {meta.get('uid', '')}",
        )
    rv = preconditions.get("resourceVersion")
    if rv is not None and rv != meta.get("resourceVersion", ""):
        raise _precondition_conflict(
            rtype,
            namespace,
            name,
            f"ResourceVersion in precondition: {rv}, "
            f"ResourceVersion in object meta: {meta.get('resourceVersion', '')}",
        )


_PROPAGATION = ("Foreground", "Background", "Orphan")


def _delete_options(request: Request) -> dict[str, Any]:
    """DeleteOptions from the body (when there is one) or the query; validated."""
    options: dict[str, Any] = {}
    if request.body:
        try:
            data = _parse_body(request.body, _input_media(request))
        except ValueError as exc:
            raise status.bad_request(
                f"couldn't get version/kind; json parse error: {_go_json_error(exc)}"
            ) from None
        if data is not None and not isinstance(data, dict):
            raise status.bad_request("decoded object cannot be converted to DeleteOptions")
        data = data or {}
        kind = data.get("kind", "DeleteOptions")
        if kind not in ("DeleteOptions", "") or not isinstance(kind, str):
            raise status.bad_request("decoded object cannot be converted to DeleteOptions")
        options = data
        preconditions = options.get("preconditions")
        if preconditions is not None and not isinstance(preconditions, dict):
            raise status.bad_request(
                "json: cannot unmarshal "
                + {list: "array", str: "string", bool: "bool"}.get(type(preconditions), "number")
                + " into Go struct field DeleteOptions.preconditions of type v1.Preconditions"
            )
        for key in ("uid", "resourceVersion"):
            value = (preconditions or {}).get(key)
            if value is not None and not isinstance(value, str):
                raise status.bad_request(
                    "json: cannot unmarshal number into Go struct field "
                    f"Preconditions.preconditions.{key} of type string"
                )
        for key in ("propagationPolicy",):
            value = options.get(key)
            if value is not None and not isinstance(value, str):
                raise status.bad_request(
                    "json: cannot unmarshal number into Go struct field "
                    f"DeleteOptions.{key} of type v1.DeletionPropagation"
                )
    else:
        if request.param("propagationPolicy") is not None:
            options["propagationPolicy"] = request.param("propagationPolicy")
        if request.query.get("dryRun"):
            options["dryRun"] = request.query["dryRun"]
        grace = request.param("gracePeriodSeconds")
        if grace is not None:
            try:
                options["gracePeriodSeconds"] = _go_parse_int(grace)
            except ValueError as exc:
                raise status.bad_request(str(exc)) from None
    errors: list[FieldError] = []
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in _PROPAGATION:
        errors.append(FieldError.not_supported("propagationPolicy", policy, [*_PROPAGATION, "nil"]))
    dry_run = options.get("dryRun")
    if dry_run and dry_run != ["All"]:
        errors.append(FieldError.not_supported("dryRun", dry_run, ["All"]))
    if errors:
        raise status.invalid("meta.k8s.io", "DeleteOptions", "", errors)
    return options


def _selected(
    rtype: ResourceType, obj: dict[str, Any], labels: LabelSelector, fields: FieldSelector
) -> bool:
    if not labels.empty and not labels.matches(obj["metadata"].get("labels")):
        return False
    return fields.empty or fields.matches(rtype.selectable_fields(obj))


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    start = f"{key[0]}/{key[1]}" if key[0] else key[1]
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    def invalid(detail: str) -> StatusError:
        return status.bad_request(f"invalid continue token: {detail}")

    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        raise invalid("continue key is not valid") from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise invalid("continue key is not valid: server does not recognize this encoded version")
    rv = data.get("rv")
    start = data.get("start")
    if not isinstance(rv, int) or rv <= 0:
        raise invalid(
            "continue key is not valid: incorrect encoded start resourceVersion "
            "(version meta.k8s.io/v1)"
        )
    if not isinstance(start, str) or not start:
        raise invalid("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
    namespace, _, name = start.rpartition("/")
    return rv, (namespace, name)


# -- watch streams --------------------------------------------------------------------------------


class WatchStream:
    """One watch being served: initial events, then changes, bookmarks, until it ends."""

    def __init__(
        self,
        api: Api,
        rtype: ResourceType,
        *,
        watcher: Watcher | None,
        initial: list[Change],
        options: ListOptions,
        output: _Output,
        include_object: str,
        timeout: float,
        since: int = 0,
        error: StatusError | None = None,
    ) -> None:
        self._api = api
        self.rtype = rtype
        self.watcher = watcher
        self._initial = initial
        self._options = options
        self._output = output
        self._include = include_object
        self._timeout = timeout
        # Only changes after the requested resourceVersion (which may lie in the future).
        self._since = since
        self._error = error
        self._headers_sent = False

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()

    def _passes(self, record: Record) -> bool:
        return _selected(
            self.rtype, record.obj, self._options.label_selector, self._options.field_selector
        )

    def _events(self, change: Change) -> Iterator[tuple[str, Record]]:
        if self._since and change.rv <= self._since:
            return
        current = change.type != "DELETED" and self._passes(change.record)
        previous = change.prev is not None and self._passes(change.prev)
        if change.type == "DELETED":
            if previous:
                yield "DELETED", change.record
        elif current and not previous:
            yield "ADDED", change.record
        elif current and previous:
            yield "MODIFIED", change.record
        elif previous:
            # An object that stopped matching: DELETED with its previous state at the new RV.
            meta = dict(change.prev.obj["metadata"]) if change.prev else {}
            meta["resourceVersion"] = str(change.rv)
            prev_obj = {**(change.prev.obj if change.prev else {}), "metadata": meta}
            yield "DELETED", Record(self.rtype, prev_obj, change.rv)

    def _line(self, event_type: str, record: Record) -> bytes:
        if self._output.convert == "Table":
            table = _table(
                self.rtype,
                [record.obj],
                version=self._output.convert_version,
                include_object=self._include,
                resource_version=record.obj["metadata"].get("resourceVersion", ""),
                headers=not self._headers_sent,
            )
            self._headers_sent = True
            return dumps({"type": event_type, "object": table})
        if self._output.pretty:
            return dumps({"type": event_type, "object": record.full()})
        return b'{"type":"' + event_type.encode() + b'","object":' + record.full_json() + b"}\n"

    def _bookmark_line(self, rv: int) -> bytes:
        obj = {
            "kind": self.rtype.kind,
            "apiVersion": self.rtype.api_version,
            "metadata": {"resourceVersion": str(rv)},
        }
        return dumps({"type": "BOOKMARK", "object": obj})

    def serve(
        self,
        conn: Connection,
        stopping: threading.Event,
        partitioned: Callable[[], bool] = lambda: False,
    ) -> None:
        """Write the stream until timeout, client hang-up, overflow or server stop.

        ``partitioned`` is polled between writes; when it returns True it has held the
        connection through a partition (see ``faults``) and the stream ends without a word.
        """
        deadline = time.monotonic() + self._timeout
        conn.start_stream(200, [("Content-Type", "application/json;stream=watch")])
        if self._error is not None:
            conn.send_chunk(dumps({"type": "ERROR", "object": self._error.status}))
            conn.end_stream()
            return
        watcher = self.watcher
        assert watcher is not None
        try:
            out = bytearray()
            for change in self._initial:
                for event_type, record in self._events(change):
                    out += self._line(event_type, record)
            if out:
                conn.send_chunk(bytes(out))
            bookmark_at = self._next_bookmark(time.monotonic(), deadline)
            while not stopping.is_set():
                if partitioned():
                    return
                now = time.monotonic()
                if now >= deadline:
                    break
                if bookmark_at is not None and now >= bookmark_at:
                    watcher.request_bookmark()
                    bookmark_at = self._next_bookmark(now, deadline)
                wait = min(deadline - now, _IDLE_CHECK)
                if bookmark_at is not None:
                    wait = max(0.0, min(wait, bookmark_at - now))
                items = watcher.get(wait)
                if partitioned():
                    return  # a change made after the partition began must not get through
                out = bytearray()
                for item in items:
                    if isinstance(item, Bookmark):
                        if self._options.allow_bookmarks:
                            out += self._bookmark_line(item.rv)
                        continue
                    for event_type, record in self._events(item):
                        out += self._line(event_type, record)
                if out:
                    conn.send_chunk(bytes(out))
                if watcher.closed:
                    break
                if not items and conn.peer_closed(0):
                    return
            conn.end_stream()
        except ConnectionClosed:
            return
        finally:
            watcher.close()

    def _next_bookmark(self, now: float, deadline: float) -> float | None:
        # The cacher sends a bookmark about every interval and one 2 s before the deadline.
        if not self._options.allow_bookmarks:
            return None
        candidate = now + self._api._bookmark_interval
        before_deadline = deadline - 2.0
        if before_deadline > now:
            return min(candidate, before_deadline)
        return candidate
