"""The RBAC objects leader election needs, for one Lease: ``leader-election rbac`` prints them.

``manifests(...)`` returns a ServiceAccount, a Role and a RoleBinding (dicts, ready for YAML)
granting exactly what the library sends, restricted to the Lease by ``resourceNames`` where
Kubernetes allows it:

* ``get``, ``update``, ``watch`` on ``leases`` named ``lease_name`` — a watch can be restricted
  because the library watches with ``fieldSelector=metadata.name=NAME``, which kube-apiserver
  takes as the request's name;
* ``create`` on ``leases`` in a rule of its own, without ``resourceNames``: a create is
  authorized before its body (and so the name) is read, so a rule with names never matches it;
* optionally (``pod_label``) ``get`` and ``patch`` on ``pods``, for the leader-pod label —
  not restricted by name, since Pod names are not known in advance;
* optionally (``events``) ``create`` on ``events``.

The same manifests, for the Lease ``my-app``, ship in the package (``leader_election/
manifests/``, a copy of the repository's ``rbac/``); ``manifest_dir()`` finds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from leader_election.errors import ConfigurationError

__all__ = ["manifest_dir", "manifests", "render"]

_RBAC_API = "rbac.authorization.k8s.io/v1"
_LABELS = {"app.kubernetes.io/component": "leader-election"}


def manifest_dir() -> Path:
    """The directory of the packaged manifests (``role.yaml``, ``kustomization.yaml``, ...)."""
    return Path(__file__).resolve().parent / "manifests"


def _check_name(option: str, value: str) -> None:
    # A DNS subdomain, as Lease, Role and ServiceAccount names are.
    ok = 0 < len(value) <= 253 and all(
        part and part[0].isalnum() and part[-1].isalnum() and part.replace("-", "").isalnum()
        for part in value.split(".")
    )
    if not ok or value.lower() != value:
        raise ConfigurationError(
            f"{option}={value!r} is not a valid name: lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters",
            option=option,
            value=value,
        )


def _rules(lease_name: str, *, pod_label: bool, events: bool) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [lease_name],
            "verbs": ["get", "update", "watch"],
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
    if pod_label:
        rules.append({"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]})
    if events:
        rules.append({"apiGroups": [""], "resources": ["events"], "verbs": ["create"]})
    return rules


def manifests(
    lease_name: str,
    namespace: str,
    *,
    service_account: str = "leader-election",
    role_name: str = "",
    pod_label: bool = False,
    events: bool = True,
    with_service_account: bool = True,
) -> list[dict[str, Any]]:
    """ServiceAccount (optional), Role and RoleBinding for leader election on one Lease.

    ``role_name`` defaults to ``leader-election-<lease_name>``. Raises ``ConfigurationError``
    for a name Kubernetes would refuse.
    """
    _check_name("lease", lease_name)
    _check_name("namespace", namespace)
    _check_name("service_account", service_account)
    role = role_name or f"leader-election-{lease_name}"
    _check_name("role_name", role)
    meta = {"namespace": namespace, "labels": dict(_LABELS)}
    objects: list[dict[str, Any]] = []
    if with_service_account:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": service_account, **meta},
            }
        )
    objects.append(
        {
            "apiVersion": _RBAC_API,
            "kind": "Role",
            "metadata": {"name": role, **meta},
            "rules": _rules(lease_name, pod_label=pod_label, events=events),
        }
    )
    objects.append(
        {
            "apiVersion": _RBAC_API,
            "kind": "RoleBinding",
            "metadata": {"name": role, **meta},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [
                {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}
            ],
        }
    )
    return objects


def render(objects: Sequence[dict[str, Any]], *, header: str = "") -> str:
    """YAML documents separated by ``---``, after ``header`` as ``#`` comment lines."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    documents = [yaml.safe_dump(obj, sort_keys=False, default_flow_style=False) for obj in objects]
    text = "---\n".join(documents)
    return ("\n".join(lines) + "\n" if lines else "") + text
