"""Reference pages checked against the code, so they cannot drift from it."""

from __future__ import annotations

import ast
import dataclasses
import datetime
import re

import prometheus_client

from docs.samples import DOCS
from leader_election import LeaderElectionModule, LeaderElectionOptions
from leader_election.lock import rbac_hint
from leader_election.metrics import instrument
from leader_election.options import _CAMEL_CASE_ALIASES


def table_rows(page: str, first_header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose first header cell is `first_header`."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_configuration_table_lists_every_option_with_its_real_default() -> None:
    rows = {row[0].strip("`"): row for row in table_rows("configuration.md", "Option")}
    fields = {f.name: f for f in dataclasses.fields(LeaderElectionOptions)}
    assert sorted(rows) == sorted(fields), "configuration.md and LeaderElectionOptions differ"
    defaults = LeaderElectionOptions()
    for name, (_, _, default, rule) in rows.items():
        assert rule, f"{name}: no rule"
        literal = re.fullmatch(r"`([^`]+)`", default)
        actual = getattr(defaults, name)
        if literal is None:  # derived defaults are described in words
            assert fields[name].default in (None, dataclasses.MISSING), name
            continue
        documented = ast.literal_eval(literal.group(1))
        if isinstance(actual, datetime.timedelta):
            actual = actual / datetime.timedelta(milliseconds=1)
        assert documented == actual, f"{name}: documented {documented!r}, real {actual!r}"


def test_the_migration_page_maps_every_nestjs_option_name() -> None:
    text = (DOCS / "migrating-from-nestjs.md").read_text(encoding="utf-8")
    for camel, snake in _CAMEL_CASE_ALIASES.items():
        assert f"`{camel}`" in text, f"migrating-from-nestjs.md does not mention {camel}"
        assert f"`{snake}`" in text, f"migrating-from-nestjs.md does not mention {snake}"


def test_the_rbac_page_quotes_the_403_hint_as_the_library_words_it() -> None:
    page = flat((DOCS / "rbac.md").read_text(encoding="utf-8"))
    assert flat(rbac_hint("update", "default", "my-app")) in page


def test_the_metrics_table_lists_every_exported_family() -> None:
    registry = prometheus_client.CollectorRegistry()
    instrument(LeaderElectionModule.for_root(lease_name="docs"), registry)
    exported = {metric.name for metric in registry.collect()}
    documented = {row[0].strip("`") for row in table_rows("health-and-metrics.md", "Metric")}
    # prometheus_client names counters without their _total suffix.
    assert {name.removesuffix("_total") for name in documented} == exported
