"""Authentication and RBAC authorization for the embedded server, as kube-apiserver does them.

Authentication follows kube-apiserver's authenticator chain: a verified TLS client certificate
(CN = user, O = groups) is tried first, then the ``Authorization: Bearer`` token; whoever
succeeds first wins. A token that is presented but unknown is a 401. A request that carries no
credentials kube-apiserver recognises (no header, another scheme such as ``Basic``, ``Bearer``
with an empty token) is ``system:anonymous`` while anonymous authentication is on, the
kube-apiserver default. Every authenticated user is also in ``system:authenticated``.

Authorization is RBAC over Role / ClusterRole / RoleBinding / ClusterRoleBinding objects
(loadable from YAML such as ``rbac/role.yaml``), evaluated rule by rule as
``plugin/pkg/auth/authorizer/rbac`` does, after the privileged-group check that lets
``system:masters`` do everything. The defaults every cluster bootstraps are present
(``cluster-admin``, ``system:discovery``, ``system:basic-user``, ``system:public-info-viewer``)
so discovery works for a restricted user, as kubectl needs.

The 401 and 403 bodies are worded as kube-apiserver words them: see ``forbidden_message`` and
``forbidden_status``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import yaml

from leader_election.errors import ConfigurationError

__all__ = [
    "ALL_AUTHENTICATED",
    "ALL_UNAUTHENTICATED",
    "ANONYMOUS",
    "SYSTEM_MASTERS",
    "AllowAll",
    "AuthenticationFailed",
    "Authenticator",
    "Authorizer",
    "Decision",
    "RBACAuthorizer",
    "RequestAttributes",
    "UserInfo",
    "forbidden_details",
    "forbidden_message",
    "forbidden_status",
    "service_account_groups",
    "service_account_username",
    "unauthorized_status",
]

SYSTEM_MASTERS = "system:masters"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
_ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
_SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
_RBAC_GROUP = "rbac.authorization.k8s.io"
_RBAC_API_VERSION = _RBAC_GROUP + "/v1"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated (or anonymous) user: name and groups, as kube-apiserver sees them."""

    name: str
    groups: tuple[str, ...] = ()


ANONYMOUS = UserInfo("system:anonymous", (ALL_UNAUTHENTICATED,))


def service_account_username(namespace: str, name: str) -> str:
    """The user name a service account's token authenticates as:
    ``system:serviceaccount:NAMESPACE:NAME``."""
    return f"{_SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """The groups of every service account in ``namespace`` (``system:authenticated`` is added
    at authentication, as for any user)."""
    return (_ALL_SERVICE_ACCOUNTS, f"{_ALL_SERVICE_ACCOUNTS}:{namespace}")


# -- authentication ------------------------------------------------------------------------


class AuthenticationFailed(Exception):
    """The credentials were presented but not accepted: the server answers 401 Unauthorized.

    The message says why, for logs; the 401 body itself only ever says ``Unauthorized``
    (``unauthorized_status()``), as kube-apiserver's does.
    """


def _with_authenticated_group(user: UserInfo) -> UserInfo:
    # kube-apiserver's AuthenticatedGroupAdder: every authenticated user is in
    # system:authenticated, appended last, unless the user already claims either group.
    if user.name == ANONYMOUS.name:
        return user
    if ALL_AUTHENTICATED in user.groups or ALL_UNAUTHENTICATED in user.groups:
        return user
    return UserInfo(user.name, (*user.groups, ALL_AUTHENTICATED))


def _user_from_certificate(client_cert: Mapping[str, Any] | None) -> UserInfo | None:
    """CommonNameUserConversion: CN is the user, each O a group; no CN means no opinion."""
    if not client_cert:
        # getpeercert() is {} for a certificate the context did not verify: not an identity.
        return None
    common_name = ""
    organizations: list[str] = []
    for rdn in client_cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                # Go's pkix.Name keeps the last CN of the sequence.
                common_name = value
            elif key == "organizationName":
                organizations.append(value)
    if not common_name:
        return None
    return UserInfo(common_name, tuple(organizations))


def _bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, parsed as the bearertoken
    authenticator parses it; ``None`` when the header carries no bearer token at all."""
    if authorization is None:
        return None
    header = authorization.strip()
    if not header:
        return None
    # SplitN(auth, " ", 3): anything after a second space is ignored; a double space
    # leaves an empty token, which is "no token", not a bad one.
    parts = header.split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return None
    return parts[1] or None


class Authenticator:
    """Maps a request's credentials (client certificate, bearer token) to a ``UserInfo``.

    Args:
        anonymous: kube-apiserver's ``--anonymous-auth`` (on by default there too). When
            false, a request without credentials is a 401 instead of ``system:anonymous``.

    Thread-safe: the server authenticates from many threads while tests add tokens.
    """

    def __init__(self, *, anonymous: bool = True) -> None:
        self._anonymous = anonymous
        self._tokens: dict[str, UserInfo] = {}
        self._lock = threading.Lock()

    @property
    def anonymous(self) -> bool:
        """Whether requests without credentials are ``system:anonymous`` (else 401)."""
        return self._anonymous

    def add_token(self, token: str, user: str, groups: Sequence[str] = ()) -> None:
        """Accept ``token`` as ``user`` (members of ``groups`` and ``system:authenticated``).

        Raises ``ConfigurationError`` for an empty token, one with whitespace (it could not
        travel in an ``Authorization`` header), an empty user name or a bare string as groups.
        """
        if not token or any(ch.isspace() for ch in token):
            raise ConfigurationError(
                f"token={token!r} cannot be sent as 'Authorization: Bearer <token>': a bearer "
                "token must be non-empty and contain no whitespace",
                option="token",
                value=token,
            )
        if not user:
            raise ConfigurationError(
                "user='' is not a user name: kube-apiserver never authenticates an empty name",
                option="user",
                value=user,
            )
        if isinstance(groups, str):
            raise ConfigurationError(
                f"groups={groups!r} is a string; pass a list of group names, e.g. [{groups!r}]",
                option="groups",
                value=groups,
            )
        info = _with_authenticated_group(UserInfo(user, tuple(groups)))
        with self._lock:
            self._tokens[token] = info

    def remove_token(self, token: str) -> None:
        """Stop accepting ``token``; later requests with it get 401."""
        with self._lock:
            self._tokens.pop(token, None)

    def authenticate(
        self, authorization: str | None, client_cert: Mapping[str, Any] | None
    ) -> UserInfo:
        """Return the user for an ``Authorization`` header value and a verified peer certificate.

        ``client_cert`` is ``ssl.SSLSocket.getpeercert()`` of a certificate the server's CA
        verified, or ``None``. As in kube-apiserver, the certificate is tried first: a
        certificate with a CN authenticates even when the header holds a token. Raises
        ``AuthenticationFailed`` for an unknown bearer token, and for a request without
        credentials when anonymous authentication is off; otherwise such a request is
        ``ANONYMOUS``.
        """
        # 1. x509: kube-apiserver's union authenticator tries the client certificate first
        #    and returns the first success, so a token beside a valid certificate is unused.
        cert_user = _user_from_certificate(client_cert)
        if cert_user is not None:
            return _with_authenticated_group(cert_user)
        # 2. Bearer token: present but unknown is an error, never anonymous.
        token = _bearer_token(authorization)
        if token is not None:
            with self._lock:
                user = self._tokens.get(token)
            if user is None:
                raise AuthenticationFailed("invalid bearer token")
            return user
        # 3. Nothing recognisable: anonymous, or 401 when anonymous auth is off.
        if self._anonymous:
            return ANONYMOUS
        raise AuthenticationFailed("no credentials and anonymous authentication is disabled")


def unauthorized_status() -> dict[str, Any]:
    """The 401 ``Status`` body kube-apiserver sends for every authentication failure."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


# -- request attributes and the authorizer interface ---------------------------------------


@dataclass(frozen=True, slots=True)
class RequestAttributes:
    """What RBAC decides on: kube-apiserver's authorizer.Attributes, reduced to our needs."""

    user: UserInfo
    verb: str  # get list watch create update patch delete deletecollection
    api_group: str = ""  # "" for the core group
    resource: str = ""  # plural: "leases", "configmaps", "namespaces", "events"
    namespace: str = ""  # "" for cluster-scoped resources and non-resource requests
    name: str = ""  # "" for list, watch without a name, create, deletecollection
    subresource: str = ""
    resource_request: bool = True
    path: str = ""  # the URL path, for non-resource requests (/api, /version, ...)


class Authorizer(Protocol):
    """Decides whether a request is allowed."""

    def authorize(self, attrs: RequestAttributes) -> bool: ...


class AllowAll:
    """The authorizer of a server without RBAC: everything is allowed."""

    def authorize(self, attrs: RequestAttributes) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Decision:
    """An RBAC decision. ``reason`` is what kube-apiserver appends to a 403 message: empty, or
    the errors met while resolving the user's bindings (``RBAC: role.rbac.authorization.k8s.io
    "x" not found``)."""

    allowed: bool
    reason: str = ""


# -- RBAC objects ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    def allows(self, attrs: RequestAttributes) -> bool:
        """RuleAllows: every part of the rule must match the request."""
        if not _verb_matches(self, attrs.verb):
            return False
        if not attrs.resource_request:
            return _non_resource_url_matches(self, attrs.path)
        combined = attrs.resource
        if attrs.subresource:
            combined = f"{attrs.resource}/{attrs.subresource}"
        return (
            _api_group_matches(self, attrs.api_group)
            and _resource_matches(self, combined, attrs.subresource)
            and _resource_name_matches(self, attrs.name)
        )


def _verb_matches(rule: _Rule, verb: str) -> bool:
    return any(v in ("*", verb) for v in rule.verbs)


def _api_group_matches(rule: _Rule, group: str) -> bool:
    return any(g in ("*", group) for g in rule.api_groups)


def _resource_matches(rule: _Rule, combined: str, subresource: str) -> bool:
    for resource in rule.resources:
        if resource in ("*", combined):
            return True
        # "*/status" matches the status subresource of every resource, nothing else.
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def _resource_name_matches(rule: _Rule, name: str) -> bool:
    # No names means every name. With names, a request without one (create, list, watch,
    # deletecollection) never matches: kube cannot restrict those by resourceNames.
    return not rule.resource_names or name in rule.resource_names


def _non_resource_url_matches(rule: _Rule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Role:
    kind: str  # "Role" or "ClusterRole"
    namespace: str  # "" for a ClusterRole
    name: str
    rules: tuple[_Rule, ...]


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: str  # "User", "Group" or "ServiceAccount"
    name: str
    namespace: str = ""

    def applies_to(self, user: UserInfo, binding_namespace: str) -> bool:
        """appliesToUser: a ServiceAccount subject without a namespace means the binding's."""
        if self.kind == "User":
            return user.name == self.name
        if self.kind == "Group":
            return self.name in user.groups
        if self.kind == "ServiceAccount":
            namespace = self.namespace or binding_namespace
            if not namespace:
                return False
            return user.name == service_account_username(namespace, self.name)
        return False


@dataclass(frozen=True, slots=True)
class _Binding:
    kind: str  # "RoleBinding" or "ClusterRoleBinding"
    namespace: str  # "" for a ClusterRoleBinding
    name: str
    role_kind: str  # "Role" or "ClusterRole"
    role_name: str
    subjects: tuple[_Subject, ...]


_RBACObject: TypeAlias = "_Role | _Binding"

# The rbac.authorization.k8s.io kinds ``load`` reads; every other kind is skipped.
_RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def _bootstrap_objects() -> list[_RBACObject]:
    """The defaults kube-apiserver bootstraps (plugin/pkg/auth/authorizer/rbac/bootstrappolicy)
    that matter to a client: full power for system:masters, discovery for every authenticated
    user, health and version for everyone."""
    discovery_urls = (
        "/livez",
        "/readyz",
        "/healthz",
        "/version",
        "/version/",
        "/openapi",
        "/openapi/*",
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
    )
    public_urls = ("/livez", "/readyz", "/healthz", "/version", "/version/")
    roles = [
        _Role(
            "ClusterRole",
            "",
            "cluster-admin",
            (
                _Rule(verbs=("*",), api_groups=("*",), resources=("*",)),
                _Rule(verbs=("*",), non_resource_urls=("*",)),
            ),
        ),
        _Role(
            "ClusterRole",
            "",
            "system:discovery",
            (_Rule(("get",), non_resource_urls=discovery_urls),),
        ),
        _Role(
            "ClusterRole",
            "",
            "system:basic-user",
            (
                _Rule(
                    ("create",),
                    api_groups=("authorization.k8s.io",),
                    resources=("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
                ),
                _Rule(
                    ("create",),
                    api_groups=("authentication.k8s.io",),
                    resources=("selfsubjectreviews",),
                ),
            ),
        ),
        _Role(
            "ClusterRole",
            "",
            "system:public-info-viewer",
            (_Rule(("get",), non_resource_urls=public_urls),),
        ),
    ]

    def binding(name: str, *groups: str) -> _Binding:
        subjects = tuple(_Subject("Group", g) for g in groups)
        return _Binding("ClusterRoleBinding", "", name, "ClusterRole", name, subjects)

    bindings = [
        binding("cluster-admin", SYSTEM_MASTERS),
        # Since Kubernetes 1.14 discovery is for authenticated users only; health and
        # version stay public.
        binding("system:discovery", ALL_AUTHENTICATED),
        binding("system:basic-user", ALL_AUTHENTICATED),
        binding("system:public-info-viewer", ALL_AUTHENTICATED, ALL_UNAUTHENTICATED),
    ]
    return [*roles, *bindings]


# -- parsing and validation, worded as the API server's 422 --------------------------------

_SERVICE_ACCOUNT_NAME = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1123_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _go_value(value: object) -> str:
    """A field value as it appears in a field error: strings quoted, lists as JSON."""
    if isinstance(value, str):
        return _go_quote(value)
    return json.dumps(value)


class _FieldErrors:
    """Collects field errors and words them as apimachinery's field.Error does."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def required(self, path: str, detail: str = "") -> None:
        self.errors.append(f"{path}: Required value" + (f": {detail}" if detail else ""))

    def invalid(self, path: str, value: object, detail: str) -> None:
        self.errors.append(f"{path}: Invalid value: {_go_value(value)}: {detail}")

    def not_supported(self, path: str, value: object, supported: Sequence[str]) -> None:
        choices = ", ".join(_go_quote(s) for s in supported)
        self.errors.append(
            f"{path}: Unsupported value: {_go_value(value)}: supported values: {choices}"
        )

    def raise_if_any(self, kind: str, name: str, source: str) -> None:
        if not self.errors:
            return
        joined = self.errors[0] if len(self.errors) == 1 else "[" + ", ".join(self.errors) + "]"
        message = f"{kind}.{_RBAC_GROUP} {_go_quote(name)} is invalid: {joined}"
        if source:
            message = f"{source}: {message}"
        raise ConfigurationError(message, option="rbac", value=name)


def _string_list(
    obj: Mapping[str, Any], key: str, path: str, errors: _FieldErrors
) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        errors.invalid(f"{path}.{key}", value, "must be a list of strings")
        return ()
    if not all(isinstance(item, str) for item in value):
        errors.invalid(f"{path}.{key}", value, "must be a list of strings")
        return ()
    return tuple(value)


def _metadata(
    obj: Mapping[str, Any], namespaced: bool, default_namespace: str, errors: _FieldErrors
) -> tuple[str, str]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        errors.required("metadata.name", "name or generateName is required")
        name = ""
    elif name in (".", "..") or "/" in name or "%" in name:
        # path.IsValidPathSegmentName, the minimal name rule for RBAC objects.
        errors.invalid(
            "metadata.name", name, "may not be '.' or '..' and may not contain '/' or '%'"
        )
    namespace = ""
    if namespaced:
        raw = metadata.get("namespace")
        namespace = raw if isinstance(raw, str) and raw else default_namespace
    return name, namespace


def _parse_role(obj: Mapping[str, Any], kind: str, default_namespace: str, source: str) -> _Role:
    errors = _FieldErrors()
    namespaced = kind == "Role"
    name, namespace = _metadata(obj, namespaced, default_namespace, errors)
    raw_rules = obj.get("rules") or []
    if not isinstance(raw_rules, list):
        errors.invalid("rules", raw_rules, "must be a list of policy rules")
        raw_rules = []
    rules: list[_Rule] = []
    for index, raw in enumerate(raw_rules):
        path = f"rules[{index}]"
        if not isinstance(raw, Mapping):
            errors.invalid(path, raw, "must be a policy rule (a mapping)")
            continue
        rule = _Rule(
            verbs=_string_list(raw, "verbs", path, errors),
            api_groups=_string_list(raw, "apiGroups", path, errors),
            resources=_string_list(raw, "resources", path, errors),
            resource_names=_string_list(raw, "resourceNames", path, errors),
            non_resource_urls=_string_list(raw, "nonResourceURLs", path, errors),
        )
        # validatePolicyRule
        if not rule.verbs:
            errors.required(f"{path}.verbs", "verbs must contain at least one value")
        if rule.non_resource_urls:
            if namespaced:
                errors.invalid(
                    f"{path}.nonResourceURLs",
                    list(rule.non_resource_urls),
                    "namespaced rules cannot apply to non-resource URLs",
                )
            if rule.api_groups or rule.resources or rule.resource_names:
                errors.invalid(
                    f"{path}.nonResourceURLs",
                    list(rule.non_resource_urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
        else:
            if not rule.api_groups:
                errors.required(
                    f"{path}.apiGroups", "resource rules must supply at least one api group"
                )
            if not rule.resources:
                errors.required(
                    f"{path}.resources", "resource rules must supply at least one resource"
                )
        rules.append(rule)
    errors.raise_if_any(kind, name, source)
    return _Role(kind, namespace, name, tuple(rules))


def _parse_binding(
    obj: Mapping[str, Any], kind: str, default_namespace: str, source: str
) -> _Binding:
    errors = _FieldErrors()
    namespaced = kind == "RoleBinding"
    name, namespace = _metadata(obj, namespaced, default_namespace, errors)

    role_ref = obj.get("roleRef")
    if not isinstance(role_ref, Mapping):
        role_ref = {}
    # Defaulting (SetDefaults_*Binding) fills the API group before validation.
    ref_group = role_ref.get("apiGroup") or _RBAC_GROUP
    ref_kind = role_ref.get("kind") or ""
    ref_name = role_ref.get("name") or ""
    if ref_group != _RBAC_GROUP:
        errors.not_supported("roleRef.apiGroup", ref_group, [_RBAC_GROUP])
    allowed_kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref_kind not in allowed_kinds:
        errors.not_supported("roleRef.kind", ref_kind, allowed_kinds)
    if not ref_name:
        errors.required("roleRef.name")

    raw_subjects = obj.get("subjects") or []
    if not isinstance(raw_subjects, list):
        errors.invalid("subjects", raw_subjects, "must be a list of subjects")
        raw_subjects = []
    subjects: list[_Subject] = []
    for index, raw in enumerate(raw_subjects):
        path = f"subjects[{index}]"
        if not isinstance(raw, Mapping):
            errors.invalid(path, raw, "must be a subject (a mapping)")
            continue
        s_kind = raw.get("kind") or ""
        s_name = raw.get("name") or ""
        s_namespace = raw.get("namespace") or ""
        s_group = raw.get("apiGroup")
        if not s_name:
            errors.required(f"{path}.name")
        if s_kind == "ServiceAccount":
            if s_name and not _SERVICE_ACCOUNT_NAME.match(s_name):
                errors.invalid(f"{path}.name", s_name, _DNS1123_SUBDOMAIN_MESSAGE)
            if s_group:
                errors.not_supported(f"{path}.apiGroup", s_group, [""])
            if not namespaced and not s_namespace:
                errors.required(f"{path}.namespace")
        elif s_kind in ("User", "Group"):
            if (s_group or _RBAC_GROUP) != _RBAC_GROUP:
                errors.not_supported(f"{path}.apiGroup", s_group, [_RBAC_GROUP])
            # A namespace on a User or Group means nothing to the authorizer.
            s_namespace = ""
        else:
            errors.not_supported(f"{path}.kind", s_kind, ["ServiceAccount", "User", "Group"])
        subjects.append(_Subject(str(s_kind), str(s_name), str(s_namespace)))
    errors.raise_if_any(kind, name, source)
    return _Binding(kind, namespace, name, str(ref_kind), str(ref_name), tuple(subjects))


def _parse_object(obj: Mapping[str, Any], default_namespace: str, source: str) -> _RBACObject:
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    where = f"{source}: " if source else ""
    if kind not in _RBAC_KINDS:
        raise ConfigurationError(
            f"{where}kind={kind!r} is not an RBAC object; expected one of {', '.join(_RBAC_KINDS)}",
            option="rbac",
            value=kind,
        )
    if api_version != _RBAC_API_VERSION:
        raise ConfigurationError(
            f"{where}{kind} has apiVersion={api_version!r}; RBAC objects are "
            f"{_RBAC_API_VERSION!r} (v1beta1 and v1alpha1 were removed in Kubernetes 1.22)",
            option="rbac",
            value=api_version,
        )
    if kind in ("Role", "ClusterRole"):
        return _parse_role(obj, kind, default_namespace, source)
    return _parse_binding(obj, kind, default_namespace, source)


def _documents(loaded: Iterable[object]) -> Iterator[Mapping[str, Any]]:
    """Every object of a YAML stream, with ``kind: List`` (and ``RoleList`` ...) unpacked."""
    for doc in loaded:
        if not isinstance(doc, Mapping):
            continue
        kind = doc.get("kind")
        items = doc.get("items")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
            yield from _documents(items)
        else:
            yield doc


def _is_rbac_document(doc: Mapping[str, Any]) -> bool:
    """Whether ``load`` reads ``doc``: an RBAC kind that does not name another API group.

    A ``Role`` of some other group (a CRD) is not ours; an RBAC kind with a missing or wrong
    RBAC version is read so that its mistake is reported instead of silently skipped.
    """
    if doc.get("kind") not in _RBAC_KINDS:
        return False
    api_version = doc.get("apiVersion")
    if not isinstance(api_version, str) or "/" not in api_version:
        return True
    return api_version.split("/", 1)[0] == _RBAC_GROUP


def _read_source(source: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, description) for a path or YAML text."""
    if isinstance(source, str) and (
        "\n" in source or ": " in source or source.lstrip().startswith("{")
    ):
        return source, ""
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"rbac={str(source)!r}: no such file; pass the path of a YAML file of Roles and "
            "bindings (e.g. rbac/role.yaml) or the YAML text itself",
            option="rbac",
            value=str(source),
        ) from exc


# -- the authorizer --------------------------------------------------------------------------


class RBACAuthorizer:
    """RBAC as kube-apiserver evaluates it, over Roles and bindings loaded from YAML or dicts.

    Adding an object with the kind, namespace and name of one already held replaces it, as
    ``kubectl apply`` would. Thread-safe: the server authorizes from many threads while tests
    load roles.

    Args:
        defaults: start with the bindings every cluster bootstraps (``cluster-admin`` for
            ``system:masters``, discovery, health, version, self-subject reviews).
    """

    def __init__(self, *, defaults: bool = True) -> None:
        self._lock = threading.Lock()
        self._roles: dict[tuple[str, str], _Role] = {}
        self._cluster_roles: dict[str, _Role] = {}
        self._role_bindings: dict[str, dict[str, _Binding]] = {}
        self._cluster_role_bindings: dict[str, _Binding] = {}
        self._generated = 0
        if defaults:
            self._store(_bootstrap_objects())

    # -- loading ----------------------------------------------------------------------------
    def load(self, source: str | os.PathLike[str], *, namespace: str = "default") -> None:
        """Load Role, ClusterRole, RoleBinding and ClusterRoleBinding documents.

        ``source`` is a path to a YAML file (multi-document allowed) or YAML text. Other kinds
        in the file (ServiceAccount, Deployment, ...) are ignored; ``kind: List`` is unpacked.
        Namespaced objects without ``metadata.namespace`` go to ``namespace``, as with
        ``kubectl apply -n``. All or nothing: raises ``ConfigurationError`` (worded as the API
        server's 422) before storing anything when one object is invalid.
        """
        text, description = _read_source(source)
        try:
            loaded = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            where = description or "the rbac YAML text"
            raise ConfigurationError(
                f"{where} is not valid YAML: {exc}", option="rbac", value=description or text
            ) from exc
        objects = [
            _parse_object(doc, namespace, description)
            for doc in _documents(loaded)
            if _is_rbac_document(doc)
        ]
        self._store(objects)

    def add(self, obj: Mapping[str, Any], *, namespace: str = "default") -> None:
        """Add one Role / ClusterRole / RoleBinding / ClusterRoleBinding given as a dict.

        Raises ``ConfigurationError`` for another kind or an invalid object.
        """
        self._store([_parse_object(obj, namespace, "")])

    def bind(
        self,
        role: str,
        *,
        namespace: str | None,
        user: str | None = None,
        group: str | None = None,
        service_account: str | None = None,
        cluster_role: bool | None = None,
    ) -> None:
        """Bind a loaded Role (``namespace`` set) or ClusterRole (``namespace=None``) to a subject.

        ``service_account`` is ``"namespace:name"`` and matches the user
        ``system:serviceaccount:namespace:name``. ``cluster_role=True`` with a namespace binds
        a ClusterRole inside that namespace only, as a RoleBinding to a ClusterRole does.
        Raises ``ConfigurationError`` unless exactly one subject is given and the role is
        loaded.
        """
        given = [
            (k, v)
            for k, v in (("user", user), ("group", group), ("service_account", service_account))
            if v
        ]
        if len(given) != 1:
            raise ConfigurationError(
                f"bind({role!r}) needs exactly one of user=, group=, service_account=; got "
                f"{', '.join(k for k, _ in given) or 'none'}",
                option="subject",
                value=dict(given),
            )
        option, value = given[0]
        if option == "service_account":
            sa_namespace, sep, sa_name = value.partition(":")
            if not sep or not sa_namespace or not sa_name or ":" in sa_name:
                raise ConfigurationError(
                    f"service_account={value!r} is not 'namespace:name' "
                    "(e.g. 'default:leader-election')",
                    option="service_account",
                    value=value,
                )
            subject = _Subject("ServiceAccount", sa_name, sa_namespace)
        else:
            subject = _Subject("User" if option == "user" else "Group", value)

        role_kind = "ClusterRole" if namespace is None or cluster_role else "Role"
        with self._lock:
            exists = (
                role in self._cluster_roles
                if role_kind == "ClusterRole"
                else (namespace or "", role) in self._roles
            )
            if not exists:
                where = f"Role {namespace}/{role}" if role_kind == "Role" else f"ClusterRole {role}"
                raise ConfigurationError(
                    f"bind({role!r}, namespace={namespace!r}) names {where}, which is not loaded; "
                    "load it first with rbac.load(...) or rbac.add(...)",
                    option="role",
                    value=role,
                )
            self._generated += 1
            binding_name = f"{role}-binding-{self._generated}"
            binding = _Binding(
                "RoleBinding" if namespace is not None else "ClusterRoleBinding",
                namespace or "",
                binding_name,
                role_kind,
                role,
                (subject,),
            )
            self._put(binding)

    def _store(self, objects: Iterable[_RBACObject]) -> None:
        with self._lock:
            for obj in objects:
                self._put(obj)

    def _put(self, obj: _RBACObject) -> None:
        # Called with the lock held.
        if isinstance(obj, _Role):
            if obj.kind == "Role":
                self._roles[(obj.namespace, obj.name)] = obj
            else:
                self._cluster_roles[obj.name] = obj
        elif obj.kind == "RoleBinding":
            self._role_bindings.setdefault(obj.namespace, {})[obj.name] = obj
        else:
            self._cluster_role_bindings[obj.name] = obj

    # -- deciding ---------------------------------------------------------------------------
    def _role_rules(self, binding: _Binding) -> tuple[tuple[_Rule, ...] | None, str]:
        """GetRoleReferenceRules: the bound role's rules, or the error a missing role gives."""
        if binding.role_kind == "Role":
            role = self._roles.get((binding.namespace, binding.role_name))
            if role is None:
                return None, f"role.{_RBAC_GROUP} {_go_quote(binding.role_name)} not found"
            return role.rules, ""
        cluster_role = self._cluster_roles.get(binding.role_name)
        if cluster_role is None:
            return None, f"clusterrole.{_RBAC_GROUP} {_go_quote(binding.role_name)} not found"
        return cluster_role.rules, ""

    def decide(self, attrs: RequestAttributes) -> Decision:
        """Allow or deny ``attrs``, with the reason kube-apiserver would append to the 403."""
        user = attrs.user
        # The privileged-group authorizer runs before RBAC: system:masters is never denied.
        if SYSTEM_MASTERS in user.groups:
            return Decision(True)
        errors: list[str] = []
        with self._lock:
            # VisitRulesFor: cluster role bindings first, then role bindings of the request's
            # namespace; the first rule that allows wins. Resolution errors only matter when
            # nothing allows.
            scopes: list[tuple[Iterable[_Binding], str]] = [
                (self._cluster_role_bindings.values(), "")
            ]
            if attrs.namespace:
                scopes.append(
                    (self._role_bindings.get(attrs.namespace, {}).values(), attrs.namespace)
                )
            for bindings, binding_namespace in scopes:
                for binding in bindings:
                    if not any(s.applies_to(user, binding_namespace) for s in binding.subjects):
                        continue
                    rules, error = self._role_rules(binding)
                    if rules is None:
                        errors.append(error)
                        continue
                    if any(rule.allows(attrs) for rule in rules):
                        return Decision(True)
        return Decision(False, _rbac_reason(errors))

    def authorize(self, attrs: RequestAttributes) -> bool:
        """True when some binding grants the verb; ``system:masters`` is always allowed."""
        return self.decide(attrs).allowed


def _rbac_reason(errors: Sequence[str]) -> str:
    """``RBAC: <aggregate>`` as utilerrors.NewAggregate words a list: one error alone, several
    deduplicated in brackets."""
    unique = list(dict.fromkeys(errors))
    if not unique:
        return ""
    if len(unique) == 1:
        return f"RBAC: {unique[0]}"
    return "RBAC: [" + ", ".join(unique) + "]"


# -- the 403 ----------------------------------------------------------------------------------


def _go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote) for the strings that appear in kube-apiserver messages."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\v":
            out.append("\\v")
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _sanitize(text: str) -> str:
    # kube-apiserver escapes what could read as HTML in the authorizer's part of the message.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _denial(attrs: RequestAttributes) -> str:
    """responsewriters.forbiddenMessage."""
    user = _go_quote(attrs.user.name)
    if not attrs.resource_request:
        return f"User {user} cannot {attrs.verb} path {_go_quote(attrs.path)}"
    resource = attrs.resource
    if attrs.subresource:
        resource = f"{resource}/{attrs.subresource}"
    target = f"resource {_go_quote(resource)} in API group {_go_quote(attrs.api_group)}"
    if attrs.namespace:
        scope = f"in the namespace {_go_quote(attrs.namespace)}"
    else:
        scope = "at the cluster scope"
    return f"User {user} cannot {attrs.verb} {target} {scope}"


def forbidden_message(attrs: RequestAttributes, reason: str = "") -> str:
    """kube-apiserver's 403 message, e.g. ``leases.coordination.k8s.io "x" is forbidden: User
    "u" cannot update resource "leases" in API group "coordination.k8s.io" in the namespace
    "default"``.

    ``reason`` is ``Decision.reason``; when set it follows the message after ``": "``, as
    kube-apiserver appends the authorizer's reason.
    """
    message = _sanitize(_denial(attrs))
    if reason:
        message = f"{message}: {reason}"
    # apierrors.NewForbidden: prefix with the qualified resource and the name when known.
    if not attrs.api_group and not attrs.resource:
        return f"forbidden: {message}"
    qualified = attrs.resource if not attrs.api_group else f"{attrs.resource}.{attrs.api_group}"
    if not attrs.name:
        return f"{qualified} is forbidden: {message}"
    return f"{qualified} {_go_quote(attrs.name)} is forbidden: {message}"


def forbidden_details(attrs: RequestAttributes) -> dict[str, str]:
    """The 403 ``Status.details``: ``name``, ``group`` and ``kind`` (the resource plural, not
    the Kind, as kube-apiserver fills it), each left out when empty."""
    details = {"name": attrs.name, "group": attrs.api_group, "kind": attrs.resource}
    return {key: value for key, value in details.items() if value}


def forbidden_status(attrs: RequestAttributes, reason: str = "") -> dict[str, Any]:
    """The whole 403 ``Status`` body kube-apiserver sends for a denied request."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": forbidden_message(attrs, reason),
        "reason": "Forbidden",
        "details": forbidden_details(attrs),
        "code": 403,
    }
