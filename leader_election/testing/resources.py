"""The kinds the embedded server serves, each as kube-apiserver 1.32 defines it.

* ``coordination.k8s.io/v1`` ``Lease`` — what leader election uses;
* ``v1`` ``ConfigMap`` — the other lock kind clients use;
* ``v1`` ``Namespace`` — Leases live in one (``default``, ``kube-system``, ``kube-public`` and
  ``kube-node-lease`` exist at start);
* ``v1`` ``Event`` — what ``kubectl describe`` lists under an object;
* ``v1`` ``Pod`` — stored, labelled and selected (what leader-pod labelling patches); nothing
  schedules or runs it: it stays ``Pending``, and its status cannot be changed.

A ``ResourceType`` bundles, per kind, what the registry strategy, the validation package and the
printers define upstream: the JSON layout (``schema``), whether a PUT may create and whether an
update may omit ``metadata.resourceVersion``, defaulting, validation with field causes, the
fields a field selector may use, and the server-side Table columns ``kubectl get`` prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leader_election.testing import kubetime, validation
from leader_election.testing.schema import Field, Kind, Struct, check_struct_names, decode
from leader_election.testing.status import FieldError, GroupResource

__all__ = [
    "CONFIGMAPS",
    "EVENTS",
    "LEASES",
    "NAMESPACES",
    "PODS",
    "RESOURCES",
    "Column",
    "ResourceType",
    "human_duration",
    "resource_by_path",
]

# -- JSON layouts (k8s.io/api types, fields in declaration order) -------------------------------


def _s(name: str, *, omitempty: bool = True, go_type: str = "string") -> Field:
    return Field(name, Kind.STRING, go_type, omitempty=omitempty)


def _ps(name: str, go_type: str = "string") -> Field:
    return Field(name, Kind.STRING, go_type, pointer=True)


OWNER_REFERENCE = Struct(
    "OwnerReference",
    (
        _s("apiVersion", omitempty=False),
        _s("kind", omitempty=False),
        _s("name", omitempty=False),
        _s("uid", omitempty=False, go_type="types.UID"),
        Field("controller", Kind.BOOL, pointer=True),
        Field("blockOwnerDeletion", Kind.BOOL, pointer=True),
    ),
)

OBJECT_META = Struct(
    "ObjectMeta",
    (
        _s("name"),
        _s("generateName"),
        _s("namespace"),
        _s("selfLink"),
        _s("uid", go_type="types.UID"),
        _s("resourceVersion"),
        Field("generation", Kind.INT64),
        Field("creationTimestamp", Kind.TIME),
        Field("deletionTimestamp", Kind.TIME, pointer=True),
        Field("deletionGracePeriodSeconds", Kind.INT64, pointer=True),
        Field("labels", Kind.MAP_STRING),
        Field("annotations", Kind.MAP_STRING),
        Field(
            "ownerReferences",
            Kind.LIST_STRUCT,
            struct=OWNER_REFERENCE,
            patch_strategy="merge",
            patch_merge_key="uid",
        ),
        Field("finalizers", Kind.LIST_STRING, patch_strategy="merge"),
        # Accepted and dropped: this server does not track field managers.
        Field("managedFields", Kind.RAW),
    ),
)

_TYPE_META = (_s("kind"), _s("apiVersion"))
_META = Field("metadata", Kind.STRUCT, struct=OBJECT_META)

LEASE_SPEC = Struct(
    "LeaseSpec",
    (
        _ps("holderIdentity"),
        Field("leaseDurationSeconds", Kind.INT32, pointer=True),
        Field("acquireTime", Kind.MICROTIME, pointer=True),
        Field("renewTime", Kind.MICROTIME, pointer=True),
        Field("leaseTransitions", Kind.INT32, pointer=True),
        _ps("strategy", "v1.CoordinatedLeaseStrategy"),
        _ps("preferredHolder"),
    ),
)
LEASE = Struct("Lease", (*_TYPE_META, _META, Field("spec", Kind.STRUCT, struct=LEASE_SPEC)))

CONFIG_MAP = Struct(
    "ConfigMap",
    (
        *_TYPE_META,
        _META,
        Field("immutable", Kind.BOOL, pointer=True),
        Field("data", Kind.MAP_STRING),
        Field("binaryData", Kind.MAP_BYTES),
    ),
)

NAMESPACE_CONDITION = Struct(
    "NamespaceCondition",
    (
        _s("type", omitempty=False, go_type="v1.NamespaceConditionType"),
        _s("status", omitempty=False, go_type="v1.ConditionStatus"),
        Field("lastTransitionTime", Kind.TIME),
        _s("reason"),
        _s("message"),
    ),
)
NAMESPACE = Struct(
    "Namespace",
    (
        *_TYPE_META,
        _META,
        Field(
            "spec",
            Kind.STRUCT,
            struct=Struct(
                "NamespaceSpec", (Field("finalizers", Kind.LIST_STRING, "[]v1.FinalizerName"),)
            ),
        ),
        Field(
            "status",
            Kind.STRUCT,
            struct=Struct(
                "NamespaceStatus",
                (
                    _s("phase", go_type="v1.NamespacePhase"),
                    Field(
                        "conditions",
                        Kind.LIST_STRUCT,
                        struct=NAMESPACE_CONDITION,
                        patch_strategy="merge",
                        patch_merge_key="type",
                    ),
                ),
            ),
        ),
    ),
)

OBJECT_REFERENCE = Struct(
    "ObjectReference",
    (
        _s("kind"),
        _s("namespace"),
        _s("name"),
        _s("uid", go_type="types.UID"),
        _s("apiVersion"),
        _s("resourceVersion"),
        _s("fieldPath"),
    ),
)
EVENT = Struct(
    "Event",
    (
        *_TYPE_META,
        _META,
        Field("involvedObject", Kind.STRUCT, struct=OBJECT_REFERENCE),
        _s("reason"),
        _s("message"),
        Field(
            "source",
            Kind.STRUCT,
            struct=Struct("EventSource", (_s("component"), _s("host"))),
        ),
        Field("firstTimestamp", Kind.TIME),
        Field("lastTimestamp", Kind.TIME),
        Field("count", Kind.INT32),
        _s("type"),
        Field("eventTime", Kind.MICROTIME),
        Field(
            "series",
            Kind.STRUCT,
            pointer=True,
            struct=Struct(
                "EventSeries",
                (Field("count", Kind.INT32), Field("lastObservedTime", Kind.MICROTIME)),
            ),
        ),
        _s("action"),
        Field("related", Kind.STRUCT, pointer=True, struct=OBJECT_REFERENCE),
        _s("reportingComponent", omitempty=False),
        _s("reportingInstance", omitempty=False),
    ),
)


# Pods: the fields a Pod manifest commonly carries are typed; nested structures this server
# never interprets (volumes, probes, affinity, ...) are kept as given.
def _raw(name: str) -> Field:
    return Field(name, Kind.RAW)


CONTAINER = Struct(
    "Container",
    (
        _s("name", omitempty=False),
        _s("image"),
        Field("command", Kind.LIST_STRING),
        Field("args", Kind.LIST_STRING),
        _s("workingDir"),
        _raw("ports"),
        _raw("envFrom"),
        _raw("env"),
        _raw("resources"),
        _raw("resizePolicy"),
        _ps("restartPolicy", "v1.ContainerRestartPolicy"),
        _raw("volumeMounts"),
        _raw("volumeDevices"),
        _raw("livenessProbe"),
        _raw("readinessProbe"),
        _raw("startupProbe"),
        _raw("lifecycle"),
        _s("terminationMessagePath"),
        _s("terminationMessagePolicy", go_type="v1.TerminationMessagePolicy"),
        _s("imagePullPolicy", go_type="v1.PullPolicy"),
        _raw("securityContext"),
        Field("stdin", Kind.BOOL),
        Field("stdinOnce", Kind.BOOL),
        Field("tty", Kind.BOOL),
    ),
)


def _containers(name: str) -> Field:
    return Field(
        name, Kind.LIST_STRUCT, struct=CONTAINER, patch_strategy="merge", patch_merge_key="name"
    )


POD_SPEC = Struct(
    "PodSpec",
    (
        _raw("volumes"),
        _containers("initContainers"),
        Field(
            "containers",
            Kind.LIST_STRUCT,
            struct=CONTAINER,
            omitempty=False,
            patch_strategy="merge",
            patch_merge_key="name",
        ),
        _raw("ephemeralContainers"),
        _s("restartPolicy", go_type="v1.RestartPolicy"),
        Field("terminationGracePeriodSeconds", Kind.INT64, pointer=True),
        Field("activeDeadlineSeconds", Kind.INT64, pointer=True),
        _s("dnsPolicy", go_type="v1.DNSPolicy"),
        Field("nodeSelector", Kind.MAP_STRING),
        _s("serviceAccountName"),
        _s("serviceAccount"),
        Field("automountServiceAccountToken", Kind.BOOL, pointer=True),
        _s("nodeName"),
        Field("hostNetwork", Kind.BOOL),
        Field("hostPID", Kind.BOOL),
        Field("hostIPC", Kind.BOOL),
        Field("shareProcessNamespace", Kind.BOOL, pointer=True),
        _raw("securityContext"),
        _raw("imagePullSecrets"),
        _s("hostname"),
        _s("subdomain"),
        _raw("affinity"),
        _s("schedulerName"),
        _raw("tolerations"),
        _raw("hostAliases"),
        _s("priorityClassName"),
        Field("priority", Kind.INT32, pointer=True),
        _raw("dnsConfig"),
        _raw("readinessGates"),
        _ps("runtimeClassName"),
        Field("enableServiceLinks", Kind.BOOL, pointer=True),
        _ps("preemptionPolicy", "v1.PreemptionPolicy"),
        _raw("overhead"),
        _raw("topologySpreadConstraints"),
        Field("setHostnameAsFQDN", Kind.BOOL, pointer=True),
        _raw("os"),
        Field("hostUsers", Kind.BOOL, pointer=True),
        _raw("schedulingGates"),
        _raw("resourceClaims"),
        _raw("resources"),
    ),
)

POD_STATUS = Struct(
    "PodStatus",
    (
        _s("phase", go_type="v1.PodPhase"),
        _raw("conditions"),
        _s("message"),
        _s("reason"),
        _s("nominatedNodeName"),
        _s("hostIP"),
        _raw("hostIPs"),
        _s("podIP"),
        _raw("podIPs"),
        Field("startTime", Kind.TIME, pointer=True),
        _raw("initContainerStatuses"),
        _raw("containerStatuses"),
        _s("qosClass", go_type="v1.PodQOSClass"),
        _raw("ephemeralContainerStatuses"),
        _s("resize", go_type="v1.PodResizeStatus"),
        _raw("resourceClaimStatuses"),
    ),
)
POD = Struct(
    "Pod",
    (
        *_TYPE_META,
        _META,
        Field("spec", Kind.STRUCT, struct=POD_SPEC),
        Field("status", Kind.STRUCT, struct=POD_STATUS),
    ),
)

check_struct_names([OBJECT_META, LEASE, CONFIG_MAP, NAMESPACE, EVENT, CONTAINER, POD])


# -- Table output ---------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration``: ``5s``, ``2m10s``, ``3h``, ``4d``... as ``kubectl get`` shows."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _since(timestamp: str | None, *, micro: bool = False) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a zero time."""
    if not timestamp:
        return "<unknown>"
    try:
        instant = kubetime.parse_micro(timestamp) if micro else kubetime.parse_time(timestamp)
    except kubetime.GoTimeError:
        return "<unknown>"
    return human_duration(kubetime.now().to_unix() - instant.to_unix())


@dataclass(frozen=True, slots=True)
class Column:
    """A ``TableColumnDefinition``."""

    name: str
    type: str
    description: str
    format: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients "
    "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
    "system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_NAME = Column("Name", "string", _NAME_DOC, format="name")
_AGE = Column("Age", "string", _AGE_DOC)


def _age(obj: Mapping[str, Any]) -> str:
    return _since(obj["metadata"].get("creationTimestamp"))


def _lease_row(obj: Mapping[str, Any]) -> list[Any]:
    holder = obj.get("spec", {}).get("holderIdentity") or ""
    return [obj["metadata"]["name"], holder, _age(obj)]


def _configmap_row(obj: Mapping[str, Any]) -> list[Any]:
    data = len(obj.get("data", {})) + len(obj.get("binaryData", {}))
    return [obj["metadata"]["name"], data, _age(obj)]


def _namespace_row(obj: Mapping[str, Any]) -> list[Any]:
    return [obj["metadata"]["name"], obj.get("status", {}).get("phase", ""), _age(obj)]


def _event_row(obj: Mapping[str, Any]) -> list[Any]:
    # printEvent: the server always prints the wide columns; kubectl hides priority > 0.
    first = _since(obj.get("firstTimestamp"))
    if not obj.get("firstTimestamp"):
        first = _since(obj.get("eventTime"), micro=True)
    last = _since(obj.get("lastTimestamp")) if obj.get("lastTimestamp") else first
    count = obj.get("count", 0)
    series = obj.get("series")
    if series is not None:
        last = _since(series.get("lastObservedTime"), micro=True)
        count = series.get("count", 0)
    elif count == 0:
        count = 1
    involved = obj.get("involvedObject", {})
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source", {})
    source_text = source.get("component", "")
    if source.get("host"):
        source_text = f"{source_text}, {source['host']}"
    return [
        last,
        obj.get("type", ""),
        obj.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        source_text,
        str(obj.get("message", "")).strip(),
        first,
        count,
        obj["metadata"]["name"],
    ]


def _pod_row(obj: Mapping[str, Any]) -> list[Any]:
    # printPod, reduced: no container-state reasons, since nothing runs the containers here.
    spec = obj.get("spec", {})
    pod_status = obj.get("status", {})
    statuses = pod_status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if isinstance(s, dict) and s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses if isinstance(s, dict))
    reason = pod_status.get("reason") or pod_status.get("phase", "")
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    return [
        obj["metadata"]["name"],
        f"{ready}/{len(spec.get('containers', []))}",
        reason,
        restarts,
        _age(obj),
        pod_status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        pod_status.get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


# -- validation ----------------------------------------------------------------------------------

_VALID_LEASE_STRATEGIES = ("OldestEmulationVersion",)


def _validate_coordinated_strategy(strategy: str, path: str) -> list[FieldError]:
    # ValidateCoordinatedLeaseStrategy appends "strategy" to a path that already ends in it.
    errors: list[FieldError] = []
    parts = strategy.split("/")
    if len(parts) == 1:
        if strategy not in _VALID_LEASE_STRATEGIES:
            errors.append(
                FieldError.not_supported(f"{path}.strategy", strategy, _VALID_LEASE_STRATEGIES)
            )
    else:
        errors.extend(
            FieldError.invalid(f"{path}.strategy", strategy, msg)
            for msg in validation.is_qualified_name(strategy)
        )
    return errors


def _validate_lease_spec(spec: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errors.append(
            FieldError.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
        )
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        errors.append(
            FieldError.invalid(
                "spec.leaseTransitions", transitions, "must be greater than or equal to 0"
            )
        )
    strategy = spec.get("strategy")
    if strategy is not None:
        errors.extend(_validate_coordinated_strategy(strategy, "spec.strategy"))
    if spec.get("preferredHolder") and not strategy:
        errors.append(
            FieldError.forbidden(
                "spec.preferredHolder", "may only be specified if `strategy` is defined"
            )
        )
    return errors


def _validate_lease(obj: Mapping[str, Any]) -> list[FieldError]:
    errors = validation.validate_object_meta(obj["metadata"], namespaced=True)
    return errors + _validate_lease_spec(obj.get("spec", {}))


def _validate_lease_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    errors = validation.validate_object_meta_update(new["metadata"], old["metadata"])
    return errors + _validate_lease_spec(new.get("spec", {}))


_CONFIG_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
MAX_CONFIG_MAP_SIZE = 1024 * 1024


def _is_config_map_key(key: str) -> list[str]:
    errors = []
    if len(key) > 253:
        errors.append("must be no more than 253 characters")
    if _CONFIG_KEY_RE.fullmatch(key) is None:
        errors.append(
            f"{_CONFIG_KEY_MSG} (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
            "regex used for validation is '[-._a-zA-Z0-9]+')"
        )
    if key == ".":
        errors.append("must not be '.'")
    elif key == "..":
        errors.append("must not be '..'")
    elif key.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def _validate_config_map(obj: Mapping[str, Any]) -> list[FieldError]:
    errors = validation.validate_object_meta(obj["metadata"], namespaced=True)
    total = 0
    data = obj.get("data", {})
    for key, value in data.items():
        errors.extend(
            FieldError.invalid(f"data[{key}]", key, msg) for msg in _is_config_map_key(key)
        )
        total += len(value)
    for key, value in obj.get("binaryData", {}).items():
        errors.extend(
            FieldError.invalid(f"binaryData[{key}]", key, msg) for msg in _is_config_map_key(key)
        )
        total += len(value) * 3 // 4
        if key in data:
            errors.append(
                FieldError.invalid(
                    f"binaryData[{key}]", key, "duplicate key in both data and binaryData"
                )
            )
    if total > MAX_CONFIG_MAP_SIZE:
        errors.append(FieldError.too_long("", MAX_CONFIG_MAP_SIZE))
    return errors


def _validate_config_map_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    errors = validation.validate_object_meta_update(new["metadata"], old["metadata"])
    if old.get("immutable"):
        message = "field is immutable when `immutable` is set"
        if not new.get("immutable"):
            errors.append(FieldError.forbidden("immutable", message))
        if new.get("data", {}) != old.get("data", {}):
            errors.append(FieldError.forbidden("data", message))
        if new.get("binaryData", {}) != old.get("binaryData", {}):
            errors.append(FieldError.forbidden("binaryData", message))
    return errors + _validate_config_map(new)


def _validate_namespace(obj: Mapping[str, Any]) -> list[FieldError]:
    errors = validation.validate_object_meta(
        obj["metadata"], namespaced=False, name_fn=validation.name_is_dns_label
    )
    for finalizer in obj.get("spec", {}).get("finalizers", []):
        errors.extend(_validate_finalizer_name(finalizer, "spec.finalizers"))
    return errors


def _validate_finalizer_name(name: str, path: str) -> list[FieldError]:
    errors = [FieldError.invalid(path, name, msg) for msg in validation.is_qualified_name(name)]
    if not errors and "/" not in name and name != "kubernetes":
        errors.append(
            FieldError.invalid(
                path,
                name,
                "name is neither a standard finalizer name nor is it fully qualified",
            )
        )
    return errors


def _validate_namespace_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    return validation.validate_object_meta_update(new["metadata"], old["metadata"])


def _validate_event(obj: Mapping[str, Any]) -> list[FieldError]:
    # A reduced ValidateEventCreate: metadata, and an involved object in the event's namespace.
    errors = validation.validate_object_meta(obj["metadata"], namespaced=True)
    involved = obj.get("involvedObject", {})
    namespace = obj["metadata"].get("namespace", "")
    involved_namespace = involved.get("namespace", "")
    if involved_namespace and involved_namespace != namespace:
        errors.append(
            FieldError.invalid(
                "involvedObject.namespace", involved_namespace, "does not match event.namespace"
            )
        )
    return errors


def _validate_event_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    return validation.validate_object_meta_update(
        new["metadata"], old["metadata"]
    ) + _validate_event(new)


_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
    "to 1 if it was previously negative)"
)


def _validate_containers(containers: Sequence[Mapping[str, Any]], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"{path}[{index}]"
        name = container.get("name", "")
        if not name:
            errors.append(FieldError.required(f"{where}.name"))
        else:
            errors.extend(
                FieldError.invalid(f"{where}.name", name, msg)
                for msg in validation.is_dns1123_label(name)
            )
            if name in seen:
                errors.append(FieldError("FieldValueDuplicate", f"{where}.name", name, ""))
            seen.add(name)
        if not container.get("image"):
            errors.append(FieldError.required(f"{where}.image"))
    return errors


def _validate_pod_spec(spec: Mapping[str, Any]) -> list[FieldError]:
    containers = spec.get("containers") or []
    errors: list[FieldError] = []
    if not containers:
        errors.append(FieldError.required("spec.containers"))
    errors.extend(_validate_containers(containers, "spec.containers"))
    errors.extend(_validate_containers(spec.get("initContainers") or [], "spec.initContainers"))
    policy = spec.get("restartPolicy", "")
    if policy not in _RESTART_POLICIES:
        errors.append(FieldError.not_supported("spec.restartPolicy", policy, _RESTART_POLICIES))
    return errors


def _validate_pod(obj: Mapping[str, Any]) -> list[FieldError]:
    errors = validation.validate_object_meta(obj["metadata"], namespaced=True)
    return errors + _validate_pod_spec(obj.get("spec", {}))


def _mutable_pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec with the fields an update may change blanked out, for comparison."""
    copy = dict(spec)
    for key in ("containers", "initContainers"):
        copy[key] = [{**c, "image": ""} for c in spec.get(key) or []]
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        copy.pop(key, None)
    return copy


def _validate_pod_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    errors = validation.validate_object_meta_update(new["metadata"], old["metadata"])
    errors += _validate_pod_spec(new.get("spec", {}))
    if _mutable_pod_spec(new.get("spec", {})) != _mutable_pod_spec(old.get("spec", {})):
        errors.append(FieldError.forbidden("spec", _POD_UPDATE_FORBIDDEN))
    return errors


# -- defaulting (PrepareForCreate / PrepareForUpdate) -------------------------------------------


def _nothing(obj: dict[str, Any]) -> None:
    return None


def _nothing_update(new: dict[str, Any], old: Mapping[str, Any]) -> None:
    return None


_NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _namespace_label(obj: dict[str, Any]) -> None:
    # Since 1.21 every namespace carries its own name as a label, so selectors can pick it.
    labels = dict(obj["metadata"].get("labels", {}))
    labels[_NAMESPACE_NAME_LABEL] = obj["metadata"].get("name", "")
    obj["metadata"]["labels"] = dict(sorted(labels.items()))


def _prepare_namespace(obj: dict[str, Any]) -> None:
    obj["status"] = {"phase": "Active"}
    finalizers = list(obj.get("spec", {}).get("finalizers", []))
    if "kubernetes" not in finalizers:
        finalizers.append("kubernetes")
    obj["spec"] = {"finalizers": finalizers}
    _namespace_label(obj)


def _prepare_namespace_update(new: dict[str, Any], old: Mapping[str, Any]) -> None:
    # Spec and status change only through the finalize and status subresources.
    new["spec"] = old.get("spec", {})
    new["status"] = old.get("status", {})
    _namespace_label(new)


def _default_container(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    untagged = "@" not in tag and ":" not in tag
    latest = untagged or tag.endswith(":latest")
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")


def _prepare_pod(obj: dict[str, Any]) -> None:
    # SetDefaults_PodSpec and SetDefaults_Container, the ServiceAccount admission plugin's
    # default account, and PrepareForCreate's fresh status (status is not the client's to set).
    spec = obj.setdefault("spec", {})
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            _default_container(container)
    defaults: dict[str, Any] = {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "schedulerName": "default-scheduler",
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    for key, value in defaults.items():
        if spec.get(key) in (None, ""):
            spec[key] = value
    spec["serviceAccount"] = spec["serviceAccountName"]
    # Laid out again in the struct's field order, as Go would marshal the defaulted spec.
    obj["spec"], _ = decode(POD_SPEC, spec)
    obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _prepare_pod_update(new: dict[str, Any], old: Mapping[str, Any]) -> None:
    # Status changes only through the status subresource (which this server does not serve).
    new["status"] = old.get("status", {})


# -- field selectors ------------------------------------------------------------------------------


def _meta_fields(obj: Mapping[str, Any], namespaced: bool) -> dict[str, str]:
    meta = obj["metadata"]
    fields = {"metadata.name": meta.get("name", "")}
    if namespaced:
        fields["metadata.namespace"] = meta.get("namespace", "")
    return fields


def _event_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    involved = obj.get("involvedObject", {})
    fields = _meta_fields(obj, True)
    for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        fields[f"involvedObject.{key}"] = involved.get(key, "")
    fields["reason"] = obj.get("reason", "")
    fields["reportingComponent"] = obj.get("reportingComponent", "")
    fields["source"] = obj.get("source", {}).get("component", "")
    fields["type"] = obj.get("type", "")
    return fields


def _pod_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    spec = obj.get("spec", {})
    pod_status = obj.get("status", {})
    ips = pod_status.get("podIPs") or []
    fields = _meta_fields(obj, True)
    fields["spec.nodeName"] = spec.get("nodeName", "")
    fields["spec.restartPolicy"] = spec.get("restartPolicy", "")
    fields["spec.schedulerName"] = spec.get("schedulerName", "")
    fields["spec.serviceAccountName"] = spec.get("serviceAccountName", "")
    fields["spec.hostNetwork"] = "true" if spec.get("hostNetwork") else "false"
    fields["status.phase"] = pod_status.get("phase", "")
    fields["status.podIP"] = pod_status.get("podIP", "")
    fields["status.podIPs"] = ips[0].get("ip", "") if ips and isinstance(ips[0], dict) else ""
    fields["status.nominatedNodeName"] = pod_status.get("nominatedNodeName", "")
    return fields


# -- the resource type -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource and the registry strategy that governs it."""

    group: str
    version: str
    resource: str  # plural, as in URLs
    kind: str
    singular: str
    short_names: tuple[str, ...]
    namespaced: bool
    verbs: tuple[str, ...]
    schema: Struct
    storage_version_hash: str
    allow_create_on_update: bool
    allow_unconditional_update: bool
    validate: Callable[[Mapping[str, Any]], list[FieldError]]
    validate_update: Callable[[Mapping[str, Any], Mapping[str, Any]], list[FieldError]]
    columns: tuple[Column, ...]
    row: Callable[[Mapping[str, Any]], list[Any]]
    selectable_fields: Callable[[Mapping[str, Any]], dict[str, str]]
    # Field selector labels a registered conversion accepts; None means apimachinery's default
    # conversion (metadata.name and metadata.namespace, with its own error wording).
    field_labels: frozenset[str] | None = None
    prepare_for_create: Callable[[dict[str, Any]], None] = _nothing
    prepare_for_update: Callable[[dict[str, Any], Mapping[str, Any]], None] = _nothing_update
    categories: tuple[str, ...] = ()
    group_resource: GroupResource = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "group_resource", GroupResource(self.group, self.resource))

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def path_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def convert_field_label(self, label: str, value: str) -> tuple[str, str]:
        """The scheme's field label conversion; raises ``ValueError`` with upstream's text."""
        if self.field_labels is None:
            if label in ("metadata.name", "metadata.namespace"):
                return label, value
            raise ValueError(
                f'"{label}" is not a known field selector: only "metadata.name", '
                '"metadata.namespace"'
            )
        if label in self.field_labels:
            return label, value
        raise ValueError(f"field label not supported: {label}")

    def table_row(self, obj: Mapping[str, Any]) -> list[Any]:
        return self.row(obj)

    def storage_key(self, namespace: str, name: str) -> str:
        """The etcd key kube-apiserver would use (it appears in precondition messages)."""
        if self.namespaced:
            return f"/registry/{self.resource}/{namespace}/{name}"
        return f"/registry/{self.resource}/{name}"


_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

LEASES = ResourceType(
    group="coordination.k8s.io",
    version="v1",
    resource="leases",
    kind="Lease",
    singular="lease",
    short_names=(),
    namespaced=True,
    verbs=_ALL_VERBS,
    schema=LEASE,
    storage_version_hash="gqkMMb/YqFs=",
    allow_create_on_update=True,
    allow_unconditional_update=False,
    validate=_validate_lease,
    validate_update=_validate_lease_update,
    columns=(
        _NAME,
        Column(
            "Holder",
            "string",
            "holderIdentity contains the identity of the holder of a current lease. If Coordinated "
            "Leader Election is used, the holder identity must be equal to the elected "
            "LeaseCandidate.metadata.name field.",
        ),
        _AGE,
    ),
    row=_lease_row,
    selectable_fields=lambda obj: _meta_fields(obj, True),
)

CONFIGMAPS = ResourceType(
    group="",
    version="v1",
    resource="configmaps",
    kind="ConfigMap",
    singular="configmap",
    short_names=("cm",),
    namespaced=True,
    verbs=_ALL_VERBS,
    schema=CONFIG_MAP,
    storage_version_hash="qFsyl6wFWjQ=",
    allow_create_on_update=False,
    allow_unconditional_update=True,
    validate=_validate_config_map,
    validate_update=_validate_config_map_update,
    columns=(
        _NAME,
        Column(
            "Data",
            "string",
            "Data contains the configuration data. Each key must consist of alphanumeric "
            "characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the "
            "BinaryData field. The keys stored in Data must not overlap with the keys in the "
            "BinaryData field, this is enforced during validation process.",
        ),
        _AGE,
    ),
    row=_configmap_row,
    selectable_fields=lambda obj: _meta_fields(obj, True),
)

NAMESPACES = ResourceType(
    group="",
    version="v1",
    resource="namespaces",
    kind="Namespace",
    singular="namespace",
    short_names=("ns",),
    namespaced=False,
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    schema=NAMESPACE,
    storage_version_hash="Q3oi5N2YM8M=",
    allow_create_on_update=False,
    allow_unconditional_update=True,
    validate=_validate_namespace,
    validate_update=_validate_namespace_update,
    columns=(_NAME, Column("Status", "string", "The status of the namespace"), _AGE),
    row=_namespace_row,
    selectable_fields=lambda obj: {
        "metadata.name": obj["metadata"].get("name", ""),
        "status.phase": obj.get("status", {}).get("phase", ""),
    },
    field_labels=frozenset({"metadata.name", "status.phase"}),
    prepare_for_create=_prepare_namespace,
    prepare_for_update=_prepare_namespace_update,
)

EVENTS = ResourceType(
    group="",
    version="v1",
    resource="events",
    kind="Event",
    singular="event",
    short_names=("ev",),
    namespaced=True,
    verbs=_ALL_VERBS,
    schema=EVENT,
    storage_version_hash="r2yiGXH7wu8=",
    allow_create_on_update=True,
    allow_unconditional_update=True,
    validate=_validate_event,
    validate_update=_validate_event_update,
    columns=(
        Column(
            "Last Seen",
            "string",
            "The time at which the most recent occurrence of this event was recorded.",
        ),
        Column(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future",
        ),
        Column(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the "
            "transition into the object's current status.",
        ),
        Column("Object", "string", "The object that this event is about."),
        Column(
            "Subobject",
            "string",
            "If referring to a piece of an object instead of an entire object, this string should "
            "contain a valid JSON/Go field access statement, such as "
            "desiredState.manifest.containers[2].",
            priority=1,
        ),
        Column(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
            priority=1,
        ),
        Column(
            "Message", "string", "A human-readable description of the status of this operation."
        ),
        Column(
            "First Seen",
            "string",
            "The time at which the event was first recorded. (Time of server receipt is in "
            "TypeMeta.)",
            priority=1,
        ),
        Column("Count", "string", "The number of times this event has occurred.", priority=1),
        Column("Name", "string", _NAME_DOC, format="name", priority=1),
    ),
    row=_event_row,
    selectable_fields=_event_fields,
    field_labels=frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "metadata.namespace",
            "metadata.name",
        }
    ),
)

PODS = ResourceType(
    group="",
    version="v1",
    resource="pods",
    kind="Pod",
    singular="pod",
    short_names=("po",),
    namespaced=True,
    verbs=_ALL_VERBS,
    schema=POD,
    storage_version_hash="xPOwRZ+Yhw8=",
    allow_create_on_update=False,
    allow_unconditional_update=True,
    validate=_validate_pod,
    validate_update=_validate_pod_update,
    columns=(
        _NAME,
        Column(
            "Ready", "string", "The aggregate readiness state of this pod for accepting traffic."
        ),
        Column(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
        ),
        Column(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the "
            "last container in this pod has restarted.",
        ),
        _AGE,
        Column(
            "IP",
            "string",
            "IP address allocated to the pod. Routable at least within the "
            "cluster. Empty if not yet allocated.",
            priority=1,
        ),
        Column(
            "Node",
            "string",
            "NodeName is a request to schedule this pod onto a specific node.",
            priority=1,
        ),
        Column(
            "Nominated Node",
            "string",
            "nominatedNodeName is set only when this pod preempts other pods on the node.",
            priority=1,
        ),
        Column(
            "Readiness Gates",
            "string",
            "If specified, all readiness gates will be evaluated for pod readiness.",
            priority=1,
        ),
    ),
    row=_pod_row,
    selectable_fields=_pod_fields,
    field_labels=frozenset(
        {
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        }
    ),
    prepare_for_create=_prepare_pod,
    prepare_for_update=_prepare_pod_update,
    categories=("all",),
)

RESOURCES: tuple[ResourceType, ...] = (LEASES, CONFIGMAPS, NAMESPACES, EVENTS, PODS)

_BY_PATH = {(r.group, r.version, r.resource): r for r in RESOURCES}
_BY_NAME: dict[str, ResourceType] = {}
for _r in RESOURCES:
    for _alias in (_r.resource, _r.singular, _r.kind, _r.kind.lower(), *_r.short_names):
        _BY_NAME[_alias] = _r


def resource_by_path(group: str, version: str, resource: str) -> ResourceType | None:
    """The resource served at ``/apis/{group}/{version}/{resource}`` (or ``/api/v1/...``)."""
    return _BY_PATH.get((group, version, resource))


def resource_by_name(name: str) -> ResourceType:
    """Look up by plural, singular, kind or short name (``leases``, ``Lease``, ``cm``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(r.resource for r in RESOURCES)
        raise ValueError(f"unknown resource {name!r}; served resources: {known}") from None


def served_groups() -> Sequence[tuple[str, str]]:
    """(group, version) pairs served under ``/apis``."""
    return sorted({(r.group, r.version) for r in RESOURCES if r.group})
