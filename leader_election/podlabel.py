"""Leader-pod labelling: mark the Pod that leads with a label a Service can select.

With ``leader_pod_label="role=leader"`` the leader adds ``role=leader`` to its own Pod when it
is elected and removes it when it steps down; a Service whose selector includes
``role: leader`` then routes to the leader only (see ``docs/routing.md``). A new leader also
clears the label from the previous leader's Pod, but only if that Pod *still* carries it: the
removal is a JSON patch whose ``test`` op makes the API server refuse it when the label has
changed meanwhile, so it can never erase a label written after it was read.

This module is the engine only: ``parse_pod_label`` validates the option value, the three
patch functions each send one request bounded by ``timeout``. The runtime decides when to call
them. Permissions: ``get`` and ``patch`` on ``pods`` (``leader-election rbac --pod-label``).

The Pod's own name comes from ``POD_NAME`` (the downward API, ``fieldRef: metadata.name``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from leader_election.apirequest import send
from leader_election.errors import ApiError, ConfigurationError, NotFoundError

__all__ = [
    "POD_NAME_ENV",
    "PodLabel",
    "add_pod_label",
    "parse_pod_label",
    "pod_name_from_env",
    "remove_pod_label",
    "remove_pod_label_if_present",
]

POD_NAME_ENV = "POD_NAME"
DEFAULT_TIMEOUT = 5.0  # seconds

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_RULE = (
    "at most 63 characters, alphanumeric, '-', '_' or '.', starting and ending with an "
    "alphanumeric character"
)


def _label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if not slash:
        prefix, name = "", key
    if slash and not prefix:
        return "the prefix before '/' is empty"
    if prefix and (len(prefix) > 253 or _DNS_SUBDOMAIN.fullmatch(prefix) is None):
        return (
            f"the prefix {prefix!r} must be a DNS subdomain (lower case, at most 253 "
            "characters, e.g. 'example.com')"
        )
    if not name:
        return "the name is empty"
    if len(name) > 63 or _NAME.fullmatch(name) is None:
        return f"the name {name!r} must be {_NAME_RULE}"
    return None


def _label_value_problem(value: str) -> str | None:
    if value and (len(value) > 63 or _NAME.fullmatch(value) is None):
        return f"must be empty or {_NAME_RULE}"
    return None


@dataclass(frozen=True, slots=True)
class PodLabel:
    """A label ``key=value`` to put on the leader's Pod."""

    key: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}"

    @property
    def selector(self) -> str:
        """The label selector that picks the leader's Pod (``role=leader``)."""
        return str(self)


def check_labels(value: object, *, option: str) -> dict[str, str]:
    """Validate a mapping of labels (``lease_labels``); raises ``ConfigurationError`` naming
    the option, the offending key or value, and the rule."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{option}={value!r} must be a mapping of label keys to values, e.g. "
            "{'app.kubernetes.io/name': 'my-app'}",
            option=option,
            value=value,
        )
    labels: dict[str, str] = {}
    for key, label_value in value.items():
        if not isinstance(key, str) or not isinstance(label_value, str):
            raise ConfigurationError(
                f"{option}: {key!r}: {label_value!r}: keys and values must be strings",
                option=option,
                value=value,
            )
        problem = _label_key_problem(key)
        if problem is not None:
            raise ConfigurationError(
                f"{option}: {key!r} is not a valid label key: {problem}", option=option, value=value
            )
        problem = _label_value_problem(label_value)
        if problem is not None:
            raise ConfigurationError(
                f"{option}: {label_value!r} (for {key!r}) is not a valid label value: it {problem}",
                option=option,
                value=value,
            )
        labels[key] = label_value
    return labels


def parse_pod_label(value: object, *, option: str = "leader_pod_label") -> PodLabel:
    """Parse ``"key=value"``; raises ``ConfigurationError`` naming the option, value and rule."""
    if isinstance(value, PodLabel):
        return value
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{option}={value!r} must be a string 'key=value', e.g. 'role=leader'",
            option=option,
            value=value,
        )
    key, equals, label_value = value.partition("=")
    if not equals:
        raise ConfigurationError(
            f"{option}={value!r} has no '=': give the label as 'key=value', e.g. 'role=leader'",
            option=option,
            value=value,
        )
    problem = _label_key_problem(key)
    if problem is not None:
        raise ConfigurationError(
            f"{option}={value!r}: {key!r} is not a valid label key: {problem}",
            option=option,
            value=value,
        )
    problem = _label_value_problem(label_value)
    if problem is not None:
        raise ConfigurationError(
            f"{option}={value!r}: {label_value!r} is not a valid label value: it {problem}",
            option=option,
            value=value,
        )
    return PodLabel(key, label_value)


def pod_name_from_env(environ: Mapping[str, str] | None = None) -> str:
    """This Pod's name from ``POD_NAME``; raises ``ConfigurationError`` saying how to set it."""
    env = os.environ if environ is None else environ
    name = env.get(POD_NAME_ENV, "")
    if not name:
        raise ConfigurationError(
            f"leader_pod_label needs the Pod's name in ${POD_NAME_ENV}: add to the container "
            "env: - name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}",
            option="leader_pod_label",
            value=None,
        )
    return name


def _pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}"


def _pointer(key: str) -> str:
    """The JSON pointer of a label (RFC 6901: '~' is '~0', '/' is '~1')."""
    return "/metadata/labels/" + key.replace("~", "~0").replace("/", "~1")


def add_pod_label(
    api_client: Any, namespace: str, pod_name: str, label: PodLabel, *, timeout: float
) -> None:
    """Set ``label`` on the Pod (a merge patch; other labels are kept).

    Raises ``ForbiddenError`` (no ``patch`` on pods), ``NotFoundError`` (no such Pod) or
    another ``ApiError``.
    """
    send(
        api_client,
        "PATCH",
        _pod_path(namespace, pod_name),
        verb="patch",
        what=f"Pod {namespace}/{pod_name} (add label {label})",
        timeout=timeout,
        body={"metadata": {"labels": {label.key: label.value}}},
        content_type="application/merge-patch+json",
    )


def remove_pod_label(
    api_client: Any, namespace: str, pod_name: str, label: PodLabel, *, timeout: float
) -> None:
    """Remove ``label.key`` from the Pod, whatever its value (a merge patch with ``null``).

    A Pod that is already gone is not an error. Raises ``ForbiddenError`` or another
    ``ApiError``.
    """
    try:
        send(
            api_client,
            "PATCH",
            _pod_path(namespace, pod_name),
            verb="patch",
            what=f"Pod {namespace}/{pod_name} (remove label {label.key})",
            timeout=timeout,
            body={"metadata": {"labels": {label.key: None}}},
            content_type="application/merge-patch+json",
        )
    except NotFoundError:
        return


def remove_pod_label_if_present(
    api_client: Any, namespace: str, pod_name: str, label: PodLabel, *, timeout: float
) -> bool:
    """Remove ``label`` from another Pod only if that Pod still carries exactly ``label``.

    One JSON patch: ``test`` the label's value, then ``remove`` it; the API server applies both
    or neither, so a label set again after the caller looked is never erased. Returns True when
    removed, False when the Pod is gone or no longer carries the label. Raises
    ``ForbiddenError`` or another ``ApiError``.
    """
    path = _pointer(label.key)
    try:
        send(
            api_client,
            "PATCH",
            _pod_path(namespace, pod_name),
            verb="patch",
            what=f"Pod {namespace}/{pod_name} (remove label {label} if present)",
            timeout=timeout,
            body=[
                {"op": "test", "path": path, "value": label.value},
                {"op": "remove", "path": path},
            ],
            content_type="application/json-patch+json",
        )
    except NotFoundError:
        return False
    except ApiError as exc:
        # A failed test op (or a missing label) is 422 Invalid: the label moved on.
        if exc.status == 422:
            return False
        raise
    return True
