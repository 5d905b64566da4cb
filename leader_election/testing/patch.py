"""The three patch types kube-apiserver applies to built-in kinds.

* ``application/merge-patch+json`` — JSON merge patch (RFC 7386): objects merge, ``null``
  deletes, arrays are replaced.
* ``application/strategic-merge-patch+json`` — strategic merge patch, as far as these kinds
  need it: lists tagged ``patchStrategy=merge`` merge (``metadata.finalizers`` as a set,
  ``metadata.ownerReferences`` by ``uid``), and the ``$patch: replace|delete``,
  ``$retainKeys``, ``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>``
  directives are honoured.
* ``application/json-patch+json`` — JSON patch (RFC 6902) including ``test``, with negative
  array indices as evanphx/json-patch v4 allows.

Errors are ``PatchError`` with the HTTP code the real server answers: 400 when the patch itself
does not decode, 422 when it does not apply (for JSON patch the real server hides the reason
behind a generic message; ``PatchError.detail`` keeps it for logs).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from leader_election.testing.schema import Field, GoFloat, Kind, Struct

__all__ = [
    "MAX_JSON_PATCH_OPERATIONS",
    "PatchError",
    "go_format",
    "json_merge_patch",
    "json_patch",
    "strategic_merge_patch",
]

MAX_JSON_PATCH_OPERATIONS = 10_000


class PatchError(Exception):
    """A patch that cannot be decoded (``code`` 400) or applied (``code`` 422)."""

    def __init__(self, code: int, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or message


def go_format(value: Any) -> str:
    """Go's ``%+v`` of a decoded JSON value (``map[a:1 b:[x y]]``), as 422 messages show it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (GoFloat, float)):
        number = float(value)
        if number.is_integer() and abs(number) < 1e21:
            return str(int(number))
        return repr(number).replace("e+", "e+").replace("inf", "+Inf")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_format(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{go_format(value[key])}" for key in sorted(value)) + "]"
    return str(value)


# -- JSON merge patch ------------------------------------------------------------------------------


def json_merge_patch(document: Any, patch: Any) -> Any:
    """RFC 7386: apply ``patch`` to ``document`` (neither is modified)."""
    if not isinstance(patch, dict):
        return _prune_nulls(copy.deepcopy(patch))
    result = dict(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = json_merge_patch(result[key], value)
        else:
            result[key] = _prune_nulls(copy.deepcopy(value))
    return result


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


# -- strategic merge patch -------------------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM = "$deleteFromPrimitiveList/"
_SET_ORDER = "$setElementOrder/"


def strategic_merge_patch(
    document: Mapping[str, Any], patch: Mapping[str, Any], schema: Struct
) -> Any:
    """Apply a strategic merge patch to ``document`` laid out as ``schema``."""
    merged = _merge_map(dict(document), dict(patch), schema)
    return {} if merged is None else merged


def _field_struct(spec: Field | None) -> Struct | None:
    if spec is not None and spec.kind in (Kind.STRUCT, Kind.LIST_STRUCT):
        return spec.struct
    return None


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Struct | None) -> Any:
    directive = patch.get(_DIRECTIVE)
    if directive is not None:
        if directive == "replace":
            return _strip_directives({k: v for k, v in patch.items() if k != _DIRECTIVE})
        if directive == "delete":
            return None
        if directive != "merge":
            raise PatchError(400, f"unknown patch type: {directive} in map: {go_format(patch)}")
    retain = patch.get(_RETAIN_KEYS)
    result = dict(original)
    if retain is not None:
        if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
            raise PatchError(400, "invalid patch format of retainKeys")
        result = {k: v for k, v in result.items() if k in retain}
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith(_SET_ORDER):
            continue
        if key.startswith(_DELETE_FROM):
            target = key[len(_DELETE_FROM) :]
            if not isinstance(value, list):
                raise PatchError(400, "invalid patch format of primitive list")
            current = result.get(target)
            if isinstance(current, list):
                result[target] = [item for item in current if item not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        spec = schema.by_name.get(key) if schema is not None else None
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged = _merge_map(current, value, _field_struct(spec))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, dict):
            if value.get(_DIRECTIVE) == "delete":
                result.pop(key, None)
            else:
                result[key] = _strip_directives(value)
        elif isinstance(value, list) and spec is not None and spec.patch_strategy == "merge":
            result[key] = _merge_list(current if isinstance(current, list) else [], value, spec)
        else:
            result[key] = _strip_directives(value)
    return result


def _merge_list(original: list[Any], patch: list[Any], spec: Field) -> list[Any]:
    if spec.kind is not Kind.LIST_STRUCT:
        # A set of primitives: keep what exists, add what is new, in order.
        merged = list(original)
        for item in patch:
            if isinstance(item, (dict, list)):
                raise PatchError(400, "invalid patch format of primitive list")
            if item not in merged:
                merged.append(item)
        return merged
    key = spec.patch_merge_key
    if any(isinstance(item, dict) and item.get(_DIRECTIVE) == "replace" for item in patch):
        return [
            _strip_directives(item)
            for item in patch
            if not (isinstance(item, dict) and item.get(_DIRECTIVE) == "replace")
        ]
    merged = [dict(item) if isinstance(item, dict) else item for item in original]
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(
                400, f"merging an object in json but data type is not map, is {type(item).__name__}"
            )
        if key not in item:
            raise PatchError(
                400, f"map: {go_format(item)} does not contain declared merge key: {key}"
            )
        index = next(
            (
                i
                for i, existing in enumerate(merged)
                if isinstance(existing, dict) and existing.get(key) == item[key]
            ),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            if index is not None:
                del merged[index]
            continue
        if index is None:
            merged.append(_strip_directives(item))
        else:
            result = _merge_map(merged[index], item, spec.struct)
            if result is None:
                del merged[index]
            else:
                merged[index] = result
    return merged


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not (k in (_DIRECTIVE, _RETAIN_KEYS) or k.startswith((_DELETE_FROM, _SET_ORDER)))
            and v is not None
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


# -- JSON patch ------------------------------------------------------------------------------------


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return a is None and b is None


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError(422, "", "path must be a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(422, "", f"invalid path: {path}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], segment: str, *, insert: bool) -> int:
    if segment == "-" and insert:
        return len(container)
    try:
        index = int(segment)
    except ValueError:
        raise PatchError(422, "", f"invalid array index: {segment}") from None
    size = len(container) + (1 if insert else 0)
    if index < 0:
        index += len(container)
    if not 0 <= index < size:
        raise PatchError(422, "", f"array index out of bounds: {segment}")
    return index


def _parent(document: Any, parts: list[str]) -> tuple[Any, str]:
    if not parts:
        raise PatchError(422, "", "operation on the document root")
    node = document
    for token in parts[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, insert=False)]
        else:
            raise PatchError(422, "", f"doc is missing path: {'/'.join(parts)}")
    if not isinstance(node, (dict, list)):
        raise PatchError(422, "", f"doc is missing path: {'/'.join(parts)}")
    return node, parts[-1]


def _get(document: Any, parts: list[str]) -> Any:
    node = document
    for token in parts:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, insert=False)]
        else:
            raise PatchError(422, "", f"doc is missing path: /{'/'.join(parts)}")
    return node


def _add(document: Any, parts: list[str], value: Any) -> None:
    parent, token = _parent(document, parts)
    if isinstance(parent, dict):
        parent[token] = value
    else:
        parent.insert(_index(parent, token, insert=True), value)


def _remove(document: Any, parts: list[str]) -> Any:
    parent, token = _parent(document, parts)
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(
                422, "", f"remove operation does not apply: doc is missing key: {token}"
            )
        return parent.pop(token)
    return parent.pop(_index(parent, token, insert=False))


def _replace(document: Any, parts: list[str], value: Any) -> None:
    parent, token = _parent(document, parts)
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(
                422, "", f"replace operation does not apply: doc is missing key: {token}"
            )
        parent[token] = value
    else:
        parent[_index(parent, token, insert=False)] = value


def validate_json_patch(operations: Any) -> list[dict[str, Any]]:
    """Decode a JSON patch document as the handler does before applying it (400 on failure)."""
    if not isinstance(operations, list):
        kind = "object" if isinstance(operations, dict) else _json_kind(operations)
        raise PatchError(
            400,
            f"error decoding patch: json: cannot unmarshal {kind} into Go value of type "
            "[]handlers.jsonPatchOp",
        )
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError(
                400,
                f"error decoding patch: json: cannot unmarshal {_json_kind(operation)} into Go "
                "value of type handlers.jsonPatchOp",
            )
        for key in ("op", "path", "from"):
            if (
                key in operation
                and operation[key] is not None
                and not isinstance(operation[key], str)
            ):
                raise PatchError(
                    400,
                    f"error decoding patch: json: cannot unmarshal {_json_kind(operation[key])} "
                    f"into Go struct field jsonPatchOp.{key} of type string",
                )
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            413,
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}",
        )
    return operations


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_patch(document: Any, operations: list[dict[str, Any]]) -> Any:
    """Apply decoded JSON patch ``operations`` to a copy of ``document``."""
    document = copy.deepcopy(document)
    for operation in operations:
        op = operation.get("op")
        parts = _pointer(operation.get("path"))
        if op == "add":
            if "value" not in operation:
                raise PatchError(422, "", "add operation has no value")
            _add(document, parts, copy.deepcopy(operation["value"]))
        elif op == "remove":
            _remove(document, parts)
        elif op == "replace":
            if "value" not in operation:
                raise PatchError(422, "", "replace operation has no value")
            _replace(document, parts, copy.deepcopy(operation["value"]))
        elif op == "move":
            source = _pointer(operation.get("from"))
            value = _remove(document, source)
            _add(document, parts, value)
        elif op == "copy":
            source = _pointer(operation.get("from"))
            _add(document, parts, copy.deepcopy(_get(document, source)))
        elif op == "test":
            expected = operation.get("value")
            try:
                actual = _get(document, parts)
            except PatchError:
                if expected is None:
                    continue
                raise PatchError(
                    422, "", f"testing value {operation.get('path')} failed: test failed"
                ) from None
            if not _json_equal(actual, expected):
                raise PatchError(
                    422, "", f"testing value {operation.get('path')} failed: test failed"
                )
        else:
            raise PatchError(422, "", f"Unexpected kind: {op if op is not None else 'unknown'}")
    return document
