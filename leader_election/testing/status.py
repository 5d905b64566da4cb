"""``Status`` bodies worded exactly as kube-apiserver words them.

Every error the embedded server answers is a ``StatusError`` carrying the ``metav1.Status`` it
serializes. The constructors mirror ``k8s.io/apimachinery/pkg/api/errors`` (``NewNotFound``,
``NewConflict``, ``NewInvalid``, ...) so messages, reasons, codes and ``details`` match the real
server byte for byte where a client can see them. ``FieldError`` mirrors
``k8s.io/apimachinery/pkg/util/validation/field.Error``: the causes of a 422 Invalid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldError",
    "GroupResource",
    "StatusError",
    "aggregate_message",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "generic_server_response",
    "internal_error",
    "invalid",
    "method_not_supported",
    "not_acceptable",
    "not_found",
    "request_entity_too_large",
    "service_unavailable",
    "success",
    "timeout",
    "too_large_resource_version",
    "too_many_requests",
    "unsupported_media_type",
]

# The message a 409 carries when an update raced another writer (OptimisticLockErrorMsg).
OPTIMISTIC_LOCK_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)

# Go marks values it cannot render as %#v; we only need the markers the validators use.
OMIT_VALUE = object()


@dataclass(frozen=True, slots=True)
class GroupResource:
    """``schema.GroupResource``: prints as ``leases.coordination.k8s.io`` or ``configmaps``."""

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


class StatusError(Exception):
    """An API error answered as a ``Status`` body with ``code`` as the HTTP status."""

    def __init__(self, status: dict[str, Any], *, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(status.get("message", ""))
        self.status = status
        self.headers = tuple(headers)

    @property
    def code(self) -> int:
        return int(self.status.get("code", 500))

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))


def _status(
    code: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    # Field order is metav1.Status's; empty fields are omitted as Go's omitempty does.
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
    }
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def _details(
    *,
    name: str = "",
    group: str = "",
    kind: str = "",
    uid: str = "",
    causes: Sequence[dict[str, str]] = (),
    retry_after_seconds: int = 0,
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    if uid:
        details["uid"] = uid
    if causes:
        details["causes"] = list(causes)
    if retry_after_seconds:
        details["retryAfterSeconds"] = retry_after_seconds
    return details


def go_quote(value: str) -> str:
    """Go's ``%q`` for a string: double-quoted with Go escapes."""
    # json.dumps agrees with strconv.Quote for every printable character and the usual escapes;
    # Go keeps non-ASCII printable runes as they are, so do not escape them.
    return json.dumps(value, ensure_ascii=False)


def not_found(resource: GroupResource, name: str) -> StatusError:
    """404 NotFound: ``leases.coordination.k8s.io "x" not found``."""
    return StatusError(
        _status(
            404,
            "NotFound",
            f"{resource} {go_quote(name)} not found",
            _details(name=name, group=resource.group, kind=resource.resource),
        )
    )


def already_exists(resource: GroupResource, name: str) -> StatusError:
    """409 AlreadyExists: ``leases.coordination.k8s.io "x" already exists``."""
    return StatusError(
        _status(
            409,
            "AlreadyExists",
            f"{resource} {go_quote(name)} already exists",
            _details(name=name, group=resource.group, kind=resource.resource),
        )
    )


def conflict(
    resource: GroupResource, name: str, cause: str = OPTIMISTIC_LOCK_MESSAGE
) -> StatusError:
    """409 Conflict: ``Operation cannot be fulfilled on leases.coordination.k8s.io "x": ...``."""
    return StatusError(
        _status(
            409,
            "Conflict",
            f"Operation cannot be fulfilled on {resource} {go_quote(name)}: {cause}",
            _details(name=name, group=resource.group, kind=resource.resource),
        )
    )


def forbidden(resource: GroupResource, name: str, cause: str) -> StatusError:
    """403 Forbidden (``NewForbidden``): ``namespaces "default" is forbidden: <cause>``."""
    if not resource.resource:
        message = f"forbidden: {cause}"
    elif not name:
        message = f"{resource} is forbidden: {cause}"
    else:
        message = f"{resource} {go_quote(name)} is forbidden: {cause}"
    details = _details(name=name, group=resource.group, kind=resource.resource)
    return StatusError(_status(403, "Forbidden", message, details))


def bad_request(message: str) -> StatusError:
    """400 BadRequest with ``message`` as the reason text."""
    return StatusError(_status(400, "BadRequest", message))


def expired(message: str) -> StatusError:
    """410 Expired (``NewResourceExpired``): a resourceVersion older than the retained window."""
    return StatusError(_status(410, "Expired", message))


def method_not_supported(resource: GroupResource, action: str) -> StatusError:
    """405 MethodNotAllowed for a verb the resource's storage does not implement."""
    return StatusError(
        _status(
            405,
            "MethodNotAllowed",
            f"{action} is not supported on resources of kind {go_quote(str(resource))}",
            _details(group=resource.group, kind=resource.resource),
        )
    )


def unsupported_media_type(accepted: Iterable[str]) -> StatusError:
    """415 UnsupportedMediaType naming the media types the endpoint accepts."""
    message = (
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )
    return StatusError(_status(415, "UnsupportedMediaType", message))


def not_acceptable(accepted: Iterable[str]) -> StatusError:
    """406 NotAcceptable: no media type of the ``Accept`` header can be produced."""
    message = "only the following media types are accepted: " + ", ".join(accepted)
    return StatusError(_status(406, "NotAcceptable", message))


def request_entity_too_large(message: str) -> StatusError:
    """413 RequestEntityTooLarge: ``Request entity too large: limit is 3145728``."""
    return StatusError(
        _status(413, "RequestEntityTooLarge", f"Request entity too large: {message}")
    )


def too_many_requests(message: str, retry_after_seconds: int) -> StatusError:
    """429 TooManyRequests with a ``Retry-After`` header, as API Priority and Fairness answers."""
    return StatusError(
        _status(
            429,
            "TooManyRequests",
            message,
            _details(retry_after_seconds=retry_after_seconds),
        ),
        headers=[("Retry-After", str(retry_after_seconds))],
    )


def service_unavailable(message: str) -> StatusError:
    """503 ServiceUnavailable."""
    return StatusError(_status(503, "ServiceUnavailable", message))


def internal_error(cause: str) -> StatusError:
    """500 InternalError: ``Internal error occurred: ...``."""
    return StatusError(
        _status(
            500,
            "InternalError",
            f"Internal error occurred: {cause}",
            _details(causes=[{"message": cause}]),
        )
    )


def timeout(
    message: str, retry_after_seconds: int, causes: Sequence[dict[str, str]] = ()
) -> StatusError:
    """504 Timeout: ``Timeout: ...``."""
    return StatusError(
        _status(
            504,
            "Timeout",
            f"Timeout: {message}",
            _details(causes=causes, retry_after_seconds=retry_after_seconds),
        )
    )


def too_large_resource_version(requested: int, current: int) -> StatusError:
    """504 for a list/get at a resourceVersion the server has not reached yet."""
    return timeout(
        f"Too large resource version: {requested}, current: {current}",
        1,
        [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
    )


_GENERIC_MESSAGES = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
}


def generic_server_response(code: int) -> StatusError:
    """``NewGenericServerResponse`` without a resource: go-restful's 404/405, JSON patch 422s."""
    reason, message = _GENERIC_MESSAGES[code]
    return StatusError(_status(code, reason, message, {}))


def success(*, name: str, group: str, kind: str, uid: str) -> dict[str, Any]:
    """The ``Status`` a delete answers for kinds that do not return the deleted object."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": _details(name=name, group=group, kind=kind, uid=uid),
    }


# -- field errors (the causes of a 422) ---------------------------------------------------------

_TYPE_STRINGS = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}


def go_value(value: object) -> str:
    """How ``field.Error.ErrorBody`` prints a bad value (Go's ``%v`` / ``%q`` / ``%#v``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, GoUint):
        # An unsigned integer is not among the types Go prints with %v: it falls to %#v.
        return hex(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        # %#v of a []string: []string{"a", "b"}
        return "[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}"
    return go_quote(str(value))


class GoUint(int):
    """An ``int`` that Go holds as ``uint64`` (it prints as ``0x0`` in a field error)."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation failure: ``metadata.name: Invalid value: "X": <detail>``."""

    type: str  # FieldValueInvalid, FieldValueRequired, ...
    field: str
    bad_value: object = ""
    detail: str = ""

    def body(self) -> str:
        """``ErrorBody()``: the message without the field path."""
        text = _TYPE_STRINGS.get(self.type, f"<unknown error {go_quote(self.type)}>")
        if (
            self.type
            in (
                "FieldValueInvalid",
                "FieldValueNotSupported",
                "FieldValueDuplicate",
                "FieldValueNotFound",
                "FieldValueTypeInvalid",
                "FieldValueTooMany",
            )
            and self.bad_value is not OMIT_VALUE
        ):
            text = f"{text}: {go_value(self.bad_value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        cause = {"reason": self.type, "message": self.body()}
        if self.field:
            cause["field"] = self.field
        return cause

    # Constructors named as in k8s.io/apimachinery/pkg/util/validation/field.
    @staticmethod
    def invalid(field: str, value: object, detail: str) -> FieldError:
        return FieldError("FieldValueInvalid", field, value, detail)

    @staticmethod
    def required(field: str, detail: str = "") -> FieldError:
        return FieldError("FieldValueRequired", field, "", detail)

    @staticmethod
    def forbidden(field: str, detail: str) -> FieldError:
        return FieldError("FieldValueForbidden", field, "", detail)

    @staticmethod
    def not_supported(field: str, value: object, valid: Sequence[str]) -> FieldError:
        detail = ""
        if valid:
            detail = "supported values: " + ", ".join(go_quote(v) for v in valid)
        return FieldError("FieldValueNotSupported", field, value, detail)

    @staticmethod
    def too_long(field: str, limit: int) -> FieldError:
        return FieldError("FieldValueTooLong", field, "", f"may not be more than {limit} bytes")


def aggregate_message(errors: Sequence[object]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one error bare, several in ``[a, b]``, deduped."""
    seen: list[str] = []
    for error in errors:
        text = str(error)
        if text not in seen:
            seen.append(text)
    if not seen:
        return ""
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def invalid(group: str, kind: str, name: str, errors: Sequence[FieldError]) -> StatusError:
    """422 Invalid: ``Lease.coordination.k8s.io "x" is invalid: <aggregate>`` with causes."""
    qualified_kind = f"{kind}.{group}" if group else kind
    aggregate = aggregate_message(errors)
    message = f"{qualified_kind} {go_quote(name)} is invalid"
    if aggregate:
        message = f"{message}: {aggregate}"
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    # Causes are always present, even empty ones, because NewInvalid builds the slice itself;
    # encoding/json omits an empty slice with omitempty, so an empty list is left out.
    causes = [error.cause() for error in errors]
    if causes:
        details["causes"] = causes
    return StatusError(_status(422, "Invalid", message, details))
