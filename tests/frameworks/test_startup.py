"""Whether an integration starts its election: one rule for every framework
(``serving.startup_verdict``), and what it means for an application imported by pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leader_election import serving
from leader_election.serving import Placement, Verdict

HERE = Verdict(Placement.HERE, "a gunicorn worker")
NOWHERE = Verdict(Placement.NOWHERE, "manage.py migrate does not serve")


@pytest.mark.parametrize(
    ("autostart", "rules", "in_pytest", "expected"),
    [
        (None, HERE, False, Placement.HERE),  # the default outside tests: where it serves
        (None, HERE, True, Placement.NOWHERE),  # imported by a test run: not without asking
        (True, HERE, True, Placement.HERE),  # asked explicitly
        (True, NOWHERE, True, Placement.NOWHERE),  # asking does not make a CLI command serve
        (None, NOWHERE, False, Placement.NOWHERE),
        (False, HERE, False, Placement.NOWHERE),  # off: never
        (False, HERE, True, Placement.NOWHERE),
    ],
)
def test_the_startup_rule(
    monkeypatch: pytest.MonkeyPatch,
    autostart: bool | None,
    rules: Verdict,
    in_pytest: bool,
    expected: Placement,
) -> None:
    monkeypatch.setattr(serving, "under_pytest", lambda: in_pytest)
    verdict = serving.startup_verdict(
        autostart, setting="LEADER_ELECTION_AUTOSTART", remedy="call start()", rules=lambda: rules
    )
    assert verdict.placement is expected, verdict.reason
    if in_pytest and autostart is None and rules is HERE:
        assert "pytest" in verdict.reason and "LEADER_ELECTION_AUTOSTART" in verdict.reason


def test_this_process_runs_pytest() -> None:
    assert serving.under_pytest()


# A new user's Flask application, as gunicorn expects it: `app = create_app()` at the bottom.
FLASK_APP = """\
import pathlib
from flask import Flask
from leader_election.flask import LeaderElection

election = LeaderElection()

@election.run_while_leader
def leader_job(stop_event):
    pathlib.Path("leader-job-ran").touch()
    stop_event.wait()

def create_app():
    app = Flask(__name__)
    app.config.update(LEADER_ELECTION_LEASE_NAME="myapp", LEADER_ELECTION_HANDLE_SIGNALS=False)
    election.init_app(app)
    return app

app = create_app()
"""

# A Django project's wsgi.py, imported by a test (a smoke test of the WSGI entry point).
DJANGO_APP = """\
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["leader_election.django"],
    LEADER_ELECTION={"lease_name": "myapp", "handle_signals": False},
)
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
"""

TEST_FILE = """\
import os, pathlib

def test_importing_the_app_does_not_start_the_election():
    import myapp
    election = {election}
    assert election.state.value == "stopped", election.state
    assert not pathlib.Path("leader-job-ran").exists()
"""


def _project(tmp_path: Path, app: str, election: str) -> dict[str, str]:
    (tmp_path / "myapp.py").write_text(app)
    (tmp_path / "test_myapp.py").write_text(TEST_FILE.format(election=election))
    # No cluster anywhere: no KUBECONFIG (a set but missing one is an error), an empty HOME.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "KUBERNETES_")) and k != "KUBECONFIG"
    }
    env.update(HOME=str(tmp_path), PYTHONPATH=str(tmp_path))
    return env


def _pytest(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_myapp.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.processes
@pytest.mark.parametrize(
    ("app", "election"),
    [
        (FLASK_APP, "myapp.election.election"),
        (DJANGO_APP, "__import__('leader_election.django').django.get_election()"),
    ],
    ids=["flask", "django"],
)
def test_a_test_importing_the_application_does_not_start_it(
    tmp_path: Path, app: str, election: str
) -> None:
    env = _project(tmp_path, app, election)
    result = _pytest(tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    # The same module imported by a plain process (a server) starts it: standalone, it leads.
    probe = f"import myapp, sys; election = {election}; sys.exit(election.state.value != 'leading')"
    served = subprocess.run(
        [sys.executable, "-c", probe + "; election.stop()"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert served.returncode == 0, served.stderr


@pytest.mark.processes
def test_autostart_true_starts_it_under_pytest_too(tmp_path: Path) -> None:
    app = FLASK_APP.replace(
        "LEADER_ELECTION_HANDLE_SIGNALS=False",
        "LEADER_ELECTION_HANDLE_SIGNALS=False, LEADER_ELECTION_AUTOSTART=True",
    )
    env = _project(tmp_path, app, "myapp.election.election")
    (tmp_path / "test_myapp.py").write_text(
        "import myapp\n\n"
        "def test_it_leads():\n"
        "    assert myapp.election.election.state.value == 'leading'\n"
        "    myapp.election.election.stop()\n"
    )
    result = _pytest(tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
