"""The sidecar: a candidate reported over local HTTP, stopped by SIGTERM with a release."""

from __future__ import annotations

import json
import re
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli.process import Cli, cli_env

from leader_election import LeaderElectionModule
from leader_election.errors import ConfigurationError
from leader_election.sidecar import Sidecar, parse_http_address
from leader_election.testing import LeaseAPIServer, wait_for


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            body = answer.read()
            code = answer.status
            kind = answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        body, code, kind = error.read(), error.code, error.headers.get("Content-Type", "")
        error.close()
    return code, json.loads(body) if kind.startswith("application/json") else body.decode()


def holder_of(server: LeaseAPIServer, name: str) -> str | None:
    lease = server.get_object("leases", "default", name)
    return None if lease is None else lease["spec"].get("holderIdentity")


@pytest.mark.parametrize("text", ["4040", "host:", ":80", "h:99999", "h:x"])
def test_a_bad_http_address_names_the_rule(text: str) -> None:
    with pytest.raises(ConfigurationError, match="must be HOST:PORT"):
        parse_http_address(text)


def test_ipv6_and_port_zero_parse() -> None:
    assert parse_http_address("[::1]:0") == ("::1", 0)
    assert parse_http_address("127.0.0.1:4040") == ("127.0.0.1", 4040)


@pytest.fixture
def sidecar(lease_api_server: LeaseAPIServer) -> Iterator[Sidecar]:
    election = LeaderElectionModule.for_root(
        lease_name="side",
        renewal_interval=200,
        identity="side-0",
        handle_signals=False,
        api_client=lease_api_server.api_client(),
    )
    running = Sidecar(election, "127.0.0.1", 0).start()
    try:
        yield running
    finally:
        running.stop()


def test_root_healthz_and_metrics_report_the_candidate(
    lease_api_server: LeaseAPIServer, sidecar: Sidecar
) -> None:
    wait_for(lambda: sidecar.election.is_leader, what="the sidecar's candidate to lead")
    code, state = get(sidecar.url + "/")
    assert code == 200
    assert state["lease"] == "default/side"
    assert (state["identity"], state["leader"], state["is_leader"]) == ("side-0", "side-0", True)
    assert state["fencing_token"] == sidecar.election.fencing_token
    code, health = get(sidecar.url + "/healthz")
    assert (code, health["healthy"]) == (200, True)
    code, metrics = get(sidecar.url + "/metrics")
    assert code == 200
    assert re.search(r'leader_election_master_status\{name="side"\S*\} 1\.0', metrics), metrics
    code, missing = get(sidecar.url + "/nope")
    assert code == 404
    assert "/healthz" in missing["error"]


def test_stop_releases_the_lease(lease_api_server: LeaseAPIServer, sidecar: Sidecar) -> None:
    wait_for(lambda: holder_of(lease_api_server, "side") == "side-0", what="side-0 to hold")
    sidecar.stop()
    assert holder_of(lease_api_server, "side") == ""


@pytest.mark.processes
def test_the_command_serves_and_releases_on_sigterm(
    lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    kubeconfig = lease_api_server.write_kubeconfig(tmp_path / "admin.kubeconfig")
    args = ["sidecar", "--lease", "cmd", "--http", "127.0.0.1:0", "--identity", "cmd-0"]
    process = Cli([*args, "--renewal-interval", "200"], cli_env(tmp_path, kubeconfig))
    try:
        line = process.wait_for_line("serving http://")
        url = line.split("serving ", 1)[1].strip()
        wait_for(lambda: get(url + "/")[1]["is_leader"], what="the sidecar to lead")
        assert holder_of(lease_api_server, "cmd") == "cmd-0"
        process.proc.send_signal(signal.SIGTERM)
        assert process.finish() == 0, process.errors
    finally:
        process.kill()
    assert holder_of(lease_api_server, "cmd") == ""
