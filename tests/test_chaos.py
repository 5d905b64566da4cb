"""The chaos suite's short run: candidate processes under every default kind of fault, each
running a leader-only work job, then the checker. The seed is printed (and kept in the failure
message) so a failure can be replayed with ``CHAOS_SEED=N make chaos-short``; set
``CHAOS_SEED`` to run a given seed here.

Work that overlaps after a graceful stop (the library releasing before the job returned) is
judged only once the library advertises drain (``LeaderElectionModule.resign``, which arrives
with it); until then the report shows those overlaps and the run passes without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaos.runner import DEFAULT_FAULTS, PROFILES, library_drains, run

pytestmark = [pytest.mark.slow, pytest.mark.processes, pytest.mark.chaos]


def test_the_short_chaos_run_never_has_two_leaders(tmp_path: Path) -> None:
    seed = int(os.environ["CHAOS_SEED"]) if os.environ.get("CHAOS_SEED") else None
    profile = PROFILES["short"]
    assert profile.faults == DEFAULT_FAULTS
    assert profile.work
    drains = library_drains()
    result = run(profile, seed=seed, workdir=tmp_path, drain=drains)
    report = result.report()
    print(report)
    verdict = result.verdict
    assert verdict.ok, report
    assert not verdict.overlaps, report
    # The driver injects every kind at least once; a kill and a graceful stop of the leader
    # each make a transition, whatever the timing.
    assert all(result.faults[kind] >= 1 for kind in profile.faults), report
    assert verdict.transitions >= 2, report
    # The work dimension ran: job runs logged, with rolling restarts among the faults.
    assert result.faults["rolling"] >= 1, report
    assert len(verdict.work_terms) >= 2, report
    assert not verdict.work_token_violations, report
    if drains:
        assert not verdict.graceful_work_overlaps, report
