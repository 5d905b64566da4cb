"""Discovery documents: ``/version``, ``/api``, ``/api/v1``, ``/apis`` and the group documents.

The legacy (non-aggregated) discovery format, which kubectl 1.32 falls back to when the server
answers plain ``application/json`` and which the official client's ``DynamicClient`` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leader_election.testing import review
from leader_election.testing.resources import RESOURCES, ResourceType
from leader_election.testing.resources import served_groups as _resource_groups

__all__ = [
    "api_resource_list",
    "api_versions",
    "group",
    "group_list",
    "openapi_v3_group_version",
    "openapi_v3_root",
    "version_info",
]

KUBERNETES_VERSION = "v1.32.0"


def version_info() -> dict[str, Any]:
    """``/version``: what ``kubectl version`` prints for the server."""
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.3",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api``: the legacy group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def served_groups() -> list[tuple[str, str]]:
    """(group, version) pairs served under ``/apis``: the stored kinds' and the reviews'."""
    return sorted({*_resource_groups(), *review.served_groups()})


def _group_version(group_name: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group_name}/{version}", "version": version}


def group(group_name: str) -> dict[str, Any] | None:
    """``/apis/{group}``, or None for a group this server does not serve."""
    versions = [v for g, v in served_groups() if g == group_name]
    if not versions:
        return None
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group_name,
        "versions": [_group_version(group_name, v) for v in versions],
        "preferredVersion": _group_version(group_name, versions[0]),
    }


def group_list() -> dict[str, Any]:
    """``/apis``."""
    names = sorted({g for g, _ in served_groups()})
    groups = [group(name) for name in names]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g]}


def _api_resource(rtype: ResourceType) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "name": rtype.resource,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        resource["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        resource["categories"] = list(rtype.categories)
    resource["storageVersionHash"] = rtype.storage_version_hash
    return resource


def api_resource_list(group_name: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/{group}/{version}``, or None when not served."""
    resources = [r for r in RESOURCES if r.group == group_name and r.version == version]
    reviews = review.discovery_resources(group_name, version)
    if not resources and not reviews:
        return None
    body: dict[str, Any] = {"kind": "APIResourceList"}
    if group_name:
        # The legacy /api/v1 document has no apiVersion; group documents do.
        body["apiVersion"] = "v1"
        body["groupVersion"] = f"{group_name}/{version}"
    else:
        body["groupVersion"] = version
    listed = [_api_resource(r) for r in resources] + reviews
    body["resources"] = sorted(listed, key=lambda r: str(r["name"]))
    return body


# -- OpenAPI v3 (just enough for kubectl) ----------------------------------------------------------
#
# kubectl decides whether the server validates fields itself (fieldValidation=Strict) by looking
# for that query parameter on the kind's PATCH operation in the OpenAPI v3 document; without it,
# kubectl create/apply/edit fall back to client-side validation and fail on a server without
# OpenAPI. These documents carry the operations and their parameters, not the schemas.

_WRITE_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def _group_version_path(group_name: str, version: str) -> str:
    return f"apis/{group_name}/{version}" if group_name else f"api/{version}"


def openapi_v3_root() -> dict[str, Any]:
    """``/openapi/v3``: one entry per served group version."""
    paths = {}
    for group_name, version in [("", "v1"), *_resource_groups()]:
        key = _group_version_path(group_name, version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={KUBERNETES_VERSION}"}
    return {"paths": paths}


def _operation(rtype: ResourceType, action: str, parameters: Sequence[str]) -> dict[str, Any]:
    return {
        "operationId": f"{action}{rtype.kind}",
        "parameters": [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in parameters
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rtype.group,
            "kind": rtype.kind,
            "version": rtype.version,
        },
    }


def openapi_v3_group_version(path: str) -> dict[str, Any] | None:
    """``/openapi/v3/api/v1`` or ``/openapi/v3/apis/{group}/{version}``, or None."""
    parts = path.strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        group_name, version = "", parts[1]
    elif parts[:1] == ["apis"] and len(parts) == 3:
        group_name, version = parts[1], parts[2]
    else:
        return None
    resources = [r for r in RESOURCES if r.group == group_name and r.version == version]
    if not resources:
        return None
    paths: dict[str, Any] = {}
    for rtype in resources:
        prefix = "/" + _group_version_path(group_name, version)
        scope = f"{prefix}/namespaces/{{namespace}}" if rtype.namespaced else prefix
        collection = f"{scope}/{rtype.resource}"
        item = f"{collection}/{{name}}"
        paths[collection] = {
            "get": _operation(rtype, "list", ("labelSelector", "fieldSelector", "limit", "watch")),
            "post": _operation(rtype, "post", _WRITE_PARAMETERS),
        }
        paths[item] = {
            "get": _operation(rtype, "get", ("pretty",)),
            "put": _operation(rtype, "put", _WRITE_PARAMETERS),
            "patch": _operation(rtype, "patch", (*_WRITE_PARAMETERS, "force")),
            "delete": _operation(
                rtype, "delete", ("dryRun", "gracePeriodSeconds", "propagationPolicy")
            ),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }
