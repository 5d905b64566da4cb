"""The candidate event-line reader every program that starts candidates shares."""

from __future__ import annotations

import io
from typing import Any

import pytest

from leader_election.testing.candidate import parse_event, read_events

CASES = [
    ("an event line", '{"t": 1.5, "event": "elected", "token": 3}\n', "elected"),
    ("a blank line", "   \n", None),
    ("a stray print", "hello\n", "raw"),
    ("JSON that is not an object", "[1, 2]\n", "raw"),
]


@pytest.mark.parametrize(
    ("line", "kind"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_parse_event(line: str, kind: str | None) -> None:
    event = parse_event(line)
    assert (event or {}).get("event") == kind
    if kind == "raw":
        assert event is not None
        assert event["line"] == line.strip()
        assert isinstance(event["t"], float)


def test_read_events_calls_back_in_order_and_copies_what_it_read() -> None:
    got: list[dict[str, Any]] = []
    copy = io.StringIO()
    lines = ['{"event": "ready"}\n', "\n", "oops\n", '{"event": "exit"}']
    read_events(lines, got.append, copy_to=copy)
    assert [e["event"] for e in got] == ["ready", "raw", "exit"]
    assert copy.getvalue() == '{"event": "ready"}\noops\n{"event": "exit"}\n'
