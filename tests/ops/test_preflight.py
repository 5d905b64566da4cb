"""RBAC preflight against the embedded server's RBAC mode, with the sample Role of the tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from leader_election.errors import ForbiddenError
from leader_election.preflight import Verdict, required_permissions, run_preflight
from leader_election.testing import LeaseAPIServer
from leader_election.testing.auth import service_account_groups, service_account_username

# The Role the server tests use (tests/testing/support.py): leases on my-lease, and create.
ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leader-election, namespace: default}
rules:
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["create"]
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    resourceNames: ["my-lease"]
    verbs: ["get", "list", "watch", "update"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leader-election, namespace: default}
subjects: [{kind: ServiceAccount, name: leader-election, namespace: default}]
roleRef: {kind: Role, name: leader-election, apiGroup: rbac.authorization.k8s.io}
"""
USER = service_account_username("default", "leader-election")


@pytest.fixture
def restricted(lease_api_server_factory: Callable[..., LeaseAPIServer]) -> Any:
    server = lease_api_server_factory(authentication=True, rbac=ROLE)
    server.add_user(USER, service_account_groups("default"))
    return server.api_client(user=USER)


def verdicts(report: Any) -> dict[str, str]:
    return {f"{c.permission.verb} {c.permission.resource}": c.verdict.value for c in report.checks}


def test_the_role_grants_every_lease_verb_and_events_are_only_a_warning(restricted: Any) -> None:
    report = run_preflight(restricted, "my-lease", "default")
    assert verdicts(report) == {
        "get leases": "allowed",
        "create leases": "allowed",
        "update leases": "allowed",
        "watch leases": "allowed",
        "create events": "denied",
    }
    assert report.ok
    assert report.error() is None
    warning = report.warning()
    assert warning is not None
    assert "create events in namespace default" in warning


def test_another_lease_and_the_pod_label_are_denied_and_named_in_one_error(
    restricted: Any,
) -> None:
    report = run_preflight(restricted, "other", "default", pod_label=True, events=False)
    assert not report.ok
    error = report.error()
    assert isinstance(error, ForbiddenError)
    message = str(error)
    for missing in (
        "get leases/other.coordination.k8s.io",
        "update leases/other.coordination.k8s.io",
        "watch leases/other.coordination.k8s.io",
        "get pods",
        "patch pods",
    ):
        assert missing in message
    assert "create leases" not in message
    assert "leader-election rbac --lease other -n default --pod-label" in message


def test_without_rbac_everything_is_allowed(lease_api_server: LeaseAPIServer) -> None:
    with lease_api_server.api_client() as api:
        report = run_preflight(api, "any", "default", pod_label=True)
    assert {c.verdict for c in report.checks} == {Verdict.ALLOWED}
    assert report.warning() is None


def test_a_review_that_cannot_be_sent_is_unknown_not_denied() -> None:
    configuration = client.Configuration()
    configuration.host = "http://127.0.0.1:9"
    with client.ApiClient(configuration) as api:
        report = run_preflight(api, "my-lease", "default", timeout=2.0)
    assert {c.verdict for c in report.checks} == {Verdict.UNKNOWN}
    assert not report.ok
    assert report.error() is None
    warning = report.warning()
    assert warning is not None
    assert "connection refused" in warning


def test_create_is_asked_without_a_name_and_watch_with_it() -> None:
    by_verb = {p.verb: p for p in required_permissions("my-lease", "ns") if p.resource == "leases"}
    assert by_verb["create"].name == ""
    assert by_verb["watch"].name == "my-lease"
