"""Every Python sample in docs/*.md runs (see samples.py for how a fence is judged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from docs.samples import DOCS, RUNNER, pages, samples
from leader_election.testing import LeaseAPIServer

RUNNABLE = [page for page in pages() if any(s.language == "python" for s in samples(page))]


def test_some_pages_have_runnable_samples() -> None:
    assert len(RUNNABLE) >= 5, RUNNABLE


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_samples_not_run_say_why(page: Path) -> None:
    for sample in samples(page):
        if sample.language == "py":
            first = sample.code.lstrip().splitlines()[0] if sample.code.strip() else ""
            assert first.startswith("# not run:"), (
                f"{page.name}:{sample.line}: a `py` sample is not executed; its first line must "
                "say why (# not run: ...), or fence it as `python` to have it executed"
            )


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: p.name)
def test_python_samples_run(page: Path, lease_api_server: LeaseAPIServer, tmp_path: Path) -> None:
    argv: list[str] = []
    for sample in samples(page):
        if sample.language == "python":
            argv += [str(sample.line), sample.code]
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    env.update(HOME=str(tmp_path), KUBECONFIG=lease_api_server.kubeconfig_path)
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, f"docs/{page.name}", *argv],
        cwd=DOCS.parent,  # as a reader in a checkout runs them: rbac/role.yaml resolves
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
