"""The chaos suite's short run: candidate processes under every default kind of fault, each
running a leader-only work job, then the checker. The seed is printed (and kept in the failure
message) so a failure can be replayed with ``CHAOS_SEED=N make chaos-short``; set
``CHAOS_SEED`` to run a given seed here.

The group run does the same with members of one ``LeaderElectionGroup`` over several Leases
(``CHAOS_SEED=N make chaos-group-short`` replays it), judged Lease by Lease.

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


def test_the_short_group_chaos_run_never_has_two_leaders_of_a_lease(tmp_path: Path) -> None:
    seed = int(os.environ["CHAOS_SEED"]) if os.environ.get("CHAOS_SEED") else None
    profile = PROFILES["group-short"]
    assert profile.shards is not None and profile.shards >= 3
    assert profile.faults == DEFAULT_FAULTS
    assert profile.work
    drains = library_drains()
    result = run(profile, seed=seed, workdir=tmp_path, drain=drains)
    report = result.report()
    print(report)
    verdict = result.verdict
    assert verdict.ok, report
    assert sorted(verdict.leases) == sorted(profile.leases), report
    for name, one in verdict.leases.items():
        # The point of the profile: every Lease on its own never had two leaders, nor two
        # members working for it at once after a graceful hand-over.
        assert not one.overlaps, f"{name}\n{report}"
        assert not one.token_violations, f"{name}\n{report}"
        assert not one.work_token_violations, f"{name}\n{report}"
        assert one.work_terms, f"{name}: no job ran\n{report}"
        if drains:
            assert not one.graceful_work_overlaps, f"{name}\n{report}"
    assert all(result.faults[kind] >= 1 for kind in profile.faults), report
    assert verdict.transitions >= 2, report
    assert result.faults["rolling"] >= 1, report
    # Members came and went, so Leases were handed over: by a stop and to rebalance.
    assert verdict.released >= 1, report
    assert verdict.resigned >= 1, report
