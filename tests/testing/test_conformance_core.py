"""Conformance: ConfigMaps, Namespaces, Events, discovery and the DynamicClient."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from support import lease, raw, status_of


def failure(call: Any) -> dict[str, Any]:
    with pytest.raises(ApiException) as info:
        call()
    return status_of(info.value)


def configmap(name: str, **data: str) -> Any:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data or None)


# -- ConfigMaps ------------------------------------------------------------------------------------


def test_configmaps_support_every_verb(core: Any, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, configmap("cfg", a="1"))
    assert created.data == {"a": "1"}
    created.data = {"a": "2"}
    replaced = core.replace_namespaced_config_map("cfg", namespace, created)
    assert replaced.data == {"a": "2"}
    patched = core.patch_namespaced_config_map("cfg", namespace, {"data": {"b": "3"}})
    assert patched.data == {"a": "2", "b": "3"}
    assert [
        c.metadata.name
        for c in core.list_namespaced_config_map(namespace).items
        if c.metadata.name == "cfg"
    ] == ["cfg"]
    core.delete_namespaced_config_map("cfg", namespace)
    body = failure(lambda: core.read_namespaced_config_map("cfg", namespace))
    assert body["code"] == 404
    assert body["message"] == 'configmaps "cfg" not found'
    assert body["details"] == {"name": "cfg", "kind": "configmaps"}


def test_configmaps_allow_unconditional_updates_but_not_stale_ones(
    core: Any, namespace: str
) -> None:
    first = core.create_namespaced_config_map(namespace, configmap("cas", v="1"))
    # Unlike Leases, ConfigMaps may be replaced without a resourceVersion.
    core.replace_namespaced_config_map("cas", namespace, configmap("cas", v="2"))
    first.data = {"v": "3"}
    body = failure(lambda: core.replace_namespaced_config_map("cas", namespace, first))
    assert body["code"] == 409
    assert body["reason"] == "Conflict"
    assert body["message"].startswith(
        'Operation cannot be fulfilled on configmaps "cas": the object has been modified'
    )


def test_a_configmap_put_does_not_create(core: Any, namespace: str) -> None:
    body = failure(
        lambda: core.replace_namespaced_config_map("absent", namespace, configmap("absent"))
    )
    assert body["code"] == 404
    assert body["message"] == 'configmaps "absent" not found'


def test_an_invalid_configmap_key_is_invalid(core: Any, namespace: str) -> None:
    body = failure(
        lambda: core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name="keys"), data={"bad key": "x"}),
        )
    )
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == "ConfigMap"
    assert body["details"]["causes"][0]["field"] == "data[bad key]"
    assert body["message"].startswith(
        'ConfigMap "keys" is invalid: data[bad key]: Invalid value: "bad key": a valid config key '
        "must consist of alphanumeric characters"
    )


def test_a_configmap_in_a_missing_namespace_is_not_found(core: Any) -> None:
    body = failure(
        lambda: core.create_namespaced_config_map("no-such-namespace-x3", configmap("cfg"))
    )
    assert body["code"] == 404
    assert body["message"] == 'namespaces "no-such-namespace-x3" not found'


# -- Namespaces ------------------------------------------------------------------------------------


def test_the_standard_namespaces_exist(core: Any) -> None:
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    default = core.read_namespace("default")
    assert default.status.phase == "Active"
    assert default.metadata.labels["kubernetes.io/metadata.name"] == "default"


def test_a_created_namespace_is_active_and_labelled(core: Any, namespace: str) -> None:
    found = core.read_namespace(namespace)
    assert found.status.phase == "Active"
    assert found.spec.finalizers == ["kubernetes"]
    assert found.metadata.labels == {"kubernetes.io/metadata.name": namespace}
    listed = core.list_namespace(field_selector=f"metadata.name={namespace}")
    assert [n.metadata.name for n in listed.items] == [namespace]


def test_an_invalid_namespace_name_is_invalid(core: Any) -> None:
    body = failure(
        lambda: core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name="has.dots"))
        )
    )
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert (
        body["message"]
        == 'Namespace "has.dots" is invalid: metadata.name: Invalid value: "has.dots": must not '
        "contain dots"
    )


def test_the_default_namespace_cannot_be_deleted(core: Any) -> None:
    body = failure(lambda: core.delete_namespace("default"))
    assert body["code"] == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == 'namespaces "default" is forbidden: this namespace may not be deleted'


# -- Events ----------------------------------------------------------------------------------------


def test_events_list_with_involved_object_selectors(core: Any, namespace: str) -> None:
    selector = (
        f"involvedObject.kind=Lease,involvedObject.name=x,involvedObject.namespace={namespace}"
    )
    assert core.list_namespaced_event(namespace, field_selector=selector).items == []


def test_an_unsupported_event_field_selector_is_a_bad_request(core: Any, namespace: str) -> None:
    body = failure(lambda: core.list_namespaced_event(namespace, field_selector="spec.nothing=x"))
    assert body["code"] == 400
    assert body["message"] == "field label not supported: spec.nothing"


# -- discovery and the dynamic client -------------------------------------------------------------


def test_discovery_lists_the_served_resources(api: Any) -> None:
    version = client.VersionApi(api).get_code()
    assert version.major == "1"
    coordination = {r.name: r for r in client.CoordinationV1Api(api).get_api_resources().resources}
    assert coordination["leases"].kind == "Lease"
    assert coordination["leases"].namespaced is True
    assert {"create", "delete", "get", "list", "patch", "update", "watch"} <= set(
        coordination["leases"].verbs
    )
    core = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert core["configmaps"].short_names == ["cm"]
    assert core["namespaces"].namespaced is False
    assert "events" in core
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert "coordination.k8s.io" in groups


def test_the_dynamic_client_drives_leases(api: Any, namespace: str, tmp_path: Any) -> None:
    dynamic = DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))
    leases = dynamic.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "dyn"},
        "spec": {"holderIdentity": "a"},
    }
    created = leases.create(body=body, namespace=namespace)
    assert created.spec.holderIdentity == "a"
    patched = leases.patch(
        name="dyn",
        namespace=namespace,
        body={"spec": {"holderIdentity": "b"}},
        content_type="application/merge-patch+json",
    )
    assert patched.spec.holderIdentity == "b"
    assert [i.metadata.name for i in leases.get(namespace=namespace).items] == ["dyn"]
    events = []
    for event in leases.watch(
        namespace=namespace, resource_version=created.metadata.resourceVersion, timeout=10
    ):
        events.append(event)
        break
    assert events[0]["type"] == "MODIFIED"
    leases.delete(name="dyn", namespace=namespace)
    with pytest.raises(ApiException) as info:
        leases.get(name="dyn", namespace=namespace)
    assert info.value.status == 404


def test_an_unknown_path_is_a_not_found_status(api: Any) -> None:
    response = raw(api, "GET", "/apis/coordination.k8s.io/v1/namespaces/default/widgets")
    body = json.loads(response.data)
    assert response.status == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == "the server could not find the requested resource"


def test_a_method_without_a_route_is_method_not_allowed(
    api: Any, namespace: str, target: Any
) -> None:
    client.CoordinationV1Api(api).create_namespaced_lease(namespace, lease("posted"))
    response = raw(
        api,
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/posted",
        body=b"{}",
        headers={"Content-Type": "application/json"},
    )
    body = json.loads(response.data)
    assert response.status == 405
    assert body["reason"] == "MethodNotAllowed"
    assert body["message"] == "the server does not allow this method on the requested resource"


def test_watching_configmaps(core: Any, namespace: str) -> None:
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, configmap("watched"))
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_config_map, namespace, resource_version=start, timeout_seconds=10
    ):
        if event["raw_object"]["metadata"]["name"] == "watched":
            assert event["type"] == "ADDED"
            w.stop()
            break
    else:
        pytest.fail("no ADDED event for the ConfigMap")
