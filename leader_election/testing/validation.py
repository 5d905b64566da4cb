"""Object validation as kube-apiserver 1.32 words it: names, labels, annotations, ObjectMeta.

Mirrors ``k8s.io/apimachinery/pkg/util/validation`` (``IsDNS1123Subdomain``, ``IsQualifiedName``,
...) and ``k8s.io/apimachinery/pkg/api/validation`` (``ValidateObjectMeta`` and its update
variant). Each check returns ``FieldError`` causes in the order the real validators append them,
so a 422's ``details.causes`` and aggregated message match the real server's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from leader_election.testing.status import FieldError

__all__ = [
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "validate_object_meta",
    "validate_object_meta_update",
]

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_LABEL_RE = re.compile("^" + _DNS1123_LABEL_FMT + "$")
_DNS1123_SUBDOMAIN_RE = re.compile("^" + _DNS1123_SUBDOMAIN_FMT + "$")
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile("^" + _QNAME_FMT + "$")
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_RE = re.compile("^" + _LABEL_VALUE_FMT + "$")

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    # Go appends "'x', " per example with " or " between them, hence the double spaces.
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(length: int) -> str:
    return f"must be no more than {length} characters"


def _fullmatch(pattern: re.Pattern[str], value: str) -> bool:
    # Go's $ does not match before a trailing newline; Python's does unless fullmatch is used.
    return pattern.fullmatch(value) is not None


def is_dns1123_label(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len(63))
    if not _fullmatch(_DNS1123_LABEL_RE, value):
        if _fullmatch(_DNS1123_SUBDOMAIN_RE, value):
            errors.append("must not contain dots")
        else:
            errors.append(
                _regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc")
            )
    return errors


def is_dns1123_subdomain(value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append(_max_len(253))
    if not _fullmatch(_DNS1123_SUBDOMAIN_RE, value):
        errors.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def is_qualified_name(value: str) -> list[str]:
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len(63))
    if not _fullmatch(_QNAME_RE, name):
        errors.append(
            "name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def is_valid_label_value(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len(63))
    if not _fullmatch(_LABEL_VALUE_RE, value):
        errors.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errors


def _mask_trailing_dash(name: str) -> str:
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def is_valid_path_segment_name(name: str) -> list[str]:
    """``path.IsValidPathSegmentName``: what a name must be to appear in a URL."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


def _validate_labels(labels: Mapping[str, str], field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key, value in labels.items():
        errors.extend(FieldError.invalid(field, key, msg) for msg in is_qualified_name(key))
        errors.extend(FieldError.invalid(field, value, msg) for msg in is_valid_label_value(value))
    return errors


def _validate_annotations(annotations: Mapping[str, str], field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    total = 0
    for key, value in annotations.items():
        errors.extend(FieldError.invalid(field, key, msg) for msg in is_qualified_name(key.lower()))
        total += len(key) + len(value)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(FieldError.too_long(field, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errors


def _validate_owner_references(refs: Sequence[Mapping[str, Any]], field: str) -> list[FieldError]:
    # 1.32 reports every reference's problems on the list's own path, not on an index.
    errors: list[FieldError] = []
    controller = ""
    for ref in refs:
        api_version = str(ref.get("apiVersion", ""))
        parts = api_version.split("/")
        version = "" if len(parts) > 2 else parts[-1]
        if not version:
            errors.append(
                FieldError.invalid(f"{field}.apiVersion", api_version, "version must not be empty")
            )
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                errors.append(
                    FieldError.invalid(
                        f"{field}.{key}", ref.get(key, ""), f"{key} must not be empty"
                    )
                )
        if ref.get("controller"):
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if controller:
                errors.append(
                    FieldError.invalid(
                        field,
                        "<owner references>",
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {controller} and {current}",
                    )
                )
            else:
                controller = current
    return errors


def _validate_finalizers(finalizers: Sequence[str], field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for finalizer in finalizers:
        errors.extend(
            FieldError.invalid(field, finalizer, msg) for msg in is_qualified_name(finalizer)
        )
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errors.append(
            FieldError.invalid(
                field,
                list(finalizers),
                "finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    return errors


def validate_object_meta(
    meta: Mapping[str, Any],
    *,
    namespaced: bool,
    name_fn: Any = name_is_dns_subdomain,
) -> list[FieldError]:
    """``ValidateObjectMeta`` with ``name_fn`` checking the name (DNS subdomain by default)."""
    errors: list[FieldError] = []
    generate_name = meta.get("generateName", "")
    if generate_name:
        errors.extend(
            FieldError.invalid("metadata.generateName", generate_name, msg)
            for msg in name_fn(generate_name, True)
        )
    name = meta.get("name", "")
    if not name:
        errors.append(FieldError.required("metadata.name", "name or generateName is required"))
    else:
        errors.extend(
            FieldError.invalid("metadata.name", name, msg) for msg in name_fn(name, False)
        )
    namespace = meta.get("namespace", "")
    if namespaced:
        if not namespace:
            errors.append(FieldError.required("metadata.namespace"))
        else:
            errors.extend(
                FieldError.invalid("metadata.namespace", namespace, msg)
                for msg in name_is_dns_label(namespace, False)
            )
    elif namespace:
        errors.append(FieldError.forbidden("metadata.namespace", "not allowed on this type"))
    generation = meta.get("generation", 0)
    if generation < 0:
        errors.append(
            FieldError.invalid(
                "metadata.generation", generation, "must be greater than or equal to 0"
            )
        )
    errors.extend(_validate_labels(meta.get("labels", {}), "metadata.labels"))
    errors.extend(_validate_annotations(meta.get("annotations", {}), "metadata.annotations"))
    errors.extend(
        _validate_owner_references(meta.get("ownerReferences", []), "metadata.ownerReferences")
    )
    errors.extend(_validate_finalizers(meta.get("finalizers", []), "metadata.finalizers"))
    return errors


def validate_object_meta_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateObjectMetaUpdate``: immutable identity fields, labels and annotations."""
    errors: list[FieldError] = []
    if old.get("deletionTimestamp"):
        added = sorted(set(new.get("finalizers", [])) - set(old.get("finalizers", [])))
        if added:
            quoted = ", ".join(f'"{item}"' for item in added)
            errors.append(
                FieldError.forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted, found new "
                    f"finalizers []string{{{quoted}}}",
                )
            )
    if not new.get("resourceVersion"):
        errors.append(
            FieldError.invalid(
                "metadata.resourceVersion",
                new.get("resourceVersion", ""),
                "must be specified for an update",
            )
        )
    if new.get("generation", 0) < old.get("generation", 0):
        errors.append(
            FieldError.invalid(
                "metadata.generation", new.get("generation", 0), "must not be decremented"
            )
        )
    for field in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
        if new.get(field) != old.get(field):
            errors.append(
                FieldError.invalid(f"metadata.{field}", new.get(field, ""), "field is immutable")
            )
    errors.extend(_validate_labels(new.get("labels", {}), "metadata.labels"))
    errors.extend(_validate_annotations(new.get("annotations", {}), "metadata.annotations"))
    errors.extend(
        _validate_owner_references(new.get("ownerReferences", []), "metadata.ownerReferences")
    )
    return errors
