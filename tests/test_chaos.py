"""The chaos suite's short run: candidate processes under every kind of fault, then the
checker. The seed is printed (and kept in the failure message) so a failure can be replayed
with ``CHAOS_SEED=N make chaos-short``; set ``CHAOS_SEED`` to run a given seed here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaos.runner import FAULTS, PROFILES, run

pytestmark = [pytest.mark.slow, pytest.mark.processes, pytest.mark.chaos]


def test_the_short_chaos_run_never_has_two_leaders(tmp_path: Path) -> None:
    seed = int(os.environ["CHAOS_SEED"]) if os.environ.get("CHAOS_SEED") else None
    result = run(PROFILES["short"], seed=seed, workdir=tmp_path)
    report = result.report()
    print(report)
    verdict = result.verdict
    assert verdict.ok, report
    assert not verdict.overlaps, report
    # The driver injects every kind at least once; a kill and a graceful stop of the leader
    # each make a transition, whatever the timing.
    assert all(result.faults[kind] >= 1 for kind in FAULTS), report
    assert verdict.transitions >= 2, report
