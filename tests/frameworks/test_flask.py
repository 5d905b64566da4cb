"""The Flask extension in-process: configuration, the factory, where it starts, the health
view, the helpers. Real servers (gunicorn, uWSGI, flask run) are in their own modules."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup

from leader_election import ConfigurationError, LeaderElectionModule, MisuseError
from leader_election.flask import LeaderElection


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Kubernetes configuration anywhere: a started election runs standalone."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def elections() -> Iterator[list[LeaderElectionModule]]:
    """Elections a test started; stopped after it."""
    made: list[LeaderElectionModule] = []
    yield made
    for election in made:
        election.stop()


def make_app(**config: Any) -> Flask:
    # Under pytest an election starts only when asked explicitly (LEADER_ELECTION_AUTOSTART):
    # these tests judge every other rule of where it starts, so they ask.
    config.setdefault("LEADER_ELECTION_AUTOSTART", True)
    app = Flask("test_app")
    app.config.update(LEADER_ELECTION_HANDLE_SIGNALS=False, **config)
    return app


def init(app: Flask, made: list[LeaderElectionModule], **kwargs: Any) -> LeaderElection:
    ext = LeaderElection(**kwargs)
    try:
        ext.init_app(app)
    finally:
        election = app.extensions.get("leader_election")
        if election is not None:
            made.append(election)
    return ext


def test_config_keys_are_the_for_root_options(elections: list[LeaderElectionModule]) -> None:
    app = make_app(
        LEADER_ELECTION_LEASE_NAME="from-config",
        LEADER_ELECTION_NAMESPACE="team-a",
        LEADER_ELECTION_RENEWAL_INTERVAL="2000",  # an environment variable's string
        LEADER_ELECTION_AUTOSTART=False,
    )
    ext = init(app, elections)
    election = ext.get_election(app)
    assert app.extensions["leader_election"] is election
    assert election.lease_name == "from-config"
    assert election.namespace == "team-a"
    assert election.options.renewal_interval.total_seconds() == 2.0
    assert not election.handle_signals


def test_overrides_in_code_win_over_the_config(elections: list[LeaderElectionModule]) -> None:
    app = make_app(LEADER_ELECTION_LEASE_NAME="from-config", LEADER_ELECTION_AUTOSTART="false")
    ext = init(app, elections, lease_name="from-code")
    assert ext.get_election(app).lease_name == "from-code"


def test_an_unknown_key_is_refused_with_the_closest_name() -> None:
    app = make_app(LEADER_ELECTION_LEASE_NAM="x")
    with pytest.raises(ConfigurationError, match=r"did you mean LEADER_ELECTION_LEASE_NAME\?"):
        LeaderElection(app)
    assert "leader_election" not in app.extensions


def test_an_invalid_value_names_the_key_the_value_and_the_rule() -> None:
    app = make_app(LEADER_ELECTION_RENEWAL_INTERVAL=10)
    with pytest.raises(
        ConfigurationError,
        match=r"LEADER_ELECTION_RENEWAL_INTERVAL.*renewal_interval=10: .*did you mean 10000",
    ) as caught:
        LeaderElection(app)
    assert caught.value.option == "LEADER_ELECTION_RENEWAL_INTERVAL"


def test_invalid_overrides_fail_when_the_extension_is_made() -> None:
    with pytest.raises(ConfigurationError, match=r"LeaderElection\(\): unknown option 'lease'"):
        LeaderElection(lease="x")


def test_a_second_init_app_on_one_app_is_refused_with_the_remedy(
    elections: list[LeaderElectionModule],
) -> None:
    app = make_app(LEADER_ELECTION_AUTOSTART=False)
    init(app, elections)
    with pytest.raises(MisuseError, match=r"already has a LeaderElection.*once per application"):
        LeaderElection(app)


def test_the_factory_computes_options_when_the_election_starts(
    no_cluster: None, elections: list[LeaderElectionModule]
) -> None:
    calls: list[Flask] = []

    def options_factory(app: Flask) -> dict[str, Any]:
        calls.append(app)
        return {"lease_name": app.config["SERVICE"] + "-leader"}

    app = make_app(SERVICE="billing", LEADER_ELECTION_NAMESPACE="team-b")
    ext = init(app, elections, options_factory=options_factory)
    election = ext.get_election(app)
    assert calls == [app]
    assert election.lease_name == "billing-leader"
    assert election.namespace == "team-b"  # the config still applies under the factory
    assert election.is_leader  # standalone: no cluster here


def factory_by_import_path(app: Flask) -> dict[str, Any]:
    return {"lease_name": "imported"}


def test_the_factory_can_be_an_import_path_in_the_config(
    no_cluster: None, elections: list[LeaderElectionModule]
) -> None:
    app = make_app(LEADER_ELECTION_FACTORY=f"{__name__}:factory_by_import_path")
    ext = init(app, elections)
    assert ext.get_election(app).lease_name == "imported"


def test_a_failing_factory_is_named_in_the_error(
    no_cluster: None, elections: list[LeaderElectionModule]
) -> None:
    def broken_factory(app: Flask) -> dict[str, Any]:
        raise KeyError("SERVICE")

    with pytest.raises(ConfigurationError, match=r"broken_factory raised KeyError"):
        init(make_app(), elections, options_factory=broken_factory)


def test_in_a_plain_process_it_starts_and_the_health_view_reports(
    no_cluster: None, elections: list[LeaderElectionModule]
) -> None:
    app = make_app(LEADER_ELECTION_LEASE_NAME="web")
    ext = init(app, elections)
    election = ext.get_election(app)
    response = app.test_client().get("/healthz/leader-election")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "healthy": True,
        "leader": True,
        "identity": election.identity,
        "holder": election.identity,
        "state": "leading",
        "lease": "default/web",
    }


def test_the_health_view_answers_503_when_the_election_is_stuck(
    elections: list[LeaderElectionModule], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(LEADER_ELECTION_AUTOSTART=False)
    election = init(app, elections).get_election(app)
    # healthy() itself is the engine's (client-go's HealthzAdaptor); here only its mapping.
    monkeypatch.setattr(election, "healthy", lambda grace=None: False)
    response = app.test_client().get("/healthz/leader-election")
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["healthy"] is False


def test_the_health_url_can_be_moved_or_removed(elections: list[LeaderElectionModule]) -> None:
    moved = make_app(LEADER_ELECTION_AUTOSTART=False, LEADER_ELECTION_HEALTH_URL="/ops/leader")
    init(moved, elections)
    assert moved.test_client().get("/ops/leader").status_code == 200
    assert moved.test_client().get("/healthz/leader-election").status_code == 404
    removed = make_app(LEADER_ELECTION_AUTOSTART=False, LEADER_ELECTION_HEALTH_URL=None)
    init(removed, elections)
    assert removed.test_client().get("/healthz/leader-election").status_code == 404


def test_app_testing_does_not_start_it(
    no_cluster: None, elections: list[LeaderElectionModule]
) -> None:
    app = make_app(TESTING=True)
    election = init(app, elections).get_election(app)
    assert election.state.value == "stopped"
    body = app.test_client().get("/healthz/leader-election").json
    assert body is not None
    assert (body["state"], body["leader"], body["healthy"]) == ("stopped", False, True)


def test_election_outside_an_app_context_needs_a_single_app(
    elections: list[LeaderElectionModule],
) -> None:
    ext = LeaderElection()
    with pytest.raises(MisuseError, match=r"init_app\(app\) has not been called"):
        _ = ext.election
    first = make_app(LEADER_ELECTION_AUTOSTART=False)
    second = make_app(LEADER_ELECTION_AUTOSTART=False)
    ext.init_app(first)
    elections.append(ext.get_election(first))
    assert ext.election is ext.get_election(first)
    ext.init_app(second)
    elections.append(ext.get_election(second))
    with pytest.raises(MisuseError, match=r"several applications"):
        _ = ext.election
    with second.app_context():
        assert ext.election is ext.get_election(second)


def test_jobs_registered_before_init_app_run_on_the_leader_until_it_stops(
    no_cluster: None, elections: list[LeaderElectionModule]
) -> None:
    ext = LeaderElection()
    running, stopped = threading.Event(), threading.Event()

    @ext.run_while_leader
    def sweep(stop_event: threading.Event) -> None:
        running.set()
        stop_event.wait()
        stopped.set()

    @ext.leader_only
    def report() -> str:
        return "sent"

    app = make_app()
    ext.init_app(app)
    election = ext.get_election(app)
    elections.append(election)
    assert running.wait(5)
    with app.app_context():
        assert ext.is_leader
        assert report() == "sent"
    election.stop()
    assert stopped.wait(5)
    with app.app_context():
        assert report() is None


# -- the flask command line ------------------------------------------------------------------
def cli_for(config: dict[str, Any], made: list[LeaderElectionModule]) -> FlaskGroup:
    def create_app() -> Flask:
        app = make_app(**config)
        init(app, made)

        @app.cli.command("probe")
        def probe() -> None:
            click.echo(app.extensions["leader_election"].state.value)

        @app.cli.command("worker")
        def worker() -> None:
            click.echo(app.extensions["leader_election"].state.value)

        return app

    return FlaskGroup(create_app=create_app)


def test_flask_commands_do_not_start_it_unless_listed(
    no_cluster: None, elections: list[LeaderElectionModule]
) -> None:
    runner = CliRunner()
    cli = cli_for({"LEADER_ELECTION_COMMANDS": "worker, other"}, elections)
    result = runner.invoke(cli, ["probe"], catch_exceptions=False)
    assert result.output.strip() == "stopped"
    result = runner.invoke(cli, ["worker"], catch_exceptions=False)
    assert result.output.strip() == "leading"
    result = runner.invoke(cli, ["routes"], catch_exceptions=False)
    assert result.exit_code == 0
    assert [e.state.value for e in elections] == ["stopped", "leading", "stopped"]


def test_a_missing_flask_fails_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "flask", None)  # import flask -> ImportError
    monkeypatch.delitem(sys.modules, "leader_election.flask")
    with pytest.raises(ImportError, match=r"pip install 'leader-election\[flask\]'"):
        importlib.import_module("leader_election.flask")
