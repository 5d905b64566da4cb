"""Authentication, RBAC and the 401/403 wording, checked against kube-apiserver's own cases.

Tables marked "from rbac_test.go" / "from errors_test.go" are the cases of
plugin/pkg/auth/authorizer/rbac/rbac_test.go and
staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors_test.go.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leader_election.errors import ConfigurationError
from leader_election.testing.auth import (
    ANONYMOUS,
    AllowAll,
    AuthenticationFailed,
    Authenticator,
    RBACAuthorizer,
    RequestAttributes,
    UserInfo,
    forbidden_details,
    forbidden_message,
    forbidden_status,
    service_account_groups,
    service_account_username,
    unauthorized_status,
)

# -- helpers --------------------------------------------------------------------------------

ALICE = UserInfo("alice", ("system:authenticated",))


def cluster_role(name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": list(rules),
    }


def role(name: str, namespace: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": list(rules),
    }


def subject(spec: str) -> dict[str, str]:
    kind, _, name = spec.partition(":")
    if kind == "ServiceAccount":
        namespace, _, sa = name.partition(":")
        out = {"kind": kind, "name": sa}
        if namespace:
            out["namespace"] = namespace
        return out
    return {"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def cluster_role_binding(role_name: str, *subjects: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{role_name}-binding"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role_name,
        },
        "subjects": [subject(s) for s in subjects],
    }


def role_binding(namespace: str, role_kind: str, role_name: str, *subjects: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{role_name}-binding", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": [subject(s) for s in subjects],
    }


def rule(
    verbs: str,
    groups: str | None = None,
    resources: str | None = None,
    names: str | None = None,
    urls: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"verbs": verbs.split(",")}
    if groups is not None:
        out["apiGroups"] = groups.split(",")
    if resources is not None:
        out["resources"] = resources.split(",")
    if names is not None:
        out["resourceNames"] = names.split(",")
    if urls is not None:
        out["nonResourceURLs"] = urls.split(",")
    return out


def authorizer_with(*objects: dict[str, Any]) -> RBACAuthorizer:
    rbac = RBACAuthorizer(defaults=False)
    for obj in objects:
        rbac.add(obj)
    return rbac


def res(
    verb: str,
    group: str = "",
    resource: str = "",
    subresource: str = "",
    *,
    namespace: str = "",
    name: str = "",
    user: UserInfo = ALICE,
) -> RequestAttributes:
    return RequestAttributes(
        user=user,
        verb=verb,
        api_group=group,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
    )


def nonres(verb: str, path: str, user: UserInfo = ALICE) -> RequestAttributes:
    return RequestAttributes(user=user, verb=verb, resource_request=False, path=path)


# -- rule matching: from rbac_test.go TestRuleMatches ---------------------------------------

RULE_CASES = [
    (
        "star verb, exact match other",
        rule("*", "group1", "resource1"),
        [
            (res("verb1", "group1", "resource1"), True),
            (res("verb1", "group2", "resource1"), False),
            (res("verb1", "group1", "resource2"), False),
            (res("verb2", "group1", "resource1"), True),
            (res("verb2", "group2", "resource2"), False),
        ],
    ),
    (
        "star group, exact match other",
        rule("verb1", "*", "resource1"),
        [
            (res("verb1", "group1", "resource1"), True),
            (res("verb1", "group2", "resource1"), True),
            (res("verb1", "group1", "resource2"), False),
            (res("verb2", "group1", "resource1"), False),
        ],
    ),
    (
        "star resource, exact match other",
        rule("verb1", "group1", "*"),
        [
            (res("verb1", "group1", "resource1"), True),
            (res("verb1", "group2", "resource1"), False),
            (res("verb1", "group1", "resource2"), True),
            (res("verb2", "group1", "resource1"), False),
        ],
    ),
    (
        "tuple expansion",
        rule("verb1,verb2", "group1,group2", "resource1,resource2"),
        [
            (res(v, g, r), True)
            for v in ("verb1", "verb2")
            for g in ("group1", "group2")
            for r in ("resource1", "resource2")
        ],
    ),
    (
        "subresource expansion",
        rule("*", "*", "resource1/subresource1"),
        [
            (res("verb1", "group1", "resource1", "subresource1"), True),
            (res("verb1", "group2", "resource1", "subresource2"), False),
            (res("verb1", "group1", "resource2", "subresource1"), False),
            (res("verb2", "group1", "resource1", "subresource1"), True),
            # A rule for a subresource does not grant the resource itself ...
            (res("verb1", "group1", "resource1"), False),
        ],
    ),
    (
        "a resource rule does not grant its subresources",
        rule("*", "*", "pods"),
        [
            (res("get", "", "pods", namespace="ns1"), True),
            (res("get", "", "pods", "status", namespace="ns1"), False),
        ],
    ),
    (
        "star-slash-subresource matches that subresource of every resource",
        rule("get", "*", "*/status"),
        [
            (res("get", "", "pods", "status"), True),
            (res("get", "coordination.k8s.io", "leases", "status"), True),
            (res("get", "", "pods"), False),
            (res("get", "", "pods", "log"), False),
        ],
    ),
    (
        "the core group is the empty string, not a wildcard",
        rule("get", "", "configmaps"),
        [
            (res("get", "", "configmaps"), True),
            (res("get", "coordination.k8s.io", "configmaps"), False),
        ],
    ),
    (
        "star nonresource, exact match other",
        rule("verb1", urls="*"),
        [
            (nonres("verb1", "/foo"), True),
            (nonres("verb1", "/foo/bar/one"), True),
            (nonres("verb2", "/foo"), False),
        ],
    ),
    (
        "star nonresource subpath",
        rule("verb1", urls="/foo/*"),
        [
            (nonres("verb1", "/foo"), False),
            (nonres("verb1", "/foo/bar"), True),
            (nonres("verb1", "/foo/baz/one"), True),
            (nonres("verb1", "/notfoo"), False),
            (nonres("verb1", "/notfoo/bar"), False),
        ],
    ),
    (
        "star verb, exact nonresource",
        rule("*", urls="/foo,/foo/bar/one"),
        [
            (nonres("verb1", "/foo"), True),
            (nonres("verb1", "/foo/bar"), False),
            (nonres("verb1", "/foo/bar/one"), True),
            (nonres("verb2", "/foo/baz/one"), False),
        ],
    ),
    (
        "a trailing star is a plain prefix, not a path segment",
        rule("get", urls="/healthz*"),
        [
            (nonres("get", "/healthz"), True),
            (nonres("get", "/healthz/etcd"), True),
            (nonres("get", "/healthzfoo"), True),
        ],
    ),
    (
        "a resource rule never grants a non-resource path",
        rule("*", "*", "*"),
        [(nonres("get", "/api"), False), (res("get", "x", "y"), True)],
    ),
]


@pytest.mark.parametrize(
    ("rule_spec", "request_attrs", "expected"),
    [
        pytest.param(spec, attrs, expected, id=f"{name} [{i}]")
        for name, spec, cases in RULE_CASES
        for i, (attrs, expected) in enumerate(cases)
    ],
)
def test_rule_matching(
    rule_spec: dict[str, Any], request_attrs: RequestAttributes, expected: bool
) -> None:
    rbac = authorizer_with(cluster_role("r", rule_spec), cluster_role_binding("r", "User:alice"))
    assert rbac.authorize(request_attrs) is expected


# -- resourceNames: as a real cluster evaluates them ----------------------------------------

LEASE = "coordination.k8s.io"


@pytest.mark.parametrize(
    ("verb", "name", "expected"),
    [
        ("get", "my-lease", True),
        ("update", "my-lease", True),
        ("patch", "my-lease", True),
        ("get", "other-lease", False),
        # Requests without a name can never match a rule that lists names.
        ("create", "", False),
        ("list", "", False),
        ("watch", "", False),
        ("deletecollection", "", False),
        # A watch of one object (fieldSelector metadata.name=...) carries the name.
        ("watch", "my-lease", True),
    ],
)
def test_resource_names_only_match_requests_that_carry_the_name(
    verb: str, name: str, expected: bool
) -> None:
    rbac = authorizer_with(
        role(
            "le",
            "default",
            rule(
                "get,list,watch,create,update,patch,deletecollection",
                LEASE,
                "leases",
                names="my-lease",
            ),
        ),
        role_binding("default", "Role", "le", "User:alice"),
    )
    attrs = res(verb, LEASE, "leases", namespace="default", name=name)
    assert rbac.authorize(attrs) is expected


def test_create_is_granted_by_a_separate_rule_without_names() -> None:
    # The shape kube's own kube-scheduler role uses: create unrestricted, the rest by name.
    rbac = authorizer_with(
        role(
            "le",
            "default",
            rule("create", LEASE, "leases"),
            rule("get,update", LEASE, "leases", names="my-lease"),
        ),
        role_binding("default", "Role", "le", "User:alice"),
    )
    assert rbac.authorize(res("create", LEASE, "leases", namespace="default"))
    assert rbac.authorize(res("update", LEASE, "leases", namespace="default", name="my-lease"))
    assert not rbac.authorize(res("update", LEASE, "leases", namespace="default", name="x"))


# -- bindings: from rbac_test.go TestAuthorizer, plus namespaces -----------------------------


def test_role_binding_to_cluster_role_grants_only_in_its_namespace() -> None:
    rbac = authorizer_with(
        cluster_role("admin", rule("*", "*", "*")),
        role_binding("ns1", "ClusterRole", "admin", "User:admin", "Group:admins"),
    )
    admin = UserInfo("admin")
    joe_admins = UserInfo("joe", ("group1", "admins"))
    assert rbac.authorize(res("get", "", "Pods", namespace="ns1", user=admin))
    assert rbac.authorize(res("watch", "", "Foobar", namespace="ns1", user=joe_admins))
    assert not rbac.authorize(res("get", "", "Pods", namespace="ns2", user=admin))
    # Cluster-scoped requests never see role bindings.
    assert not rbac.authorize(res("get", "", "Nodes", user=admin))


def test_cluster_role_binding_grants_in_every_namespace_and_cluster_wide() -> None:
    rbac = authorizer_with(
        cluster_role("reader", rule("get", "", "namespaces,configmaps")),
        cluster_role_binding("reader", "Group:readers"),
    )
    reader = UserInfo("bob", ("readers",))
    assert rbac.authorize(res("get", "", "configmaps", namespace="ns1", user=reader))
    assert rbac.authorize(res("get", "", "configmaps", namespace="ns2", user=reader))
    assert rbac.authorize(res("get", "", "namespaces", name="ns1", user=reader))
    assert not rbac.authorize(res("get", "", "configmaps", namespace="ns1", user=ALICE))


def test_role_lives_in_one_namespace() -> None:
    rbac = authorizer_with(
        role("le", "team-a", rule("get", LEASE, "leases")),
        role_binding("team-a", "Role", "le", "User:alice"),
        # A binding elsewhere naming the same Role does not reach team-a's Role.
        role_binding("team-b", "Role", "le", "User:alice"),
    )
    assert rbac.authorize(res("get", LEASE, "leases", namespace="team-a"))
    assert not rbac.authorize(res("get", LEASE, "leases", namespace="team-b"))


SA_USER = UserInfo(
    service_account_username("default", "leader-election"),
    (*service_account_groups("default"), "system:authenticated"),
)


@pytest.mark.parametrize(
    ("subject_spec", "binding_namespace", "request_namespace", "expected"),
    [
        ("ServiceAccount:default:leader-election", "default", "default", True),
        # No namespace on the subject: the binding's namespace is meant.
        ("ServiceAccount::leader-election", "default", "default", True),
        ("ServiceAccount:other:leader-election", "default", "default", False),
        ("ServiceAccount:default:someone-else", "default", "default", False),
        ("Group:system:serviceaccounts", "default", "default", True),
        ("Group:system:serviceaccounts:default", "default", "default", True),
        ("Group:system:serviceaccounts:kube-system", "default", "default", False),
        ("User:system:serviceaccount:default:leader-election", "default", "default", True),
        # A role binding in another namespace grants nothing here.
        ("ServiceAccount:default:leader-election", "kube-system", "default", False),
    ],
)
def test_service_account_subjects(
    subject_spec: str, binding_namespace: str, request_namespace: str, expected: bool
) -> None:
    rbac = authorizer_with(
        cluster_role("le", rule("get", LEASE, "leases")),
        role_binding(binding_namespace, "ClusterRole", "le", subject_spec),
    )
    attrs = res("get", LEASE, "leases", namespace=request_namespace, name="x", user=SA_USER)
    assert rbac.authorize(attrs) is expected


def test_service_account_names_are_built_as_kube_builds_them() -> None:
    assert service_account_username("ns", "sa") == "system:serviceaccount:ns:sa"
    assert service_account_groups("ns") == ("system:serviceaccounts", "system:serviceaccounts:ns")


def test_system_masters_may_do_anything_without_any_binding() -> None:
    rbac = RBACAuthorizer(defaults=False)
    root = UserInfo("root", ("system:masters",))
    assert rbac.authorize(res("delete", "", "namespaces", name="kube-system", user=root))
    assert rbac.authorize(nonres("post", "/anything", user=root))


def test_binding_to_a_missing_role_denies_with_kube_apiserver_reason() -> None:
    rbac = authorizer_with(
        role_binding("default", "Role", "missing", "User:alice"),
        cluster_role_binding("gone", "User:alice"),
        # A binding for someone else is not resolved, so it adds no error.
        role_binding("default", "ClusterRole", "not-for-alice", "User:bob"),
    )
    decision = rbac.decide(res("get", LEASE, "leases", namespace="default", name="x"))
    assert not decision.allowed
    assert decision.reason == (
        'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
        'role.rbac.authorization.k8s.io "missing" not found]'
    )
    only_role = authorizer_with(role_binding("default", "Role", "missing", "User:alice"))
    assert only_role.decide(res("get", LEASE, "leases", namespace="default")).reason == (
        'RBAC: role.rbac.authorization.k8s.io "missing" not found'
    )


def test_a_later_object_replaces_one_of_the_same_name_as_kubectl_apply_would() -> None:
    rbac = authorizer_with(
        role("le", "default", rule("get", LEASE, "leases")),
        role_binding("default", "Role", "le", "User:alice"),
    )
    assert not rbac.authorize(res("update", LEASE, "leases", namespace="default", name="x"))
    rbac.add(role("le", "default", rule("get,update", LEASE, "leases")))
    assert rbac.authorize(res("update", LEASE, "leases", namespace="default", name="x"))


# -- the defaults every cluster bootstraps ---------------------------------------------------


@pytest.mark.parametrize(
    ("user", "path", "expected"),
    [
        (ALICE, "/api", True),
        (ALICE, "/api/v1", True),
        (ALICE, "/apis", True),
        (ALICE, "/apis/coordination.k8s.io/v1", True),
        (ALICE, "/openapi/v3", True),
        (ALICE, "/version", True),
        (ALICE, "/healthz", True),
        (ALICE, "/metrics", False),
        # Since Kubernetes 1.14 anonymous users see health and version, not discovery.
        (ANONYMOUS, "/version", True),
        (ANONYMOUS, "/healthz", True),
        (ANONYMOUS, "/livez", True),
        (ANONYMOUS, "/readyz", True),
        (ANONYMOUS, "/api", False),
        (ANONYMOUS, "/apis", False),
    ],
)
def test_default_discovery_access(user: UserInfo, path: str, expected: bool) -> None:
    assert RBACAuthorizer().authorize(nonres("get", path, user=user)) is expected


def test_defaults_grant_no_resources_to_a_plain_user() -> None:
    rbac = RBACAuthorizer()
    assert not rbac.authorize(res("get", LEASE, "leases", namespace="default", name="x"))
    assert not rbac.authorize(res("list", "", "namespaces"))
    # system:basic-user: every authenticated user may ask what it may do.
    assert rbac.authorize(res("create", "authorization.k8s.io", "selfsubjectaccessreviews"))
    assert not rbac.authorize(
        res("create", "authorization.k8s.io", "selfsubjectaccessreviews", user=ANONYMOUS)
    )


def test_allow_all_allows_everything() -> None:
    assert AllowAll().authorize(res("delete", "", "namespaces", name="default", user=ANONYMOUS))


# -- bind() -----------------------------------------------------------------------------------


def test_bind_a_role_to_a_user_a_group_and_a_service_account() -> None:
    rbac = RBACAuthorizer()
    rbac.add(role("le", "default", rule("get", LEASE, "leases")))
    rbac.bind("le", namespace="default", user="alice")
    rbac.bind("le", namespace="default", group="team")
    rbac.bind("le", namespace="default", service_account="default:leader-election")
    get = res("get", LEASE, "leases", namespace="default", name="x")
    assert rbac.authorize(get)
    assert rbac.authorize(RequestAttributes(**{**_fields(get), "user": UserInfo("bob", ("team",))}))
    assert rbac.authorize(RequestAttributes(**{**_fields(get), "user": SA_USER}))
    assert not rbac.authorize(RequestAttributes(**{**_fields(get), "user": UserInfo("carol")}))


def test_bind_a_cluster_role_cluster_wide_or_in_one_namespace() -> None:
    rbac = RBACAuthorizer()
    rbac.add(cluster_role("le", rule("get", LEASE, "leases")))
    rbac.bind("le", namespace=None, user="alice")
    rbac.bind("le", namespace="ns1", user="bob", cluster_role=True)
    bob = UserInfo("bob")
    assert rbac.authorize(res("get", LEASE, "leases", namespace="anywhere", name="x"))
    assert rbac.authorize(res("get", LEASE, "leases", namespace="ns1", name="x", user=bob))
    assert not rbac.authorize(res("get", LEASE, "leases", namespace="ns2", name="x", user=bob))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"namespace": "default"}, "needs exactly one of user=, group=, service_account="),
        ({"namespace": "default", "user": "a", "group": "b"}, "got user, group"),
        ({"namespace": "default", "service_account": "leader-election"}, "is not 'namespace:name'"),
        ({"namespace": "other", "user": "a"}, "names Role other/le, which is not loaded"),
        ({"namespace": None, "user": "a"}, "names ClusterRole le, which is not loaded"),
    ],
)
def test_bind_rejects_what_it_cannot_honour(kwargs: dict[str, Any], fragment: str) -> None:
    rbac = RBACAuthorizer()
    rbac.add(role("le", "default", rule("get", LEASE, "leases")))
    with pytest.raises(ConfigurationError) as info:
        rbac.bind("le", **kwargs)
    assert fragment in str(info.value)


def _fields(attrs: RequestAttributes) -> dict[str, Any]:
    return {name: getattr(attrs, name) for name in RequestAttributes.__dataclass_fields__}


# -- load(): YAML files as a project ships them ----------------------------------------------

ROLE_YAML = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: leader-election
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: leader-election
  namespace: default
rules:
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["create"]
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    resourceNames: ["my-lease"]
    verbs: ["get", "list", "watch", "update"]
"""

ROLEBINDING_YAML = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: leader-election
  namespace: default
subjects:
  - kind: ServiceAccount
    name: leader-election
    namespace: default
roleRef:
  kind: Role
  name: leader-election
  apiGroup: rbac.authorization.k8s.io
"""


def test_load_files_with_a_service_account_binding(tmp_path: Path) -> None:
    (tmp_path / "role.yaml").write_text(ROLE_YAML)
    (tmp_path / "rolebinding.yaml").write_text(ROLEBINDING_YAML)
    rbac = RBACAuthorizer()
    rbac.load(tmp_path / "role.yaml")
    rbac.load(str(tmp_path / "rolebinding.yaml"))

    def lease(verb: str, name: str = "") -> RequestAttributes:
        return res(verb, LEASE, "leases", namespace="default", name=name, user=SA_USER)

    assert rbac.authorize(lease("create"))
    assert rbac.authorize(lease("get", "my-lease"))
    assert rbac.authorize(lease("update", "my-lease"))
    assert not rbac.authorize(lease("update", "someone-elses"))
    assert not rbac.authorize(lease("delete", "my-lease"))
    # list without a name is not granted by a resourceNames rule, exactly as on a cluster.
    assert not rbac.authorize(lease("list"))


def test_load_yaml_text_multi_document_and_lists() -> None:
    rbac = RBACAuthorizer(defaults=False)
    rbac.load(
        ROLE_YAML
        + "---\n"
        + """\
apiVersion: v1
kind: List
items:
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: cm-reader}
    rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: cm-reader}
    roleRef: {kind: ClusterRole, name: cm-reader}
    subjects: [{kind: User, name: alice}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
---
"""
    )
    assert rbac.authorize(res("get", "", "configmaps", namespace="x", name="y"))


def test_load_puts_objects_without_a_namespace_in_the_given_one() -> None:
    rbac = RBACAuthorizer(defaults=False)
    text = (
        ROLE_YAML.replace("  namespace: default\n", "")
        + "---\n"
        + ROLEBINDING_YAML.replace("  namespace: default\nsubjects", "subjects")
    )
    rbac.load(text, namespace="team-a")
    sa = UserInfo(service_account_username("default", "leader-election"))
    assert rbac.authorize(res("create", LEASE, "leases", namespace="team-a", user=sa))
    assert not rbac.authorize(res("create", LEASE, "leases", namespace="default", user=sa))


def test_load_ignores_a_role_kind_of_another_api_group() -> None:
    rbac = RBACAuthorizer(defaults=False)
    rbac.load("apiVersion: example.com/v1\nkind: Role\nmetadata: {name: x}\n")


INVALID_OBJECTS = [
    (
        "verbs missing",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n"
        "rules: [{apiGroups: [''], resources: [pods]}]\n",
        'Role.rbac.authorization.k8s.io "r" is invalid: rules[0].verbs: Required value: '
        "verbs must contain at least one value",
    ),
    (
        "resource rule without group and resource",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n"
        "rules: [{verbs: [get]}]\n",
        'ClusterRole.rbac.authorization.k8s.io "r" is invalid: [rules[0].apiGroups: Required '
        "value: resource rules must supply at least one api group, rules[0].resources: Required "
        "value: resource rules must supply at least one resource]",
    ),
    (
        "non-resource URL in a namespaced role",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n"
        "rules: [{verbs: [get], nonResourceURLs: [/healthz]}]\n",
        'Role.rbac.authorization.k8s.io "r" is invalid: rules[0].nonResourceURLs: Invalid '
        'value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs',
    ),
    (
        "cluster role binding to a Role",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\n"
        "roleRef: {kind: Role, name: r}\nsubjects: [{kind: User, name: u}]\n",
        'ClusterRoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef.kind: '
        'Unsupported value: "Role": supported values: "ClusterRole"',
    ),
    (
        "service account without namespace in a cluster role binding",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\n"
        "roleRef: {kind: ClusterRole, name: r}\nsubjects: [{kind: ServiceAccount, name: sa}]\n",
        'ClusterRoleBinding.rbac.authorization.k8s.io "b" is invalid: subjects[0].namespace: '
        "Required value",
    ),
    (
        "unknown subject kind",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b}\n"
        "roleRef: {kind: Role, name: r}\nsubjects: [{kind: Robot, name: r2d2}]\n",
        'RoleBinding.rbac.authorization.k8s.io "b" is invalid: subjects[0].kind: Unsupported '
        'value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    ),
    (
        "removed API version",
        "apiVersion: rbac.authorization.k8s.io/v1beta1\nkind: Role\nmetadata: {name: r}\n",
        "Role has apiVersion='rbac.authorization.k8s.io/v1beta1'",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [pytest.param(t, m, id=n) for n, t, m in INVALID_OBJECTS]
)
def test_load_rejects_invalid_objects_as_the_api_server_would(text: str, message: str) -> None:
    rbac = RBACAuthorizer(defaults=False)
    with pytest.raises(ConfigurationError) as info:
        rbac.load(text)
    assert message in str(info.value)
    assert info.value.option == "rbac"


def test_load_is_all_or_nothing() -> None:
    rbac = RBACAuthorizer(defaults=False)
    good = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: ok}\n"
    good += "rules: [{verbs: [get], apiGroups: [''], resources: [pods]}]\n"
    good += "---\n" + cluster_role_binding_yaml("ok", "alice")
    bad = "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
    bad += "metadata: {name: r}\nrules: [{}]\n"
    with pytest.raises(ConfigurationError):
        rbac.load(good + bad)
    assert not rbac.authorize(res("get", "", "pods", namespace="x"))


def cluster_role_binding_yaml(role_name: str, user: str) -> str:
    return (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
        f"metadata: {{name: {role_name}}}\nroleRef: {{kind: ClusterRole, name: {role_name}}}\n"
        f"subjects: [{{kind: User, name: {user}}}]\n"
    )


def test_load_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such file"):
        RBACAuthorizer().load(tmp_path / "nope.yaml")
    with pytest.raises(ConfigurationError, match="no such file"):
        RBACAuthorizer().load("rbac/role.yml")


def test_load_reports_broken_yaml(tmp_path: Path) -> None:
    path = tmp_path / "role.yaml"
    path.write_text("kind: Role\n  metadata: [\n")
    with pytest.raises(ConfigurationError, match=r"role\.yaml is not valid YAML"):
        RBACAuthorizer().load(path)


def test_add_rejects_other_kinds() -> None:
    with pytest.raises(ConfigurationError, match="kind='ServiceAccount' is not an RBAC object"):
        RBACAuthorizer().add(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}}
        )


# -- authentication -----------------------------------------------------------------------


def cert(cn: str | None, *orgs: str) -> dict[str, Any]:
    """A ``getpeercert()`` dict as the ssl module returns it."""
    subject: list[tuple[tuple[str, str], ...]] = [(("organizationName", o),) for o in orgs]
    if cn is not None:
        subject.append((("commonName", cn),))
    return {"subject": tuple(subject), "issuer": ((("commonName", "ca"),),), "version": 3}


@pytest.fixture
def authenticator() -> Authenticator:
    auth = Authenticator()
    auth.add_token("tok-alice", "alice", ["devs"])
    return auth


@pytest.mark.parametrize(
    ("header", "client_cert", "expected"),
    [
        ("Bearer tok-alice", None, UserInfo("alice", ("devs", "system:authenticated"))),
        # The scheme is case-insensitive; client-python sends "bearer" in lower case.
        ("bearer tok-alice", None, UserInfo("alice", ("devs", "system:authenticated"))),
        ("  Bearer tok-alice  ", None, UserInfo("alice", ("devs", "system:authenticated"))),
        # Anything after a second space is ignored, as SplitN(auth, " ", 3) does.
        ("Bearer tok-alice trailing", None, UserInfo("alice", ("devs", "system:authenticated"))),
        # Nothing kube-apiserver recognises as credentials: anonymous.
        (None, None, ANONYMOUS),
        ("", None, ANONYMOUS),
        ("Basic YWxpY2U6c2VjcmV0", None, ANONYMOUS),
        ("Bearer", None, ANONYMOUS),
        ("Bearer  tok-alice", None, ANONYMOUS),
        # Client certificates: CN is the user, every O a group.
        (
            None,
            cert("bob", "ops", "system:masters"),
            UserInfo("bob", ("ops", "system:masters", "system:authenticated")),
        ),
        (None, cert("carol"), UserInfo("carol", ("system:authenticated",))),
        # The certificate is tried before the token, and the first success wins.
        ("Bearer tok-alice", cert("bob"), UserInfo("bob", ("system:authenticated",))),
        ("Bearer unknown", cert("bob"), UserInfo("bob", ("system:authenticated",))),
        # A certificate without CN is no identity; an unverified one ({}) neither.
        (
            "Bearer tok-alice",
            cert(None, "ops"),
            UserInfo("alice", ("devs", "system:authenticated")),
        ),
        (None, {}, ANONYMOUS),
    ],
)
def test_authenticate(
    authenticator: Authenticator,
    header: str | None,
    client_cert: dict[str, Any] | None,
    expected: UserInfo,
) -> None:
    assert authenticator.authenticate(header, client_cert) == expected


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer tok-alic", "BEARER x"])
def test_an_unknown_token_is_401(authenticator: Authenticator, header: str) -> None:
    with pytest.raises(AuthenticationFailed, match="invalid bearer token"):
        authenticator.authenticate(header, None)


def test_a_removed_token_is_401(authenticator: Authenticator) -> None:
    authenticator.remove_token("tok-alice")
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate("Bearer tok-alice", None)
    authenticator.remove_token("never-added")


def test_without_anonymous_auth_no_credentials_is_401() -> None:
    auth = Authenticator(anonymous=False)
    with pytest.raises(AuthenticationFailed, match="anonymous authentication is disabled"):
        auth.authenticate(None, None)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate("Basic abc", None)
    assert auth.authenticate(None, cert("bob")).name == "bob"


def test_groups_already_naming_authenticated_are_kept_as_given() -> None:
    auth = Authenticator()
    auth.add_token("t", "u", ["system:authenticated", "x"])
    assert auth.authenticate("Bearer t", None).groups == ("system:authenticated", "x")


@pytest.mark.parametrize(
    ("token", "user", "groups", "option"),
    [
        ("", "u", (), "token"),
        ("has space", "u", (), "token"),
        ("t", "", (), "user"),
        ("t", "u", "system:masters", "groups"),
    ],
)
def test_add_token_rejects_unusable_input(token: str, user: str, groups: Any, option: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Authenticator().add_token(token, user, groups)
    assert info.value.option == option


def test_unauthorized_status_is_kube_apiservers_body() -> None:
    expected = (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"Unauthorized","reason":"Unauthorized","code":401}'
    )
    assert json.dumps(unauthorized_status(), separators=(",", ":")) == expected


# -- the 403 wording: from errors_test.go TestForbidden ----------------------------------

NAME = UserInfo("NAME")

FORBIDDEN_CASES = [
    (
        "non-resource path",
        RequestAttributes(user=NAME, verb="GET", resource_request=False, path="/whatever"),
        r'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        r'"message":"forbidden: User \"NAME\" cannot GET path \"/whatever\"",'
        r'"reason":"Forbidden","details":{},"code":403}',
    ),
    (
        "html in the path is escaped",
        RequestAttributes(user=NAME, verb="GET", resource_request=False, path="/<script>"),
        r'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        r'"message":"forbidden: User \"NAME\" cannot GET path \"/\u0026lt;script\u0026gt;\"",'
        r'"reason":"Forbidden","details":{},"code":403}',
    ),
    (
        "cluster-scoped, unnamed, core group",
        RequestAttributes(user=NAME, verb="get", resource="pod"),
        r'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        r'"message":"pod is forbidden: User \"NAME\" cannot get resource \"pod\" '
        r'in API group \"\" at the cluster scope",'
        r'"reason":"Forbidden","details":{"kind":"pod"},"code":403}',
    ),
    (
        "cluster-scoped, named",
        RequestAttributes(user=NAME, verb="get", resource="pod", name="mypod"),
        r'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        r'"message":"pod \"mypod\" is forbidden: User \"NAME\" cannot get resource \"pod\" '
        r'in API group \"\" at the cluster scope",'
        r'"reason":"Forbidden","details":{"name":"mypod","kind":"pod"},"code":403}',
    ),
    (
        "namespaced subresource in a group",
        RequestAttributes(
            user=NAME,
            verb="get",
            namespace="test",
            api_group="v2",
            resource="pod",
            subresource="quota",
        ),
        r'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        r'"message":"pod.v2 is forbidden: User \"NAME\" cannot get resource \"pod/quota\" '
        r'in API group \"v2\" in the namespace \"test\"",'
        r'"reason":"Forbidden","details":{"group":"v2","kind":"pod"},"code":403}',
    ),
]


@pytest.mark.parametrize(
    ("attrs", "body"), [pytest.param(a, b, id=n) for n, a, b in FORBIDDEN_CASES]
)
def test_forbidden_status_matches_kube_apiserver(attrs: RequestAttributes, body: str) -> None:
    expected = json.loads(body)
    status = forbidden_status(attrs)
    assert status == expected
    # Same field order as Go's encoder writes them, in the body and in details.
    assert list(status) == list(expected)
    assert list(status["details"]) == list(expected["details"])
    assert forbidden_details(attrs) == expected["details"]
    assert forbidden_message(attrs) == expected["message"]


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        (
            res("update", LEASE, "leases", namespace="default", name="x", user=UserInfo("u")),
            'leases.coordination.k8s.io "x" is forbidden: User "u" cannot update resource '
            '"leases" in API group "coordination.k8s.io" in the namespace "default"',
        ),
        (
            res(
                "list",
                LEASE,
                "leases",
                namespace="default",
                user=UserInfo("system:serviceaccount:default:le"),
            ),
            'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:default:le" '
            'cannot list resource "leases" in API group "coordination.k8s.io" in the namespace '
            '"default"',
        ),
        (
            res("list", "", "namespaces", user=ANONYMOUS),
            'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in '
            'API group "" at the cluster scope',
        ),
        (
            res("get", "", "configmaps", namespace="default", name="cm", user=UserInfo('we"ird')),
            'configmaps "cm" is forbidden: User "we\\"ird" cannot get resource "configmaps" in API '
            'group "" in the namespace "default"',
        ),
        (
            nonres("get", "/foo", user=UserInfo("x")),
            'forbidden: User "x" cannot get path "/foo"',
        ),
    ],
)
def test_forbidden_messages(attrs: RequestAttributes, message: str) -> None:
    assert forbidden_message(attrs) == message


def test_forbidden_message_appends_the_rbac_reason() -> None:
    attrs = res("get", LEASE, "leases", namespace="default", name="x", user=UserInfo("u"))
    reason = 'RBAC: role.rbac.authorization.k8s.io "leader-election" not found'
    assert forbidden_message(attrs, reason) == (
        'leases.coordination.k8s.io "x" is forbidden: User "u" cannot get resource "leases" in API '
        'group "coordination.k8s.io" in the namespace "default": RBAC: '
        'role.rbac.authorization.k8s.io "leader-election" not found'
    )
    assert forbidden_status(attrs, reason)["message"].endswith('"leader-election" not found')
