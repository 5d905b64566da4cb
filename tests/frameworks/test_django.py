"""The Django app in-process: settings, the ready() decision, the health view and the status
command. Real processes (runserver, management commands, gunicorn) are in test_django_processes.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import RequestFactory, override_settings
from django.urls import include, path

from leader_election import ConfigurationError, LeaderElectionModule
from leader_election.serving import Placement
from leader_election.testing import LeaseAPIServer

urlpatterns = [path("", include("leader_election.django.urls"))]


@pytest.fixture(scope="module", autouse=True)
def django_settings() -> None:
    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["leader_election.django"],
            ROOT_URLCONF=__name__,  # urlpatterns below, as a project includes the app's
            ALLOWED_HOSTS=["testserver"],
            LEADER_ELECTION={"lease_name": "django-tests", "handle_signals": False},
        )
    django.setup()  # runs ready(): under pytest, a process that does not serve


@pytest.fixture
def fresh_election(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process whose election was not made yet; whatever the test makes is stopped."""
    from leader_election.django import apps, conf

    monkeypatch.setattr(conf, "_election", None)
    monkeypatch.setattr(apps, "_placed_in_pid", None)
    yield
    if conf._election is not None:
        conf._election.stop()


def test_under_pytest_ready_made_the_election_but_did_not_start_it() -> None:
    from leader_election.django import get_election
    from leader_election.django.apps import current_verdict

    election = get_election()
    assert election.lease_name == "django-tests"
    assert election.state.value == "stopped"
    verdict = current_verdict()
    assert verdict.placement is Placement.NOWHERE
    assert "outside a WSGI/ASGI application" in verdict.reason


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["manage.py", "runserver"], {}, Placement.NOWHERE),  # the autoreloader's watcher
        (["manage.py", "runserver"], {"RUN_MAIN": "true"}, Placement.HERE),  # its child
        (["manage.py", "runserver", "--noreload"], {}, Placement.HERE),
        (["manage.py", "runserver", "0:8000", "--noreload"], {}, Placement.HERE),
        (["manage.py", "migrate"], {}, Placement.NOWHERE),
        (["manage.py", "makemigrations"], {}, Placement.NOWHERE),
        (["manage.py", "shell"], {}, Placement.NOWHERE),
        (["manage.py", "test"], {}, Placement.NOWHERE),
        (["manage.py", "collectstatic", "--noinput"], {}, Placement.NOWHERE),
        (["manage.py"], {}, Placement.NOWHERE),  # help
        (["manage.py", "rqworker"], {}, Placement.HERE),  # listed in LEADER_ELECTION_COMMANDS
        (["manage.py", "runserver_plus"], {}, Placement.NOWHERE),  # listed; Werkzeug watcher
        (["manage.py", "runserver_plus"], {"WERKZEUG_RUN_MAIN": "true"}, Placement.HERE),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_which_management_commands_start_it(
    argv: list[str], environ: dict[str, str], expected: Placement
) -> None:
    from leader_election.django.apps import decide

    commands = frozenset({"rqworker", "runserver_plus"})
    verdict = decide(argv, environ, in_application=False, commands=commands)
    assert verdict.placement is expected, verdict.reason


def test_wsgi_and_asgi_applications_start_it_and_scripts_do_not() -> None:
    from leader_election.django.apps import decide

    assert decide(None, {}, in_application=True).placement is Placement.HERE
    assert decide(None, {}, in_application=False).placement is Placement.NOWHERE


def test_ready_starts_at_most_once_per_process(
    fresh_election: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from django.apps import apps as django_apps

    from leader_election.django import apps, get_election
    from leader_election.serving import Verdict

    monkeypatch.delenv("KUBECONFIG", raising=False)  # standalone
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(apps, "current_verdict", lambda: Verdict(Placement.HERE, "test"))
    config = django_apps.get_app_config("leader_election")
    config.ready()
    config.ready()  # a second start() would raise MisuseError
    assert get_election().state.value == "leading"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"LEADER_ELECTION": {"renewal_interval": 10}},
            r"settings.LEADER_ELECTION: renewal_interval=10: .*did you mean 10000",
        ),
        (
            {"LEADER_ELECTION": {"lease": "x"}},
            r"settings.LEADER_ELECTION: unknown option 'lease'; did you mean 'lease_name'",
        ),
        ({"LEADER_ELECTION": "my-app"}, r"settings.LEADER_ELECTION='my-app': must be a dict"),
    ],
)
def test_bad_settings_name_the_setting_the_option_and_the_rule(
    fresh_election: None, overrides: dict[str, Any], message: str
) -> None:
    from leader_election.django import get_election

    with override_settings(**overrides), pytest.raises(ConfigurationError, match=message):
        get_election()


def test_bad_integration_settings_are_refused() -> None:
    from leader_election.django.conf import autostart, commands

    with override_settings(LEADER_ELECTION_AUTOSTART="maybe"), pytest.raises(ConfigurationError):
        autostart()
    with (
        override_settings(LEADER_ELECTION_COMMANDS=["rqworker", 3]),
        pytest.raises(ConfigurationError, match=r"must be a list"),
    ):
        commands()


# The same settings take the same values in Flask's app.config and in Django's settings.
SETTING_VALUES: list[tuple[str, object, object]] = [
    ("LEADER_ELECTION_AUTOSTART", None, None),  # unset: the default rules
    ("LEADER_ELECTION_AUTOSTART", True, True),
    ("LEADER_ELECTION_AUTOSTART", False, False),
    ("LEADER_ELECTION_AUTOSTART", "true", True),
    ("LEADER_ELECTION_AUTOSTART", "FALSE", False),
    ("LEADER_ELECTION_AUTOSTART", "yes", True),
    ("LEADER_ELECTION_AUTOSTART", "off", False),
    ("LEADER_ELECTION_AUTOSTART", "0", False),
    ("LEADER_ELECTION_AUTOSTART", "", False),
    ("LEADER_ELECTION_AUTOSTART", "maybe", ConfigurationError),
    ("LEADER_ELECTION_AUTOSTART", 1, ConfigurationError),
    ("LEADER_ELECTION_AUTOSTART", [], ConfigurationError),
    ("LEADER_ELECTION_COMMANDS", None, frozenset()),
    ("LEADER_ELECTION_COMMANDS", [], frozenset()),
    ("LEADER_ELECTION_COMMANDS", ["rqworker"], frozenset({"rqworker"})),
    ("LEADER_ELECTION_COMMANDS", ("a", "b"), frozenset({"a", "b"})),
    ("LEADER_ELECTION_COMMANDS", "rqworker", frozenset({"rqworker"})),
    ("LEADER_ELECTION_COMMANDS", "a, b,", frozenset({"a", "b"})),
    ("LEADER_ELECTION_COMMANDS", ["a", 3], ConfigurationError),
    ("LEADER_ELECTION_COMMANDS", 42, ConfigurationError),
    ("LEADER_ELECTION_COMMANDS", {"a": 1}, ConfigurationError),
]


@pytest.mark.parametrize(("setting", "value", "expected"), SETTING_VALUES)
def test_flask_and_django_read_a_setting_alike(
    setting: str, value: object, expected: object
) -> None:
    from leader_election import flask as flask_integration
    from leader_election.django import conf

    flask_read = {
        "LEADER_ELECTION_AUTOSTART": flask_integration._autostart,
        "LEADER_ELECTION_COMMANDS": flask_integration._commands,
    }[setting]
    django_read = {
        "LEADER_ELECTION_AUTOSTART": conf.autostart,
        "LEADER_ELECTION_COMMANDS": conf.commands,
    }[setting]
    config = {} if value is None else {setting: value}
    with override_settings(**{setting: value}):
        if expected is ConfigurationError:
            shown = re.escape(f"={value!r}: must be")
            with pytest.raises(ConfigurationError, match=rf"app\.config\['{setting}'\]{shown}"):
                flask_read(config)
            with pytest.raises(ConfigurationError, match=rf"settings\.{setting}{shown}"):
                django_read()
        else:
            assert flask_read(config) == expected
            assert django_read() == expected


def test_the_health_view(monkeypatch: pytest.MonkeyPatch) -> None:
    from leader_election.django import get_election
    from leader_election.django.views import health

    request = RequestFactory().get("/healthz/leader-election")
    response = health(request)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert body["state"] == "stopped"
    assert body["lease"] == "default/django-tests"
    # healthy() itself is the engine's (client-go's HealthzAdaptor); here only its mapping.
    monkeypatch.setattr(get_election(), "healthy", lambda grace=None: False)
    assert health(request).status_code == 503
    assert health(RequestFactory().post("/healthz/leader-election")).status_code == 405


def test_the_health_url() -> None:
    from django.test import Client
    from django.urls import reverse

    assert reverse("leader_election:health") == "/healthz/leader-election"
    assert Client().get("/healthz/leader-election").status_code == 200


def test_leader_election_status_prints_the_lease(server: LeaseAPIServer) -> None:
    options = {"lease_name": "status-lease", "kubeconfig": server.kubeconfig_path}
    with override_settings(LEADER_ELECTION=options):
        with pytest.raises(CommandError, match=r"Lease default/status-lease not found"):
            call_command("leader_election_status")
        election = LeaderElectionModule.for_root(
            handle_signals=False, renewal_interval=500, lease_duration=10000, **options
        )
        with election:
            assert election.wait_for_leadership(10)
            out = _call("leader_election_status")
            as_json = json.loads(_call("leader_election_status", "--json"))
        released = _call("leader_election_status")
    assert f"Holder:         {election.identity}" in out
    assert "Transitions:    0" in out
    assert "State:          held, expires in" in out  # not expired
    assert as_json["holder"] == election.identity
    assert as_json["lease_duration_seconds"] == 10
    assert as_json["expired"] is False
    assert "Holder:         <none>" in released
    assert "free: nobody holds it" in released


def _call(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_missing_django_fails_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "django", None)
    for name in [n for n in sys.modules if n.startswith("leader_election.django")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"pip install 'leader-election\[django\]'"):
        importlib.import_module("leader_election.django")
