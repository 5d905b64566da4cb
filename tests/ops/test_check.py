"""`leader-election check` and the `status` diagnoses, against the embedded server.

The engine (`run_check`) is called in-process where a finding is under test; the command is run
as a real subprocess where its output and exit status are.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli.process import cli_env, run_cli

from leader_election.apirequest import send
from leader_election.check import estimate_clock_offset, run_check
from leader_election.testing import LeaseAPIServer, in_cluster_environment

LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"


def put_lease(server: LeaseAPIServer, name: str, **spec: Any) -> None:
    send(
        server.api_client(),
        "POST",
        LEASES,
        verb="create",
        what=name,
        timeout=5.0,
        body={"metadata": {"name": name}, "spec": spec},
    )


def env_for(server: LeaseAPIServer, tmp_path: Path, user: str | None = None) -> dict[str, str]:
    kubeconfig = server.write_kubeconfig(tmp_path / f"{user or 'admin'}.kubeconfig", user=user)
    return cli_env(tmp_path, kubeconfig)


@pytest.fixture
def not_kubernetes(tmp_path: Path) -> Iterator[str]:
    """A kubeconfig pointing at a plain HTTP server that answers 404 with HTML."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, name="leader-election-test-http")
    thread.start()
    path = tmp_path / "not-kubernetes.kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{httpd.server_port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    try:
        yield str(path)
    finally:
        httpd.shutdown()
        thread.join(timeout=5)
        httpd.server_close()
        assert not thread.is_alive()


@pytest.fixture
def refused(tmp_path: Path) -> str:
    path = tmp_path / "refused.kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return str(path)


# -- the clock estimate ---------------------------------------------------------------------------


def test_the_clock_offset_is_the_midpoint_against_date_plus_half_a_second() -> None:
    # Date 12:00:00 means the server read 12:00:00.000..12:00:00.999 somewhere in the exchange.
    date = "Mon, 30 Nov 2026 12:00:00 GMT"
    server = 1_796_040_000.0  # that instant as Unix seconds
    offset = estimate_clock_offset(date, server + 2.4, server + 2.6, 0.2)
    assert offset is not None
    assert offset.offset == pytest.approx(2.0)
    assert offset.uncertainty == pytest.approx(1.1)
    assert offset.notable is False  # 2.0 - 1.1 is within the 2 s that do not matter
    assert estimate_clock_offset("yesterday", 0.0, 1.0, 1.0) is None


# -- the engine -----------------------------------------------------------------------------------


def test_a_healthy_lease_is_ok_with_user_clock_and_every_verb(
    lease_api_server: LeaseAPIServer,
) -> None:
    put_lease(lease_api_server, "my-app", leaseDurationSeconds=15)
    with lease_api_server.api_client() as api:
        report = run_check("my-app", api_client=api, pod_label=True)
    assert report.ok, report.problems
    assert report.user == "admin"
    assert report.server_version == "v1.32.0"
    assert report.clock is not None
    assert abs(report.clock.offset) <= report.clock.uncertainty
    assert report.preflight is not None
    assert {c.permission.resource for c in report.preflight.checks} == {
        "leases",
        "pods",
        "events",
    }


def test_a_held_lease_nobody_renews_is_a_problem_that_says_what_to_do(
    lease_api_server: LeaseAPIServer,
) -> None:
    put_lease(
        lease_api_server,
        "stuck",
        holderIdentity="web-0",
        leaseDurationSeconds=15,
        renewTime="2026-01-01T00:00:00.000000Z",
    )
    with lease_api_server.api_client() as api:
        report = run_check("stuck", api_client=api)
    assert not report.ok
    assert "held by 'web-0' but was not renewed" in report.verdict
    assert "Check that candidates are running" in report.verdict


# -- the command ----------------------------------------------------------------------------------


def test_check_prints_a_verdict_and_exits_1_when_rbac_denies(
    lease_api_server_factory: Any, tmp_path: Path
) -> None:
    server: LeaseAPIServer = lease_api_server_factory(tls=True, authentication=True, rbac=True)
    server.add_user("bob")
    result = run_cli(["check", "my-app"], env_for(server, tmp_path, user="bob"))
    assert result.returncode == 1, result.errors
    assert "User:        bob (as the API server sees it)" in result.output
    assert "denied   update leases/my-app.coordination.k8s.io" in result.output
    assert "leader-election rbac --lease my-app -n default" in result.output


def test_check_json_of_a_lease_not_created_yet_is_ok(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    result = run_cli(
        ["check", "--lease", "new-app", "-o", "json"], env_for(lease_api_server, tmp_path)
    )
    assert result.returncode == 0, result.errors
    report = json.loads(result.output)
    assert report["ok"] is True
    assert report["lease_state"] is None
    assert "does not exist yet" in report["warnings"][0]


def test_status_takes_the_lease_positionally(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    put_lease(lease_api_server, "my-app", holderIdentity="web-0", leaseDurationSeconds=15)
    result = run_cli(["status", "my-app", "-o", "json"], env_for(lease_api_server, tmp_path))
    assert result.returncode == 0, result.errors
    assert json.loads(result.output)["holder"] == "web-0"
    missing = run_cli(["status"], env_for(lease_api_server, tmp_path))
    assert missing.returncode == 2
    assert "leader-election status NAME" in missing.errors


def test_status_json_of_a_missing_lease_prints_an_object(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    result = run_cli(["status", "nope", "-o", "json"], env_for(lease_api_server, tmp_path))
    assert result.returncode == 1
    answer = json.loads(result.output)
    assert (answer["name"], answer["found"]) == ("nope", False)


def test_a_refused_connection_is_reported_as_refused_with_its_time(
    refused: str, tmp_path: Path
) -> None:
    result = run_cli(["status", "my-app", "--request-timeout", "10"], cli_env(tmp_path, refused))
    assert result.returncode == 1
    assert "connection refused" in result.errors
    assert "within 10.00 s" not in result.errors


def test_a_404_from_something_else_says_it_is_not_kubernetes(
    not_kubernetes: str, tmp_path: Path
) -> None:
    status = run_cli(["status", "my-app"], cli_env(tmp_path, not_kubernetes))
    assert status.returncode == 1
    assert "not a Kubernetes API server" in status.errors
    assert "no candidate has run yet" not in status.errors
    check = run_cli(["check", "my-app"], cli_env(tmp_path, not_kubernetes))
    assert check.returncode == 1
    assert "not a Kubernetes API server" in check.output


def test_the_in_cluster_error_speaks_of_the_flag(tmp_path: Path) -> None:
    env = {**cli_env(tmp_path), "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    env["KUBERNETES_SERVICE_PORT"] = "443"
    result = run_cli(["status", "my-app"], env)
    assert result.returncode == 2
    assert "--kubeconfig PATH" in result.errors
    assert "kubeconfig=" not in result.errors


def test_in_a_pod_check_names_the_service_account_and_its_missing_verbs(
    lease_api_server_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: LeaseAPIServer = lease_api_server_factory(tls=True, authentication=True, rbac=True)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with in_cluster_environment(server, service_account="web", namespace="default"):
        report = run_check("my-app", "default")
    assert report.source == "in-cluster"
    assert report.user == "system:serviceaccount:default:web"
    assert not report.ok
    assert "RBAC denies 4 verb(s)" in report.verdict
