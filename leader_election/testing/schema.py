"""Decoding request bodies as Go's ``encoding/json`` decodes them into the API's typed structs.

kube-apiserver decodes every body into a Go struct, so what it accepts, drops and rejects follows
from the struct's field types and JSON tags. ``Struct`` and ``Field`` describe those structs;
``decode`` turns parsed JSON into the canonical object the server stores and serves:

* unknown fields are dropped and reported (``fieldValidation=Strict`` turns them into a 400);
* a value of the wrong JSON type fails with Go's ``UnmarshalTypeError`` text, e.g. ``json:
  cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type
  int32`` (decoding goes on and the first such error wins, as in Go);
* times go through ``kubetime`` (a bad ``MicroTime`` aborts decoding at once, as an
  ``UnmarshalJSON`` error does in Go);
* the result is laid out as Go marshals it: struct field order, ``omitempty`` honoured, map keys
  sorted, zero ``Time`` values as ``null``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from leader_election.testing import kubetime

__all__ = [
    "DecodeError",
    "Field",
    "GoFloat",
    "Kind",
    "Struct",
    "decode",
    "dumps",
    "loads",
]


class DecodeError(ValueError):
    """The body cannot be decoded into the struct; ``str()`` is Go's error text."""


class GoFloat(float):
    """A JSON number that is not an integer literal, remembering its literal for messages."""

    literal: str

    def __new__(cls, literal: str) -> GoFloat:
        value = super().__new__(cls, literal)
        value.literal = literal
        return value


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; Go's does not.
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def loads(data: bytes | str) -> Any:
    """Parse JSON as Go would accept it (no NaN/Infinity; numbers keep their literal)."""
    if isinstance(data, bytes):
        # Go replaces invalid UTF-8 inside strings instead of failing.
        data = data.decode("utf-8", errors="replace")
    return json.loads(data, parse_float=GoFloat, parse_constant=_reject_constant)


_HTML_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"))


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialize as Go's ``json.Encoder`` does: HTML characters escaped, a trailing newline."""
    if pretty:
        text = json.dumps(value, ensure_ascii=False, indent=2)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        for raw, escaped in _HTML_ESCAPES:
            text = text.replace(raw, escaped)
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8") + b"\n"


class Kind(enum.Enum):
    STRING = "string"
    INT32 = "int32"
    INT64 = "int64"
    BOOL = "bool"
    TIME = "time"  # metav1.Time
    MICROTIME = "microtime"  # metav1.MicroTime
    MAP_STRING = "map[string]string"
    MAP_BYTES = "map[string][]byte"
    LIST_STRING = "[]string"
    STRUCT = "struct"
    LIST_STRUCT = "[]struct"
    RAW = "raw"  # any JSON, kept as is (e.g. managedFields, which this server does not keep)


@dataclass(frozen=True, slots=True)
class Field:
    """One struct field: its JSON name, type and marshalling rules."""

    name: str
    kind: Kind
    go_type: str = ""  # the Go type named in errors ("int32", "v1.LeaseSpec", "types.UID", ...)
    pointer: bool = False
    omitempty: bool = True
    struct: Struct | None = None
    # Strategic merge patch tags: patchStrategy ("merge") and patchMergeKey ("uid").
    patch_strategy: str = ""
    patch_merge_key: str = ""


@dataclass(frozen=True, slots=True)
class Struct:
    """A Go struct type, e.g. ``LeaseSpec`` with its fields in declaration order."""

    go_name: str
    fields: tuple[Field, ...]
    package: str = "v1"
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    @property
    def go_type(self) -> str:
        return f"{self.package}.{self.go_name}"


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


class _Decoder:
    def __init__(self) -> None:
        self.first_error: str | None = None
        self.unknown: list[str] = []

    def type_error(self, value_desc: str, struct: str, path: str, go_type: str) -> None:
        if self.first_error is None:
            where = f"Go struct field {struct}.{path}" if struct or path else "Go value"
            self.first_error = f"json: cannot unmarshal {value_desc} into {where} of type {go_type}"

    def struct(
        self, schema: Struct, value: dict[str, Any], path: str, unknown_path: str
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, item in value.items():
            spec = schema.by_name.get(key)
            if spec is None:
                self.unknown.append(f"{unknown_path}{key}")
                continue
            seen[key] = self.field(schema, spec, item, f"{path}{key}", f"{unknown_path}{key}")
        out: dict[str, Any] = {}
        for spec in schema.fields:
            decoded = seen.get(spec.name, _MISSING)
            _emit(out, spec, decoded)
        return out

    def field(self, parent: Struct, spec: Field, value: Any, path: str, unknown_path: str) -> Any:
        kind = spec.kind
        if value is None:
            # null leaves Go's zero value; for a pointer that is nil.
            return _MISSING
        if kind is Kind.STRING:
            if isinstance(value, str):
                return value
            self.type_error(_json_type(value), parent.go_name, path, spec.go_type or "string")
            return _MISSING
        if kind in (Kind.INT32, Kind.INT64):
            go_type = "int32" if kind is Kind.INT32 else "int64"
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.type_error(_json_type(value), parent.go_name, path, go_type)
                return _MISSING
            limit = 2**31 if kind is Kind.INT32 else 2**63
            if isinstance(value, GoFloat) or not -limit <= value < limit:
                literal = value.literal if isinstance(value, GoFloat) else str(value)
                self.type_error(f"number {literal}", parent.go_name, path, go_type)
                return _MISSING
            return int(value)
        if kind is Kind.BOOL:
            if isinstance(value, bool):
                return value
            self.type_error(_json_type(value), parent.go_name, path, "bool")
            return _MISSING
        if kind in (Kind.TIME, Kind.MICROTIME):
            if not isinstance(value, str):
                # UnmarshalJSON decodes into a string first; the error gets the outer context.
                raise DecodeError(
                    f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                    f"{parent.go_name}.{path} of type string"
                )
            try:
                if kind is Kind.TIME:
                    instant = kubetime.parse_time(value)
                    return None if instant.is_zero else kubetime.format_time(instant)
                instant = kubetime.parse_micro(value)
                return None if instant.is_zero else kubetime.format_micro(instant)
            except kubetime.GoTimeError as exc:
                raise DecodeError(str(exc)) from None
        if kind in (Kind.MAP_STRING, Kind.MAP_BYTES):
            if not isinstance(value, dict):
                self.type_error(_json_type(value), parent.go_name, path, kind.value)
                return _MISSING
            out: dict[str, str] = {}
            for key in sorted(value):
                item = value[key]
                if item is None:
                    out[key] = ""
                elif not isinstance(item, str):
                    element = "string" if kind is Kind.MAP_STRING else "[]uint8"
                    self.type_error(_json_type(item), parent.go_name, path, element)
                elif kind is Kind.MAP_BYTES:
                    out[key] = self.base64(item)
                else:
                    out[key] = item
            return out
        if kind is Kind.LIST_STRING:
            if not isinstance(value, list):
                self.type_error(_json_type(value), parent.go_name, path, spec.go_type or "[]string")
                return _MISSING
            items: list[str] = []
            for item in value:
                if item is None:
                    items.append("")
                elif isinstance(item, str):
                    items.append(item)
                else:
                    self.type_error(_json_type(item), parent.go_name, path, "string")
            return items
        if kind is Kind.STRUCT:
            assert spec.struct is not None
            if not isinstance(value, dict):
                self.type_error(_json_type(value), parent.go_name, path, spec.struct.go_type)
                return _MISSING
            return self.struct(spec.struct, value, f"{path}.", f"{unknown_path}.")
        if kind is Kind.LIST_STRUCT:
            assert spec.struct is not None
            if not isinstance(value, list):
                self.type_error(_json_type(value), parent.go_name, path, f"[]{spec.struct.go_type}")
                return _MISSING
            decoded: list[dict[str, Any]] = []
            for index, element in enumerate(value):
                item = {} if element is None else element
                if not isinstance(item, dict):
                    self.type_error(_json_type(item), parent.go_name, path, spec.struct.go_type)
                    continue
                decoded.append(
                    self.struct(spec.struct, item, f"{path}.", f"{unknown_path}[{index}].")
                )
            return decoded
        return value  # RAW

    def base64(self, text: str) -> str:
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            offset = next(
                (
                    i
                    for i, ch in enumerate(text)
                    if not (ch.isascii() and (ch.isalnum() or ch in "+/="))
                ),
                max(len(text) - len(text) % 4, 0),
            )
            if self.first_error is None:
                self.first_error = f"illegal base64 data at input byte {offset}"
        return text


class _Missing:
    pass


_MISSING: Any = _Missing()


def _emit(out: dict[str, Any], spec: Field, value: Any) -> None:
    """Place ``value`` in ``out`` as Go's marshaller would (or leave it out)."""
    kind = spec.kind
    if value is _MISSING:
        # Go's zero value: pointers and omitempty fields vanish; a zero Time is null and a zero
        # struct is {}; a non-omitempty string is "".
        if spec.pointer:
            return
        if kind in (Kind.TIME, Kind.MICROTIME):
            out[spec.name] = None
        elif kind is Kind.STRUCT:
            assert spec.struct is not None
            zero: dict[str, Any] = {}
            for child in spec.struct.fields:
                _emit(zero, child, _MISSING)
            out[spec.name] = zero
        elif not spec.omitempty:
            out[spec.name] = {Kind.STRING: "", Kind.INT32: 0, Kind.INT64: 0, Kind.BOOL: False}.get(
                kind
            )
        return
    if spec.pointer:
        out[spec.name] = value
        return
    if spec.omitempty and kind is not Kind.STRUCT and kind not in (Kind.TIME, Kind.MICROTIME):
        if value in ("", 0, False) and not isinstance(value, (list, dict)):
            return
        if isinstance(value, (list, dict)) and not value:
            return
    out[spec.name] = value


def decode(schema: Struct, value: Any) -> tuple[dict[str, Any], list[str]]:
    """Decode parsed JSON ``value`` into ``schema``'s canonical layout.

    Returns the object and the unknown fields (``spec.foo``) that were dropped. Raises
    ``DecodeError`` with Go's message for type errors and bad times.
    """
    decoder = _Decoder()
    if not isinstance(value, dict):
        if value is None:
            value = {}
        else:
            raise DecodeError(
                f"json: cannot unmarshal {_json_type(value)} into Go value of type {schema.go_type}"
            )
    result = decoder.struct(schema, value, "", "")
    if decoder.first_error is not None:
        raise DecodeError(decoder.first_error)
    return result, decoder.unknown


def check_struct_names(structs: Sequence[Struct]) -> None:
    """Guard against schema typos at import time (every nested field names its struct)."""
    for struct in structs:
        for spec in struct.fields:
            if spec.kind in (Kind.STRUCT, Kind.LIST_STRUCT) and spec.struct is None:
                raise TypeError(f"{struct.go_name}.{spec.name} has no struct")
