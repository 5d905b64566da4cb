"""What importing costs: the command line and pytest start-up never load the embedded server
or the ``kubernetes`` client. Each case is a fresh interpreter, so nothing this test process
imported already can hide an import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("kubernetes", "leader_election.testing.server")

pytestmark = pytest.mark.processes


def _loaded(code: str) -> list[str]:
    probe = (
        code + f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "import leader_election",
        "import leader_election.cli",
        "from leader_election.cli import build_parser; build_parser().format_help()",
        "import leader_election.testing.pytest_plugin",
        "from leader_election.testing import wait_for",
    ],
)
def test_importing_loads_neither_the_server_nor_kubernetes(code: str) -> None:
    assert _loaded(code) == []


def test_the_testing_package_still_offers_the_server_on_use() -> None:
    assert _loaded("from leader_election.testing import LeaseAPIServer") == list(HEAVY)


def test_pytest_start_up_in_a_users_project_loads_neither(tmp_path: Path) -> None:
    # A project that installed leader_election but whose tests never use its fixtures.
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            f"""
            import sys

            def test_plugin_loaded_lightly():
                assert "leader_election.testing.pytest_plugin" in sys.modules
                assert [m for m in {HEAVY!r} if m in sys.modules] == []
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTEST_ADDOPTS": "", "PYTEST_PLUGINS": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
