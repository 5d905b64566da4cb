"""rbac/ proven by the embedded API server's RBAC: the Role is enough, and no more than needed.

The Role and RoleBinding are loaded from rbac/ as shipped; the candidates authenticate as the
ServiceAccount they bind. A full cycle (acquire, renew, follower watch, release, takeover) must
work and use every verb the Role grants; without `watch` the election still works by polling
and says so once; without `update` the error names the verb and points to rbac/.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from leader_election import ForbiddenError, LeaderElectionModule, LostReason
from leader_election.lock import LeaseLock
from leader_election.options import LeaderElectionOptions
from leader_election.record import LeaseRecord
from leader_election.testing import LeaseAPIServer, wait_for
from leader_election.testing.auth import service_account_groups, service_account_username
from leader_election.transport import Transport

RBAC = Path(__file__).resolve().parents[2] / "rbac"
NAMESPACE = "default"
SERVICE_ACCOUNT = service_account_username(NAMESPACE, "leader-election")


def shipped_role() -> dict[str, Any]:
    role: dict[str, Any] = yaml.safe_load((RBAC / "role.yaml").read_text())
    return role


# The Lease the shipped Role is restricted to: the election must use exactly this name.
LEASE = shipped_role()["rules"][0]["resourceNames"][0]


def rbac_yaml(*, without: str | None = None) -> str:
    """role.yaml (optionally minus one verb) and rolebinding.yaml, as shipped."""
    role = shipped_role()
    if without is not None:
        for rule in role["rules"]:
            rule["verbs"] = [verb for verb in rule["verbs"] if verb != without]
        role["rules"] = [rule for rule in role["rules"] if rule["verbs"]]
    return yaml.safe_dump(role) + "---\n" + (RBAC / "rolebinding.yaml").read_text()


def granted_verbs() -> set[str]:
    return {verb for rule in shipped_role()["rules"] for verb in rule["verbs"]}


@pytest.fixture
def rbac_server(
    lease_api_server_factory: Callable[..., LeaseAPIServer],
) -> Callable[..., LeaseAPIServer]:
    def start(*, without: str | None = None) -> LeaseAPIServer:
        server = lease_api_server_factory(authentication=True, rbac=rbac_yaml(without=without))
        server.add_user(SERVICE_ACCOUNT, service_account_groups(NAMESPACE))
        return server

    return start


@contextlib.contextmanager
def candidates(
    server: LeaseAPIServer, *identities: str, **options: Any
) -> Iterator[list[LeaderElectionModule]]:
    modules = [
        LeaderElectionModule.for_root(
            lease_name=LEASE,
            namespace=NAMESPACE,
            renewal_interval=200,
            identity=identity,
            handle_signals=False,
            api_client=server.api_client(user=SERVICE_ACCOUNT),
            **options,
        )
        for identity in identities
    ]
    try:
        yield modules
    finally:
        for module in modules:
            module.stop()


def test_the_shipped_role_runs_a_full_election_cycle_and_every_granted_verb_is_used(
    rbac_server: Callable[..., LeaseAPIServer],
) -> None:
    server = rbac_server()
    with candidates(server, "a", "b") as (a, b):
        a.start()
        wait_for(lambda: a.is_leader, what="a to acquire by creating the Lease")
        b.start()
        wait_for(lambda: b.leader_identity == "a", what="b to follow a")
        wait_for(
            lambda: len(server.requests.in_flight(user=SERVICE_ACCOUNT, verb="watch")) == 2,
            what="both candidates to watch the Lease",
        )
        updates = server.requests.count(user=SERVICE_ACCOUNT, verb="update")
        wait_for(
            lambda: server.requests.count(user=SERVICE_ACCOUNT, verb="update") >= updates + 2,
            what="a to renew twice",
        )
        token = a.fencing_token
        assert token is not None
        a.stop()  # releases: b, watching, takes over
        wait_for(lambda: b.is_leader, timeout=5, what="b to take over after the release")
        assert b.fencing_token == token + 1
        b.stop()

    # A watch enters the log when the server sees its stream end, just after the client left.
    wait_for(
        lambda: not server.requests.in_flight(user=SERVICE_ACCOUNT),
        what="the server to finish the stopped candidates' watches",
    )
    entries = server.requests.entries(user=SERVICE_ACCOUNT)
    forbidden = [(e.verb, e.name, e.code) for e in entries if e.code in (401, 403)]
    assert not forbidden, f"the shipped Role refused {forbidden}"
    used = {e.verb for e in entries}
    assert used == granted_verbs(), f"granted {sorted(granted_verbs())}, used {sorted(used)}"
    # The watch is authorized by name (field selector): it shows up with the Lease's name.
    assert {e.name for e in entries if e.verb == "watch"} == {LEASE}


def test_without_watch_the_election_polls_and_warns_once_per_candidate(
    rbac_server: Callable[..., LeaseAPIServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = rbac_server(without="watch")
    caplog.set_level(logging.WARNING, logger="leader_election")
    with candidates(server, "a", "b") as (a, b):
        a.start()
        wait_for(lambda: a.is_leader, what="a to lead")
        b.start()
        wait_for(lambda: b.leader_identity == "a", what="b to see a by reading the Lease")
        gets = server.requests.count(user=SERVICE_ACCOUNT, verb="get")
        wait_for(
            lambda: server.requests.count(user=SERVICE_ACCOUNT, verb="get") >= gets + 2,
            what="b to poll the Lease every renewal interval",
        )
        a.stop()
        wait_for(lambda: b.is_leader, timeout=5, what="b to take over by polling")

    # The watcher's fallback warning; the RBAC preflight reports the missing verb on its own.
    warnings = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name == "leader_election.watcher"
    ]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]
    for identity, record in zip(
        ("a", "b"), sorted(warnings, key=lambda r: r.getMessage()), strict=True
    ):
        message = record.getMessage()
        assert f"({identity})" in message
        assert "falling back to reading it every renewal interval" in message
        assert "'watch'" in message
        assert "rbac/" in message


def test_without_update_the_error_names_the_verb_and_points_to_rbac(
    rbac_server: Callable[..., LeaseAPIServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = rbac_server(without="update")
    lost: list[LostReason] = []
    with candidates(server, "a") as (a,):
        from leader_election import leader_lost

        with leader_lost.connected_to(lambda s, event: lost.append(event.reason), sender=a):
            a.start()
            # create is allowed: a leads, then cannot renew and steps down at its deadline.
            wait_for(lambda: lost, timeout=5, what="a to step down")
    assert lost == [LostReason.RENEW_FAILED]
    error = a.last_error
    assert isinstance(error, ForbiddenError)
    assert error.verb == "update"
    assert "lack the RBAC verb 'update'" in str(error)
    assert "rbac/" in str(error)
    assert "renewing failed" in caplog.text
    assert "'update'" in caplog.text


def test_without_update_await_leadership_raises_the_forbidden_error(
    rbac_server: Callable[..., LeaseAPIServer],
) -> None:
    server = rbac_server(without="update")
    # A free Lease exists (created by an administrator): acquiring it is an update.
    admin = LeaseLock(Transport(server.api_client()), NAMESPACE, LEASE)
    admin.create(LeaseRecord(lease_duration_seconds=15), timeout=5)
    with (
        candidates(server, "a", await_leadership=True) as (a,),
        pytest.raises(
            ForbiddenError, match=r"RBAC denies .*update leases/my-app.*leader-election rbac"
        ) as raised,
    ):
        a.start()
    assert raised.value.verb == "update"


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_kustomize_renders_rbac_consistently() -> None:
    def render(directory: Path) -> dict[str, Any]:
        rendered = subprocess.run(
            ["kubectl", "kustomize", str(directory)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        return {doc["kind"]: doc for doc in yaml.safe_load_all(rendered) if doc}

    objects = render(RBAC)
    # `kubectl apply -k rbac/` deploys no workload: the example lives in rbac/example/.
    assert set(objects) == {"ServiceAccount", "Role", "RoleBinding"}
    example = render(RBAC / "example")
    assert set(example) == {"Deployment", "Service"}
    account = objects["ServiceAccount"]["metadata"]["name"]
    assert objects["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": account}]
    assert objects["RoleBinding"]["roleRef"]["name"] == objects["Role"]["metadata"]["name"]
    pod_template = example["Deployment"]["spec"]["template"]
    pod = pod_template["spec"]
    assert pod["serviceAccountName"] == account
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # The Role may touch only the Lease the workload elects on.
    assert objects["Role"]["rules"][0]["resourceNames"] == [env["LEASE_NAME"]["value"]]
    # The leader Service selects the example's Pods that carry the leader label.
    key, _, value = env["LEADER_POD_LABEL"]["value"].partition("=")
    assert example["Service"]["spec"]["selector"] == {
        **pod_template["metadata"]["labels"],
        key: value,
    }
    # The grace period covers the release on SIGTERM: at most one renew deadline.
    options = LeaderElectionOptions(renewal_interval=env["RENEWAL_INTERVAL"]["value"])
    assert options.renew_deadline is not None
    assert pod["terminationGracePeriodSeconds"] > options.renew_deadline.total_seconds()
