"""``SelfSubjectAccessReview`` (``authorization.k8s.io/v1``): "may I do this?", answered by RBAC;
and ``SelfSubjectReview`` (``authentication.k8s.io/v1``): "who am I?" (``kubectl auth whoami``).

kube-apiserver answers ``POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`` without
storing anything: it fills the requesting user into the review, asks its authorizer and returns
the review with ``status`` set (``201 Created``). Every authenticated user may create one (the
``system:basic-user`` ClusterRole). Without RBAC mode, this server allows everything, so every
review comes back allowed.

``kubectl auth can-i`` (which sends protobuf: decoded here, answered in JSON, which client-go
also accepts) and ``leader_election.preflight`` use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leader_election.testing import status
from leader_election.testing.auth import Decision, RequestAttributes, UserInfo
from leader_election.testing.http11 import Request
from leader_election.testing.requestinfo import RequestInfo
from leader_election.testing.status import FieldError

__all__ = [
    "GROUP",
    "KIND",
    "RESOURCE",
    "VERSION",
    "decode_protobuf",
    "discovery_resources",
    "handles",
    "review",
    "served_groups",
    "who_am_i",
]

GROUP = "authorization.k8s.io"
VERSION = "v1"
RESOURCE = "selfsubjectaccessreviews"
KIND = "SelfSubjectAccessReview"


AUTHN_GROUP = "authentication.k8s.io"
AUTHN_RESOURCE = "selfsubjectreviews"
AUTHN_KIND = "SelfSubjectReview"


def handles(info: RequestInfo) -> bool:
    """True for requests this module answers (any method, so that others get 405)."""
    return info.is_resource and (
        (info.group, info.resource) in ((GROUP, RESOURCE), (AUTHN_GROUP, AUTHN_RESOURCE))
    )


def discovery_resources(group: str, version: str) -> list[dict[str, Any]]:
    """The review resources listed in ``/apis/{group}/{version}`` (none for other groups)."""
    if version != VERSION:
        return []
    if group == GROUP:
        resource, singular, kind = RESOURCE, "selfsubjectaccessreview", KIND
    elif group == AUTHN_GROUP:
        resource, singular, kind = AUTHN_RESOURCE, "selfsubjectreview", AUTHN_KIND
    else:
        return []
    return [
        {
            "name": resource,
            "singularName": singular,
            "namespaced": False,
            "kind": kind,
            "verbs": ["create"],
        }
    ]


def served_groups() -> list[tuple[str, str]]:
    """The (group, version) pairs of the review resources."""
    return [(AUTHN_GROUP, VERSION), (GROUP, VERSION)]


def who_am_i(user: UserInfo) -> dict[str, Any]:
    """A ``SelfSubjectReview``: who the server thinks the requester is (kubectl auth whoami)."""
    return {
        "kind": AUTHN_KIND,
        "apiVersion": f"{AUTHN_GROUP}/{VERSION}",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": {"username": user.name, "groups": list(user.groups)}},
    }


PROTOBUF = "application/vnd.kubernetes.protobuf"
_PROTOBUF_MAGIC = b"k8s\x00"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated protobuf varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> dict[int, bytes]:
    """The length-delimited fields of one protobuf message (the last of each number wins)."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            out[number] = data[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


_RESOURCE_ATTRIBUTES = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
_NON_RESOURCE_ATTRIBUTES = ("path", "verb")


def decode_protobuf(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded review (kubectl auth can-i sends one) as the JSON it stands for.

    The envelope is ``k8s\\x00`` + ``runtime.Unknown`` whose ``raw`` holds the
    ``SelfSubjectAccessReview``: spec (2) → resourceAttributes (1) / nonResourceAttributes (2).
    """
    if not body.startswith(_PROTOBUF_MAGIC):
        raise ValueError("provided data does not appear to be a protobuf message")
    raw = _fields(body[len(_PROTOBUF_MAGIC) :]).get(2, b"")
    spec = _fields(_fields(raw).get(2, b""))
    out: dict[str, Any] = {}
    for number, key, names in (
        (1, "resourceAttributes", _RESOURCE_ATTRIBUTES),
        (2, "nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES),
    ):
        if number in spec:
            attrs = _fields(spec[number])
            out[key] = {
                name: attrs[i + 1].decode("utf-8", "replace")
                for i, name in enumerate(names)
                if i + 1 in attrs
            }
    return {"spec": out}


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def review(
    request: Request,
    info: RequestInfo,
    user: UserInfo,
    decide: Callable[[RequestAttributes], Decision],
    parse_body: Callable[[Request], Any],
) -> tuple[int, dict[str, Any]]:
    """Answer one review request: ``(201, review)``; raises ``StatusError`` otherwise.

    ``parse_body`` decodes the request body (JSON or YAML) as the API's other handlers do.
    """
    if info.version != VERSION or info.name or info.namespace or info.subresource:
        raise status.generic_server_response(404)
    if request.method != "POST":
        raise status.generic_server_response(405)
    if info.group == AUTHN_GROUP:
        return 201, who_am_i(user)
    content_type = request.header("content-type").split(";", 1)[0].strip().lower()
    try:
        body = decode_protobuf(request.body) if content_type == PROTOBUF else parse_body(request)
    except ValueError as exc:
        raise status.bad_request(str(exc)) from None
    if not isinstance(body, dict):
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {KIND}): body is not an object"
        )
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    resource_attrs = spec.get("resourceAttributes")
    non_resource_attrs = spec.get("nonResourceAttributes")
    if (resource_attrs is None) == (non_resource_attrs is None):
        error = FieldError.invalid(
            "spec.resourceAttributes",
            spec.get("resourceAttributes"),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
        raise status.invalid(GROUP, KIND, "", [error])
    if isinstance(resource_attrs, dict):
        attrs = RequestAttributes(
            user=user,
            verb=_string(resource_attrs.get("verb")),
            api_group=_string(resource_attrs.get("group")),
            resource=_string(resource_attrs.get("resource")),
            namespace=_string(resource_attrs.get("namespace")),
            name=_string(resource_attrs.get("name")),
            subresource=_string(resource_attrs.get("subresource")),
        )
        spec_out: dict[str, Any] = {
            "resourceAttributes": {k: v for k, v in resource_attrs.items() if v not in ("", None)}
        }
    else:
        attrs_in = non_resource_attrs if isinstance(non_resource_attrs, dict) else {}
        attrs = RequestAttributes(
            user=user,
            verb=_string(attrs_in.get("verb")),
            resource_request=False,
            path=_string(attrs_in.get("path")),
        )
        spec_out = {"nonResourceAttributes": {k: v for k, v in attrs_in.items() if v}}
    decision = decide(attrs)
    review_status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        review_status["reason"] = decision.reason
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    return 201, {
        "kind": KIND,
        "apiVersion": f"{GROUP}/{VERSION}",
        "metadata": {**(metadata or {}), "creationTimestamp": None},
        "spec": spec_out,
        "status": review_status,
    }
