"""How a module finds the API server, end to end: kubeconfig option, KUBECONFIG, in-cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from leader_election import LeaderElectionModule
from leader_election.connection import resolve_connection
from leader_election.testing import LeaseAPIServer, wait_for
from leader_election.testing.incluster import in_cluster_environment

from .conftest import FAST


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def lead(election: LeaderElectionModule) -> str:
    with election:
        wait_for(lambda: election.is_leader, 10, what="the module to lead")
        assert not election.standalone
        return election.identity


def test_the_kubeconfig_option(server: LeaseAPIServer, tmp_path: Path, isolated_env: None) -> None:
    path = server.write_kubeconfig(tmp_path / "kubeconfig", user="by-option")
    election = LeaderElectionModule.for_root(
        lease_name="by-option", kubeconfig=str(path), handle_signals=False, **FAST
    )
    lead(election)
    assert server.requests.count(user="by-option", verb="create") == 1


def test_the_kubeconfig_environment_variable(
    server: LeaseAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: None
) -> None:
    path = server.write_kubeconfig(tmp_path / "kubeconfig", user="by-env")
    monkeypatch.setenv("KUBECONFIG", str(path))
    election = LeaderElectionModule.for_root(lease_name="by-env", handle_signals=False, **FAST)
    lead(election)
    assert server.requests.count(user="by-env", verb="create") == 1


def test_in_cluster_configuration_wins_over_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: None
) -> None:
    with LeaseAPIServer(tls=True) as tls_server:
        decoy = tls_server.write_kubeconfig(tmp_path / "kubeconfig", user="decoy")
        monkeypatch.setenv("KUBECONFIG", str(decoy))
        with in_cluster_environment(tls_server, service_account="elector") as pod:
            options = LeaderElectionModule.for_root(handle_signals=False).options
            connection = resolve_connection(options)
            assert connection is not None
            assert connection.source == "in-cluster"
            connection.close()
            election = LeaderElectionModule.for_root(
                lease_name="in-cluster", handle_signals=False, **FAST
            )
            lead(election)
        assert tls_server.requests.count(user=pod.user, verb="create") == 1
        assert tls_server.requests.count(user="decoy") == 0


def test_a_broken_kubeconfig_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: None
) -> None:
    from leader_election import ConfigurationError

    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    monkeypatch.setenv("KUBECONFIG", str(broken))
    election = LeaderElectionModule.for_root(handle_signals=False)
    with pytest.raises(ConfigurationError, match="cannot be loaded"):
        election.start()
