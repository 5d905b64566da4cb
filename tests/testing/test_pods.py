"""Pods, SelfSubjectAccessReview and SelfSubjectReview, through the official client and kubectl.

Pods are what leader-pod labelling patches and what a Service selects; the reviews are what
the RBAC preflight and `check` ask. The first tests are conformance tests (the `core` and
`namespace` fixtures of conftest.py: the embedded server, and a real cluster when one is
configured), so they assert only what kube-apiserver also does; the RBAC and kubectl tests use
the embedded server's RBAC mode. Nothing runs a Pod on the embedded server: it stays Pending.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from support import ROLE_YAML, ROLEBINDING_YAML, raw, status_of

from leader_election.testing import LeaseAPIServer
from leader_election.testing.auth import service_account_groups, service_account_username

KUBECTL = shutil.which("kubectl")


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
    }


def test_a_created_pod_is_defaulted_and_pending(core: client.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_pod(namespace, pod("a", app="x"))
    assert created.status.phase == "Pending"
    assert created.spec.restart_policy == "Always"
    assert created.spec.service_account_name == "default"
    assert created.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert core.read_namespaced_pod("a", namespace).metadata.uid == created.metadata.uid


def test_a_pod_without_containers_is_invalid(core: client.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(
            namespace, {"metadata": {"name": "a"}, "spec": {"containers": []}}
        )
    body = status_of(caught.value)
    assert body["code"] == 422
    assert "spec.containers: Required value" in body["message"]


def test_labels_select_pods_and_field_selectors_select_by_phase(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, pod("a", app="x", role="leader"))
    core.create_namespaced_pod(namespace, pod("b", app="x"))
    leaders = core.list_namespaced_pod(namespace, label_selector="role=leader")
    assert [p.metadata.name for p in leaders.items] == ["a"]
    always = core.list_namespaced_pod(namespace, field_selector="spec.restartPolicy=Always")
    assert [p.metadata.name for p in always.items] == ["a", "b"]
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod(namespace, field_selector="spec.image=x")
    assert "field label not supported: spec.image" in status_of(caught.value)["message"]


@pytest.mark.parametrize(
    ("patch_type", "document"),
    [
        ("application/merge-patch+json", {"metadata": {"labels": {"role": "leader"}}}),
        ("application/strategic-merge-patch+json", {"metadata": {"labels": {"role": "leader"}}}),
        (
            "application/json-patch+json",
            [{"op": "add", "path": "/metadata/labels/role", "value": "leader"}],
        ),
    ],
)
def test_each_patch_type_labels_a_pod(
    core: client.CoreV1Api, namespace: str, patch_type: str, document: Any
) -> None:
    core.create_namespaced_pod(namespace, pod("a", app="x"))
    answer = raw(
        core.api_client,
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/a",
        body=json.dumps(document).encode(),
        headers={"Content-Type": patch_type},
    )
    assert answer.status == 200, answer.data
    labels = core.read_namespaced_pod("a", namespace).metadata.labels
    assert labels == {"app": "x", "role": "leader"}


def test_a_json_patch_test_op_refuses_when_the_label_moved_on(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, pod("a", role="follower"))
    document = [
        {"op": "test", "path": "/metadata/labels/role", "value": "leader"},
        {"op": "remove", "path": "/metadata/labels/role"},
    ]
    answer = raw(
        core.api_client,
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/a",
        body=json.dumps(document).encode(),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert answer.status == 422, answer.data
    assert core.read_namespaced_pod("a", namespace).metadata.labels == {"role": "follower"}


def test_a_pods_spec_cannot_change_except_the_image(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("a"))
    image = {"spec": {"containers": [{"name": "app", "image": "registry.example/app:2.0"}]}}
    assert core.patch_namespaced_pod("a", namespace, image).spec.containers[0].image.endswith("2.0")
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("a", namespace, {"spec": {"nodeName": "elsewhere"}})
    assert "pod updates may not change fields" in status_of(caught.value)["message"]


def test_a_watch_sees_a_label_added(core: client.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_pod(namespace, pod("a"))
    core.patch_namespaced_pod("a", namespace, {"metadata": {"labels": {"role": "leader"}}})
    stream = watch.Watch()
    seen = []
    for event in stream.stream(
        core.list_namespaced_pod,
        namespace,
        resource_version=created.metadata.resource_version,
        timeout_seconds=5,
    ):
        # On a cluster the scheduler modifies the Pod too: wait for the label.
        seen.append((event["type"], event["object"].metadata.labels))
        if event["object"].metadata.labels:
            stream.stop()
    assert seen[-1] == ("MODIFIED", {"role": "leader"})


# -- SelfSubjectAccessReview ------------------------------------------------------------------


def review(api_client: Any, verb: str, resource: str, name: str = "") -> Any:
    attrs = {"verb": verb, "resource": resource, "namespace": "default"}
    if resource == "leases":
        attrs["group"] = "coordination.k8s.io"
    if name:
        attrs["name"] = name
    authz = client.AuthorizationV1Api(api_client)
    return authz.create_self_subject_access_review({"spec": {"resourceAttributes": attrs}})


def test_an_admin_review_is_allowed(api: Any) -> None:
    answer = review(api, "delete", "pods")
    assert answer.status.allowed is True
    assert answer.spec.resource_attributes.verb == "delete"


def test_with_rbac_a_review_answers_as_the_role_allows(
    lease_api_server_factory: Callable[..., LeaseAPIServer],
) -> None:
    server = lease_api_server_factory(
        authentication=True, rbac=ROLE_YAML + "---\n" + ROLEBINDING_YAML
    )
    user = service_account_username("default", "leader-election")
    server.add_user(user, service_account_groups("default"))
    api_client = server.api_client(user=user)
    assert review(api_client, "get", "leases", "my-lease").status.allowed is True
    assert review(api_client, "create", "leases").status.allowed is True
    assert review(api_client, "get", "leases", "other").status.allowed is False
    assert review(api_client, "patch", "pods", "p").status.allowed is False


def test_a_review_needs_exactly_one_kind_of_attributes(api: Any) -> None:
    authz = client.AuthorizationV1Api(api)
    with pytest.raises(ApiException) as caught:
        authz.create_self_subject_access_review({"spec": {}})
    assert caught.value.status == 422


# -- kubectl --------------------------------------------------------------------------------


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
def test_kubectl_labels_and_selects_the_leader_pod_and_asks_can_i(
    lease_api_server_factory: Callable[..., LeaseAPIServer], tmp_path: Path
) -> None:
    server = lease_api_server_factory(
        tls=True, authentication=True, rbac=ROLE_YAML + "---\n" + ROLEBINDING_YAML
    )
    core = client.CoreV1Api(server.api_client())
    core.create_namespaced_pod("default", pod("a", app="x"))
    core.create_namespaced_pod("default", pod("b", app="x"))
    env = {
        **os.environ,
        "KUBECONFIG": server.kubeconfig_path,
        "KUBECACHEDIR": str(tmp_path / "kube-cache"),
        "HOME": str(tmp_path),
    }

    def kubectl(*args: str, kubeconfig: str = "") -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        return subprocess.run(
            [KUBECTL, *args],
            env={**env, "KUBECONFIG": kubeconfig or server.kubeconfig_path},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert kubectl("label", "pod", "b", "role=leader").returncode == 0
    table = [
        line.split() for line in kubectl("get", "pods", "-l", "role=leader").stdout.splitlines()
    ]
    assert table[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [row[:3] for row in table[1:]] == [["b", "0/1", "Pending"]]
    assert kubectl("auth", "can-i", "patch", "pods").stdout.strip() == "yes"
    sa = "system:serviceaccount:default:leader-election"
    server.add_user(sa, service_account_groups("default"))
    as_sa = server.write_kubeconfig(tmp_path / "sa.kubeconfig", user=sa)
    denied = kubectl("auth", "can-i", "patch", "pods", kubeconfig=as_sa)
    assert (denied.stdout.strip(), denied.returncode) == ("no", 1)
    allowed = kubectl("auth", "can-i", "update", "leases/my-lease", kubeconfig=as_sa)
    assert (allowed.stdout.strip(), allowed.returncode) == ("yes", 0)


def test_a_self_subject_review_names_the_user_and_groups(
    lease_api_server_factory: Callable[..., LeaseAPIServer],
) -> None:
    server = lease_api_server_factory(authentication=True, rbac=True)
    server.add_user("bob", ["devs"])
    answer = client.AuthenticationV1Api(server.api_client(user="bob")).create_self_subject_review(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    )
    assert answer.status.user_info.username == "bob"
    assert answer.status.user_info.groups == ["devs", "system:authenticated"]
    groups = client.ApisApi(server.api_client()).get_api_versions().groups
    assert {"authorization.k8s.io", "authentication.k8s.io"} <= {g.name for g in groups}
