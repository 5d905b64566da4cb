"""How a module finds the API server, end to end: kubeconfig option, KUBECONFIG, in-cluster."""

from __future__ import annotations

import contextlib
import logging
import re
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
    assert server.requests.count(user="by-option", verb="create", resource="leases") == 1


def test_the_kubeconfig_environment_variable(
    server: LeaseAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: None
) -> None:
    path = server.write_kubeconfig(tmp_path / "kubeconfig", user="by-env")
    monkeypatch.setenv("KUBECONFIG", str(path))
    election = LeaderElectionModule.for_root(lease_name="by-env", handle_signals=False, **FAST)
    lead(election)
    assert server.requests.count(user="by-env", verb="create", resource="leases") == 1


# -- the order of sources, as a table ---------------------------------------------------------
# Each case sets up some sources (each authenticating as its own user) and names the one that
# must win — or the ConfigurationError that must be raised instead of falling through.
# Sources: "option" (kubeconfig=), "env" (KUBECONFIG), "pod" (in-cluster), "home"
# (~/.kube/config); broken variants: "env-missing", "env-dir", "pod-broken", "home-garbage".
ORDER_CASES = [
    pytest.param({"option", "env", "pod", "home"}, "option", id="the option beats everything"),
    pytest.param({"option", "env-missing"}, "option", id="the option beats a broken KUBECONFIG"),
    pytest.param({"env", "pod", "home"}, "env", id="KUBECONFIG beats in-cluster"),
    pytest.param({"pod", "home"}, "pod", id="in-cluster beats ~/.kube/config"),
    pytest.param({"home"}, "home", id="~/.kube/config last"),
    pytest.param(set(), None, id="nothing: standalone"),
    pytest.param({"env-missing", "pod", "home"}, "error:KUBECONFIG", id="a mistyped KUBECONFIG"),
    pytest.param({"env-dir"}, "error:is a directory", id="KUBECONFIG names a directory"),
    pytest.param({"pod-broken", "home"}, "error:KUBERNETES_SERVICE_HOST", id="no token mounted"),
    pytest.param({"home-garbage"}, "error:~/.kube/config", id="a garbage ~/.kube/config"),
]


@pytest.mark.parametrize(("sources", "expected"), ORDER_CASES)
def test_the_order_of_connection_sources(
    sources: set[str],
    expected: str | None,
    *,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    isolated_env: None,
) -> None:
    from leader_election import ConfigurationError, LeaderElectionOptions
    from leader_election.lock import LeaseLock
    from leader_election.transport import Transport

    with LeaseAPIServer(tls=True) as tls_server, contextlib.ExitStack() as stack:
        kubeconfig: str | None = None
        if "option" in sources:
            kubeconfig = str(tls_server.write_kubeconfig(tmp_path / "option", user="option"))
        if "env" in sources:
            path = tls_server.write_kubeconfig(tmp_path / "env", user="env")
            monkeypatch.setenv("KUBECONFIG", str(path))
        if "env-missing" in sources:
            monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfg"))
        if "env-dir" in sources:
            monkeypatch.setenv("KUBECONFIG", str(tmp_path))
        if "home" in sources:
            tls_server.write_kubeconfig(tmp_path / ".kube" / "config", user="home")
        if "home-garbage" in sources:
            (tmp_path / ".kube").mkdir()
            (tmp_path / ".kube" / "config").write_text(": not yaml [")
        pod_user = ""
        if "pod" in sources:
            pod_user = stack.enter_context(
                in_cluster_environment(tls_server, service_account="pod")
            ).user
        if "pod-broken" in sources:
            pod = stack.enter_context(in_cluster_environment(tls_server, service_account="pod"))
            pod.token_path.unlink()
        options = LeaderElectionOptions(kubeconfig=kubeconfig, lease_name="order")
        if expected is not None and expected.startswith("error:"):
            with pytest.raises(ConfigurationError, match=re.escape(expected[len("error:") :])):
                resolve_connection(options)
            assert tls_server.requests.count() == 0
            return
        with caplog.at_level(logging.INFO, logger="leader_election.connection"):
            connection = resolve_connection(options)
        if expected is None:
            assert connection is None
            with pytest.raises(ConfigurationError, match="standalone=False"):
                resolve_connection(LeaderElectionOptions(lease_name="order", standalone=False))
            return
        assert connection is not None
        try:
            LeaseLock(Transport(connection.api_client), "default", "order").get(5.0)
        finally:
            connection.close()
        user = pod_user if expected == "pod" else expected
        said = {"option": "kubeconfig option", "env": "KUBECONFIG", "pod": "in-cluster"}
        assert said.get(expected, "~/.kube/config") in caplog.text  # the log names the source
        assert tls_server.requests.count(user=user, verb="get") == 1
        assert tls_server.requests.count(verb="get") == 1


def test_a_mistyped_kubeconfig_never_means_standalone(
    server: LeaseAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: None
) -> None:
    """Today's accident: every replica led because KUBECONFIG named a missing file."""
    from leader_election import ConfigurationError

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfg"))
    election = LeaderElectionModule.for_root(handle_signals=False, **FAST)
    with pytest.raises(ConfigurationError, match="KUBECONFIG=") as raised:
        election.start()
    assert "kubeconfg" in str(raised.value)
    assert not election.is_leader


def test_standalone_false_refuses_to_start_without_a_cluster(isolated_env: None) -> None:
    from leader_election import ConfigurationError

    election = LeaderElectionModule.for_root(standalone=False, handle_signals=False, **FAST)
    with pytest.raises(ConfigurationError, match="standalone=False"):
        election.start()
    assert not election.is_leader


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
