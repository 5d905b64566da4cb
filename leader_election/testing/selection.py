"""Label and field selectors, parsed and matched as ``k8s.io/apimachinery`` does.

``parse_label_selector`` is the lexer/parser of ``labels.Parse`` (``a=b``, ``a!=b``,
``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, ``a>1``, ``a<1``) with its error messages;
``parse_field_selector`` is ``fields.ParseSelector`` (``k=v``, ``k==v``, ``k!=v`` with ``\\``
escapes). Both raise ``SelectorError`` whose text the server returns in a 400 BadRequest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from leader_election.testing import validation
from leader_election.testing.status import go_quote as _q

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "SelectorError",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector does not parse; ``str()`` is apimachinery's message."""


# -- label selectors ----------------------------------------------------------------------------

_ERROR, _END, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_TOKENS = {
    ")": _CLOSE,
    ",": _COMMA,
    "!": _NOT,
    "==": _DEQ,
    "=": _EQ,
    ">": _GT,
    "in": _IN,
    "<": _LT,
    "!=": _NEQ,
    "notin": _NOTIN,
    "(": _OPEN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_END, ""))
            return items
        if text[pos] in _SPECIAL:
            buffer = ""
            last: tuple[int, str] | None = None
            while pos < n and text[pos] in _SPECIAL:
                buffer += text[pos]
                token = _TOKENS.get(buffer)
                if token is not None:
                    last = (token, buffer)
                    pos += 1
                elif last is not None:
                    break
                else:
                    pos += 1
            if last is None:
                items.append((_ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                items.append(last)
        else:
            start = pos
            while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            word = text[start:pos]
            items.append((_TOKENS.get(word, _ID), word))


@dataclass(frozen=True, slots=True)
class _Requirement:
    key: str
    operator: str  # in notin = == != exists !exists gt lt
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        if self.operator in ("in", "=", "=="):
            return present and value in self.values
        if self.operator in ("notin", "!="):
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if not present:
            return False
        try:
            have = int(value)
            want = int(self.values[0])
        except ValueError:
            return False
        return have > want if self.operator == "gt" else have < want


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    requirements: tuple[_Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(requirement.matches(labels) for requirement in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _label_key_error(key: str) -> str | None:
    errors = validation.is_qualified_name(key)
    if errors:
        return f'<nil>: Invalid value: "{key}": ' + "; ".join(errors)
    return None


def _new_requirement(key: str, operator: str, values: list[str]) -> _Requirement:
    errors: list[str] = []
    key_error = validation.is_qualified_name(key)
    if key_error:
        errors.append(f"key: Invalid value: {_q(key)}: " + "; ".join(key_error))
    if operator in ("in", "notin") and not values:
        errors.append(
            "values: Invalid value: []string{}: "
            "for 'in', 'notin' operators, values set can't be empty"
        )
    if operator in ("gt", "lt"):
        for i, value in enumerate(values):
            try:
                int(value, 10)
            except ValueError:
                errors.append(
                    f"values[{i}]: Invalid value: {_q(value)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    for i, value in enumerate(values):
        value_errors = validation.is_valid_label_value(value)
        if value_errors:
            errors.append(
                f"values[{i}][{key}]: Invalid value: {_q(value)}: " + "; ".join(value_errors)
            )
    if errors:
        raise SelectorError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return _Requirement(key, operator, tuple(values))


def parse_label_selector(text: str) -> LabelSelector:
    """``labels.Parse``; raises ``SelectorError`` with apimachinery's message."""
    items = _lex(text)
    position = 0

    def lookahead(values: bool) -> tuple[int, str]:
        token, literal = items[position]
        if values and token in (_IN, _NOTIN):
            token = _ID
        return token, literal

    def consume(values: bool) -> tuple[int, str]:
        nonlocal position
        token, literal = lookahead(values)
        position += 1
        return token, literal

    def parse_requirement() -> _Requirement:
        token, literal = consume(True)
        operator = ""
        if token == _NOT:
            operator = "!exists"
            token, literal = consume(True)
        if token != _ID:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key = literal
        key_error = _label_key_error(key)
        if key_error:
            raise SelectorError(key_error)
        next_token, _ = lookahead(True)
        if operator == "!exists" or next_token in (_END, _COMMA):
            # "!a" takes no operator; whatever follows is the caller's to reject.
            return _new_requirement(key, operator or "exists", [])
        token, literal = consume(False)
        operators = {
            _IN: "in",
            _EQ: "=",
            _DEQ: "==",
            _GT: "gt",
            _LT: "lt",
            _NOTIN: "notin",
            _NEQ: "!=",
        }
        if token not in operators:
            raise SelectorError(f"found '{literal}', expected: {_BINARY_OPERATORS}")
        op = operators[token]
        values: set[str]
        values = parse_values() if op in ("in", "notin") else parse_exact_value()
        return _new_requirement(key, op, sorted(values))

    def parse_values() -> set[str]:
        token, literal = consume(True)
        if token != _OPEN:
            raise SelectorError(f"found '{literal}' expected: '('")
        token, literal = lookahead(True)
        if token in (_ID, _COMMA):
            found = parse_identifiers()
            token, _ = consume(True)
            if token != _CLOSE:
                raise SelectorError(f"found '{literal}', expected: ')'")
            return found
        if token == _CLOSE:
            consume(True)
            return {""}
        raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")

    def parse_identifiers() -> set[str]:
        found: set[str] = set()
        while True:
            token, literal = consume(True)
            if token == _ID:
                found.add(literal)
                token2, literal2 = lookahead(True)
                if token2 == _COMMA:
                    continue
                if token2 == _CLOSE:
                    return found
                raise SelectorError(f"found '{literal2}', expected: ',' or ')'")
            if token == _COMMA:
                if not found:
                    found.add("")
                token2, _ = lookahead(True)
                if token2 == _CLOSE:
                    found.add("")
                    return found
                if token2 == _COMMA:
                    found.add("")
                continue
            raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def parse_exact_value() -> set[str]:
        token, _ = lookahead(True)
        if token in (_END, _COMMA):
            return {""}
        token, literal = consume(True)
        if token == _ID:
            return {literal}
        raise SelectorError(f"found '{literal}', expected: identifier")

    requirements: list[_Requirement] = []
    while True:
        token, literal = lookahead(True)
        if token in (_ID, _NOT):
            try:
                requirements.append(parse_requirement())
            except SelectorError as exc:
                raise SelectorError(f"unable to parse requirement: {exc}") from None
            token, literal = consume(True)
            if token == _END:
                break
            if token == _COMMA:
                token2, literal2 = lookahead(True)
                if token2 not in (_ID, _NOT):
                    raise SelectorError(f"found '{literal2}', expected: identifier after ','")
                continue
            raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
        if token == _END:
            break
        raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
    requirements.sort(key=lambda r: r.key)
    return LabelSelector(tuple(requirements))


# -- field selectors ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    field: str
    value: str
    equal: bool


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A parsed field selector over an object's selectable fields (all terms must hold)."""

    terms: tuple[_Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: Mapping[str, str]) -> bool:
        for term in self.terms:
            have = fields.get(term.field, "")
            if (have == term.value) != term.equal:
                return False
        return True

    def requires_exact(self, field: str) -> str | None:
        """The value ``field`` must equal (``RequiresExactMatch``), if one term pins it."""
        for term in self.terms:
            if term.field == field and term.equal:
                return term.value
        return None

    def labels(self) -> tuple[str, ...]:
        return tuple(term.field for term in self.terms)

    def transform(self, fn: Callable[[str, str], tuple[str, str]]) -> FieldSelector:
        """Apply a field-label conversion (raises what ``fn`` raises)."""
        terms = []
        for term in self.terms:
            field, value = fn(term.field, term.value)
            terms.append(_Term(field, value, term.equal))
        return FieldSelector(tuple(terms))


def _split_terms(text: str) -> list[str]:
    if not text:
        return []
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for ch in value:
        if in_slash:
            if ch in "\\,=":
                out.append(ch)
            else:
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            in_slash = False
            continue
        if ch == "\\":
            in_slash = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """``fields.ParseSelector``; raises ``SelectorError`` with apimachinery's message."""
    terms: list[_Term] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        for i in range(len(part)):
            rest = part[i:]
            operator = next((op for op in ("!=", "==", "=") if rest.startswith(op)), None)
            if operator is not None:
                lhs, rhs = part[:i], part[i + len(operator) :]
                terms.append(_Term(lhs, _unescape(rhs), operator != "!="))
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
    return FieldSelector(tuple(terms))
