"""Conformance: Leases through the official client, as kube-apiserver answers them.

Runs against the embedded server and, with LEADER_ELECTION_E2E_KUBECONFIG set, a real cluster;
every assertion (reason, code, message, details) is one the real server also satisfies.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from support import continue_token, lease, raw, status_of

UTC = datetime.timezone.utc
MICRO_WIRE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TIME_WIRE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def micro(second: int = 1, microsecond: int = 250_000) -> datetime.datetime:
    # A microsecond of 0 would make the official client drop the fraction (see below).
    return datetime.datetime(2024, 5, 1, 10, 0, second, microsecond, tzinfo=UTC)


def failure(call: Any) -> dict[str, Any]:
    with pytest.raises(ApiException) as info:
        call()
    return status_of(info.value)


def get_raw(api: Any, namespace: str, name: str) -> dict[str, Any]:
    response = raw(api, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}")
    assert response.status == 200
    body: dict[str, Any] = json.loads(response.data)
    return body


# -- create and read ------------------------------------------------------------------------------


def test_a_created_lease_round_trips_every_spec_field(leases: Any, namespace: str) -> None:
    created = leases.create_namespaced_lease(
        namespace,
        lease(
            "held",
            holder_identity="candidate-a",
            lease_duration_seconds=15,
            acquire_time=micro(1),
            renew_time=micro(2, 999_999),
            lease_transitions=3,
        ),
    )
    fetched = leases.read_namespaced_lease("held", namespace)
    for got in (created, fetched):
        assert got.spec.holder_identity == "candidate-a"
        assert got.spec.lease_duration_seconds == 15
        assert got.spec.acquire_time == micro(1)
        assert got.spec.renew_time == micro(2, 999_999)
        assert got.spec.lease_transitions == 3
    assert fetched.metadata.resource_version == created.metadata.resource_version


def test_the_server_sets_uid_creation_time_and_resource_version(
    leases: Any, namespace: str
) -> None:
    created = leases.create_namespaced_lease(namespace, lease("meta"))
    assert uuid.UUID(created.metadata.uid)
    assert created.metadata.creation_timestamp.tzinfo is not None
    assert int(created.metadata.resource_version) > 0
    # Leases have no generation: the real registry never sets it for them.
    assert created.metadata.generation is None
    assert created.metadata.namespace == namespace


def test_resource_versions_increase_with_every_write(leases: Any, namespace: str) -> None:
    first = leases.create_namespaced_lease(namespace, lease("rv", holder_identity="a"))
    first.spec.holder_identity = "b"
    second = leases.replace_namespaced_lease("rv", namespace, first)
    other = leases.create_namespaced_lease(namespace, lease("rv-other"))
    versions = [int(x.metadata.resource_version) for x in (first, second, other)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


def test_micro_times_are_served_in_utc_with_six_fractional_digits(
    api: Any, leases: Any, namespace: str
) -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    leases.create_namespaced_lease(
        namespace,
        lease("wire", renew_time=datetime.datetime(2024, 5, 1, 12, 0, 0, 500, tzinfo=plus_two)),
    )
    body = get_raw(api, namespace, "wire")
    assert body["spec"]["renewTime"] == "2024-05-01T10:00:00.000500Z"
    assert MICRO_WIRE.match(body["spec"]["renewTime"])
    assert TIME_WIRE.match(body["metadata"]["creationTimestamp"])
    assert body["kind"] == "Lease"
    assert body["apiVersion"] == "coordination.k8s.io/v1"


def test_a_micro_time_without_six_fractional_digits_is_a_bad_request(
    leases: Any, namespace: str
) -> None:
    # The official client writes a datetime whose microsecond is 0 without any fraction; the
    # server's MicroTime layout needs exactly six digits, so JSON decoding fails: 400, not 422.
    body = failure(
        lambda: leases.create_namespaced_lease(
            namespace, lease("whole-second", renew_time=datetime.datetime(2024, 1, 1, tzinfo=UTC))
        )
    )
    assert body["code"] == 400
    assert body["reason"] == "BadRequest"
    assert body["message"] == (
        'Lease in version "v1" cannot be handled as a Lease: parsing time '
        '"2024-01-01T00:00:00+00:00" as "2006-01-02T15:04:05.000000Z07:00": '
        'cannot parse "+00:00" as ".000000"'
    )


@pytest.mark.parametrize(
    ("wire", "problem"),
    [
        ("2024-01-01T00:00:00Z", 'cannot parse "Z" as ".000000"'),
        ("2024-01-01T00:00:00.123Z", 'cannot parse ".123Z" as ".000000"'),
        ("2024-01-01T00:00:00.1234567Z", 'cannot parse "7Z" as "Z07:00"'),
        ("2024-13-01T00:00:00.000000Z", ": month out of range"),
        ("yesterday", 'cannot parse "yesterday" as "2006"'),
    ],
)
def test_malformed_micro_times_name_the_go_layout(
    api: Any, namespace: str, wire: str, problem: str
) -> None:
    payload = {"metadata": {"name": "bad-time"}, "spec": {"acquireTime": wire}}
    response = raw(
        api,
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    body = json.loads(response.data)
    assert response.status == 400
    assert body["reason"] == "BadRequest"
    assert body["message"].startswith(
        f'Lease in version "v1" cannot be handled as a Lease: parsing time "{wire}"'
    )
    assert body["message"].endswith(problem)


def test_reading_a_missing_lease_is_not_found(leases: Any, namespace: str) -> None:
    body = failure(lambda: leases.read_namespaced_lease("missing", namespace))
    assert body["code"] == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == 'leases.coordination.k8s.io "missing" not found'
    assert body["details"] == {"name": "missing", "group": "coordination.k8s.io", "kind": "leases"}


def test_creating_an_existing_lease_is_already_exists(leases: Any, namespace: str) -> None:
    leases.create_namespaced_lease(namespace, lease("taken"))
    body = failure(lambda: leases.create_namespaced_lease(namespace, lease("taken")))
    assert body["code"] == 409
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'leases.coordination.k8s.io "taken" already exists'
    assert body["details"] == {"name": "taken", "group": "coordination.k8s.io", "kind": "leases"}


def test_creating_in_a_missing_namespace_is_not_found(leases: Any) -> None:
    body = failure(lambda: leases.create_namespaced_lease("no-such-namespace-x1", lease("x")))
    assert body["code"] == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "no-such-namespace-x1" not found'
    assert body["details"] == {"name": "no-such-namespace-x1", "kind": "namespaces"}


def test_listing_a_missing_namespace_is_empty(leases: Any) -> None:
    listed = leases.list_namespaced_lease("no-such-namespace-x2")
    assert listed.items == []
    assert int(listed.metadata.resource_version) > 0


# -- validation ------------------------------------------------------------------------------------


def test_an_invalid_name_is_invalid_with_a_field_cause(leases: Any, namespace: str) -> None:
    body = failure(lambda: leases.create_namespaced_lease(namespace, lease("Not_A_Name")))
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(
        'Lease.coordination.k8s.io "Not_A_Name" is invalid: metadata.name: Invalid value: '
        '"Not_A_Name": a lowercase RFC 1123 subdomain'
    )
    assert body["details"]["name"] == "Not_A_Name"
    assert body["details"]["group"] == "coordination.k8s.io"
    assert body["details"]["kind"] == "Lease"
    [cause] = body["details"]["causes"]
    assert cause["reason"] == "FieldValueInvalid"
    assert cause["field"] == "metadata.name"


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (
            {"lease_duration_seconds": 0},
            "spec.leaseDurationSeconds",
            "Invalid value: 0: must be greater than 0",
        ),
        (
            {"lease_duration_seconds": -5},
            "spec.leaseDurationSeconds",
            "Invalid value: -5: must be greater than 0",
        ),
        (
            {"lease_transitions": -1},
            "spec.leaseTransitions",
            "Invalid value: -1: must be greater than or equal to 0",
        ),
    ],
)
def test_out_of_range_spec_values_are_invalid(
    leases: Any, namespace: str, spec: dict[str, Any], field: str, message: str
) -> None:
    body = failure(lambda: leases.create_namespaced_lease(namespace, lease("bad-spec", **spec)))
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == f'Lease.coordination.k8s.io "bad-spec" is invalid: {field}: {message}'
    assert body["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": message, "field": field}
    ]


def test_every_invalid_field_is_a_cause(leases: Any, namespace: str) -> None:
    body = failure(
        lambda: leases.create_namespaced_lease(
            namespace, lease("two-problems", lease_duration_seconds=0, lease_transitions=-1)
        )
    )
    assert [c["field"] for c in body["details"]["causes"]] == [
        "spec.leaseDurationSeconds",
        "spec.leaseTransitions",
    ]
    assert body["message"].startswith('Lease.coordination.k8s.io "two-problems" is invalid: [')


def test_unknown_fields_fail_strict_field_validation(api: Any, namespace: str) -> None:
    payload = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "strict"},
        "spec": {"holder": "x"},
    }
    response = raw(
        api,
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases?fieldValidation=Strict",
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    body = json.loads(response.data)
    assert response.status == 400
    assert body["reason"] == "BadRequest"
    assert (
        body["message"]
        == 'Lease in version "v1" cannot be handled as a Lease: strict decoding error: unknown '
        'field "spec.holder"'
    )


def test_unknown_fields_are_dropped_with_a_warning_by_default(api: Any, namespace: str) -> None:
    payload = {"metadata": {"name": "lenient"}, "spec": {"holder": "x", "holderIdentity": "y"}}
    response = raw(
        api,
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 201
    assert json.loads(response.data)["spec"] == {"holderIdentity": "y"}
    assert 'unknown field \\"spec.holder\\"' in response.headers.get("Warning", "")


# -- replace and optimistic concurrency ------------------------------------------------------------


def test_replace_with_the_current_resource_version_succeeds(leases: Any, namespace: str) -> None:
    current = leases.create_namespaced_lease(namespace, lease("swap", holder_identity="a"))
    current.spec.holder_identity = "b"
    current.spec.renew_time = micro(7)
    replaced = leases.replace_namespaced_lease("swap", namespace, current)
    assert replaced.spec.holder_identity == "b"
    assert replaced.spec.renew_time == micro(7)
    assert int(replaced.metadata.resource_version) > int(current.metadata.resource_version)
    assert replaced.metadata.uid == current.metadata.uid
    assert replaced.metadata.creation_timestamp == current.metadata.creation_timestamp


def test_replace_with_a_stale_resource_version_is_a_conflict(leases: Any, namespace: str) -> None:
    first = leases.create_namespaced_lease(namespace, lease("raced", holder_identity="a"))
    winner = leases.read_namespaced_lease("raced", namespace)
    winner.spec.holder_identity = "winner"
    leases.replace_namespaced_lease("raced", namespace, winner)
    first.spec.holder_identity = "loser"
    body = failure(lambda: leases.replace_namespaced_lease("raced", namespace, first))
    assert body["code"] == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "raced": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    assert body["details"] == {"name": "raced", "group": "coordination.k8s.io", "kind": "leases"}
    assert leases.read_namespaced_lease("raced", namespace).spec.holder_identity == "winner"


def test_replace_without_a_resource_version_is_invalid_for_leases(
    leases: Any, namespace: str
) -> None:
    # The Lease strategy does not allow unconditional updates (AllowUnconditionalUpdate=false).
    leases.create_namespaced_lease(namespace, lease("unconditional"))
    body = failure(
        lambda: leases.replace_namespaced_lease(
            "unconditional", namespace, lease("unconditional", holder_identity="x")
        )
    )
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'leases.coordination.k8s.io "unconditional" is invalid: metadata.resourceVersion: '
        "Invalid value: 0x0: must be specified for an update"
    )
    assert body["details"]["kind"] == "leases"


def test_replace_of_a_missing_lease_creates_it(leases: Any, namespace: str) -> None:
    # Leases allow create-on-update (a PUT may create).
    created = leases.replace_namespaced_lease(
        "put-created", namespace, lease("put-created", holder_identity="a")
    )
    assert created.spec.holder_identity == "a"
    assert (
        leases.read_namespaced_lease("put-created", namespace).metadata.uid == created.metadata.uid
    )


def test_replace_with_a_different_name_is_a_bad_request(leases: Any, namespace: str) -> None:
    current = leases.create_namespaced_lease(namespace, lease("named"))
    current.metadata.name = "renamed"
    body = failure(lambda: leases.replace_namespaced_lease("named", namespace, current))
    assert body["code"] == 400
    assert body["reason"] == "BadRequest"
    assert (
        body["message"]
        == "the name of the object (renamed) does not match the name on the URL (named)"
    )


def test_a_replace_that_changes_nothing_keeps_the_resource_version(
    leases: Any, namespace: str
) -> None:
    current = leases.create_namespaced_lease(namespace, lease("same", holder_identity="a"))
    again = leases.replace_namespaced_lease("same", namespace, current)
    assert again.metadata.resource_version == current.metadata.resource_version


# -- patch -----------------------------------------------------------------------------------------


def test_merge_patch(leases: Any, namespace: str) -> None:
    leases.create_namespaced_lease(
        namespace, lease("merge", holder_identity="a", lease_duration_seconds=10)
    )
    patched = leases.patch_namespaced_lease(
        "merge",
        namespace,
        {"spec": {"holderIdentity": "b", "leaseDurationSeconds": None}},
        _content_type="application/merge-patch+json",
    )
    assert patched.spec.holder_identity == "b"
    assert patched.spec.lease_duration_seconds is None


def test_strategic_merge_patch_merges_finalizers(leases: Any, namespace: str) -> None:
    created = client.V1Lease(
        metadata=client.V1ObjectMeta(name="smp", labels={"a": "1"}, finalizers=["example.com/one"])
    )
    leases.create_namespaced_lease(namespace, created)
    patched = leases.patch_namespaced_lease(
        "smp",
        namespace,
        {"metadata": {"labels": {"b": "2"}, "finalizers": ["example.com/two"]}},
        _content_type="application/strategic-merge-patch+json",
    )
    assert patched.metadata.labels == {"a": "1", "b": "2"}
    assert patched.metadata.finalizers == ["example.com/one", "example.com/two"]
    cleared = leases.patch_namespaced_lease(
        "smp",
        namespace,
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    assert cleared.metadata.finalizers is None


def test_json_patch_with_a_passing_test_operation(leases: Any, namespace: str) -> None:
    leases.create_namespaced_lease(namespace, lease("jp", holder_identity="a"))
    patched = leases.patch_namespaced_lease(
        "jp",
        namespace,
        [
            {"op": "test", "path": "/spec/holderIdentity", "value": "a"},
            {"op": "replace", "path": "/spec/holderIdentity", "value": "b"},
            {"op": "add", "path": "/spec/leaseTransitions", "value": 1},
        ],
        _content_type="application/json-patch+json",
    )
    assert patched.spec.holder_identity == "b"
    assert patched.spec.lease_transitions == 1


def test_json_patch_with_a_failing_test_operation_is_invalid(leases: Any, namespace: str) -> None:
    leases.create_namespaced_lease(namespace, lease("jp-fail", holder_identity="a"))
    body = failure(
        lambda: leases.patch_namespaced_lease(
            "jp-fail",
            namespace,
            [
                {"op": "test", "path": "/spec/holderIdentity", "value": "someone-else"},
                {"op": "replace", "path": "/spec/holderIdentity", "value": "b"},
            ],
            _content_type="application/json-patch+json",
        )
    )
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == "the server rejected our request due to an error in our request"
    assert leases.read_namespaced_lease("jp-fail", namespace).spec.holder_identity == "a"


def test_a_patch_carrying_a_stale_resource_version_is_a_conflict(
    leases: Any, namespace: str
) -> None:
    created = leases.create_namespaced_lease(namespace, lease("patch-rv"))
    leases.patch_namespaced_lease(
        "patch-rv",
        namespace,
        {"spec": {"holderIdentity": "a"}},
        _content_type="application/merge-patch+json",
    )
    body = failure(
        lambda: leases.patch_namespaced_lease(
            "patch-rv",
            namespace,
            {
                "metadata": {"resourceVersion": created.metadata.resource_version},
                "spec": {"holderIdentity": "b"},
            },
            _content_type="application/merge-patch+json",
        )
    )
    assert body["code"] == 409
    assert body["reason"] == "Conflict"


def test_patching_a_missing_lease_is_not_found(leases: Any, namespace: str) -> None:
    body = failure(
        lambda: leases.patch_namespaced_lease(
            "ghost",
            namespace,
            {"spec": {"holderIdentity": "a"}},
            _content_type="application/merge-patch+json",
        )
    )
    assert body["code"] == 404
    assert body["message"] == 'leases.coordination.k8s.io "ghost" not found'


def test_an_unknown_patch_type_is_unsupported_media_type(
    api: Any, leases: Any, namespace: str
) -> None:
    leases.create_namespaced_lease(namespace, lease("media"))
    response = raw(
        api,
        "PATCH",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/media",
        body=b'{"spec":{}}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    body = json.loads(response.data)
    assert response.status == 415
    assert body["reason"] == "UnsupportedMediaType"
    assert body["message"].startswith(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        "application/strategic-merge-patch+json"
    )


def test_a_merge_patch_that_breaks_a_micro_time_is_rejected(leases: Any, namespace: str) -> None:
    leases.create_namespaced_lease(namespace, lease("patch-time", renew_time=micro(3)))
    body = failure(
        lambda: leases.patch_namespaced_lease(
            "patch-time",
            namespace,
            {"spec": {"renewTime": "2024-01-01T00:00:00Z"}},
            _content_type="application/merge-patch+json",
        )
    )
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert 'cannot parse "Z" as ".000000"' in body["message"]


# -- delete ----------------------------------------------------------------------------------------


def test_delete_answers_a_success_status(api: Any, leases: Any, namespace: str) -> None:
    created = leases.create_namespaced_lease(namespace, lease("gone"))
    # Some client releases model the answer as V1Status, newer ones hand back the dict.
    answer = api.sanitize_for_serialization(leases.delete_namespaced_lease("gone", namespace))
    assert answer["kind"] == "Status"
    assert answer["status"] == "Success"
    assert answer["details"] == {
        "name": "gone",
        "group": "coordination.k8s.io",
        "kind": "leases",
        "uid": created.metadata.uid,
    }
    assert failure(lambda: leases.read_namespaced_lease("gone", namespace))["code"] == 404


def test_deleting_a_missing_lease_is_not_found(leases: Any, namespace: str) -> None:
    body = failure(lambda: leases.delete_namespaced_lease("never", namespace))
    assert body["code"] == 404
    assert body["message"] == 'leases.coordination.k8s.io "never" not found'


def test_delete_with_a_wrong_uid_precondition_is_a_conflict(leases: Any, namespace: str) -> None:
    created = leases.create_namespaced_lease(namespace, lease("guarded"))
    options = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(uid="00000000-0000-0000-0000-000000000000")
    )
    body = failure(lambda: leases.delete_namespaced_lease("guarded", namespace, body=options))
    assert body["code"] == 409
    assert body["reason"] == "Conflict"
    assert body["message"].startswith(
        'Operation cannot be fulfilled on leases.coordination.k8s.io "guarded": '
    )
    assert (
        "Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, "
        f"UID in object meta: {created.metadata.uid}"
    ) in body["message"]


def test_delete_with_a_stale_resource_version_precondition_is_a_conflict(
    leases: Any, namespace: str
) -> None:
    created = leases.create_namespaced_lease(namespace, lease("guarded-rv"))
    leases.patch_namespaced_lease(
        "guarded-rv",
        namespace,
        {"spec": {"holderIdentity": "x"}},
        _content_type="application/merge-patch+json",
    )
    options = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=created.metadata.resource_version)
    )
    body = failure(lambda: leases.delete_namespaced_lease("guarded-rv", namespace, body=options))
    assert body["code"] == 409
    assert (
        f"Precondition failed: ResourceVersion in precondition: "
        f"{created.metadata.resource_version}, " in body["message"]
    )
    current = leases.read_namespaced_lease("guarded-rv", namespace)
    ok = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(
            uid=current.metadata.uid, resource_version=current.metadata.resource_version
        )
    )
    leases.delete_namespaced_lease("guarded-rv", namespace, body=ok)
    assert failure(lambda: leases.read_namespaced_lease("guarded-rv", namespace))["code"] == 404


def test_finalizers_hold_a_deleted_lease_until_removed(leases: Any, namespace: str) -> None:
    leases.create_namespaced_lease(
        namespace,
        client.V1Lease(
            metadata=client.V1ObjectMeta(name="held-back", finalizers=["example.com/hold"])
        ),
    )
    leases.delete_namespaced_lease("held-back", namespace)
    marked = leases.read_namespaced_lease("held-back", namespace)
    assert marked.metadata.deletion_timestamp is not None
    leases.patch_namespaced_lease(
        "held-back",
        namespace,
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    assert failure(lambda: leases.read_namespaced_lease("held-back", namespace))["code"] == 404


# -- list ----------------------------------------------------------------------------------------


def test_list_filters_by_label_and_field_selector(leases: Any, namespace: str) -> None:
    for name, team in (("l-a", "red"), ("l-b", "blue"), ("l-c", "red")):
        leases.create_namespaced_lease(
            namespace,
            client.V1Lease(metadata=client.V1ObjectMeta(name=name, labels={"team": team})),
        )
    red = leases.list_namespaced_lease(namespace, label_selector="team=red")
    assert [i.metadata.name for i in red.items] == ["l-a", "l-c"]
    not_red = leases.list_namespaced_lease(namespace, label_selector="team notin (red)")
    assert [i.metadata.name for i in not_red.items] == ["l-b"]
    by_name = leases.list_namespaced_lease(namespace, field_selector="metadata.name=l-b")
    assert [i.metadata.name for i in by_name.items] == ["l-b"]
    assert (
        leases.list_namespaced_lease(
            namespace, field_selector="metadata.name!=l-b,metadata.namespace=" + namespace
        )
        .items[0]
        .metadata.name
        == "l-a"
    )


def test_list_with_an_unsupported_field_selector_is_a_bad_request(
    leases: Any, namespace: str
) -> None:
    body = failure(
        lambda: leases.list_namespaced_lease(namespace, field_selector="spec.holderIdentity=a")
    )
    assert body["code"] == 400
    assert body["reason"] == "BadRequest"
    assert (
        body["message"]
        == '"spec.holderIdentity" is not a known field selector: only "metadata.name", '
        '"metadata.namespace"'
    )


def test_list_with_a_malformed_label_selector_is_a_bad_request(leases: Any, namespace: str) -> None:
    body = failure(lambda: leases.list_namespaced_lease(namespace, label_selector="team in red"))
    assert body["code"] == 400
    assert body["reason"] == "BadRequest"
    assert body["message"] == "unable to parse requirement: found 'red' expected: '('"


def test_list_pages_with_limit_and_continue(leases: Any, namespace: str) -> None:
    for i in range(5):
        leases.create_namespaced_lease(namespace, lease(f"page-{i}"))
    first = leases.list_namespaced_lease(namespace, limit=2)
    assert [i.metadata.name for i in first.items] == ["page-0", "page-1"]
    assert continue_token(first)
    assert first.metadata.remaining_item_count == 3
    leases.create_namespaced_lease(namespace, lease("page-9"))  # after the snapshot: not listed
    second = leases.list_namespaced_lease(namespace, limit=2, _continue=continue_token(first))
    third = leases.list_namespaced_lease(namespace, limit=2, _continue=continue_token(second))
    assert [i.metadata.name for i in second.items + third.items] == ["page-2", "page-3", "page-4"]
    assert not continue_token(third)
    assert second.metadata.resource_version == first.metadata.resource_version


def test_list_across_all_namespaces(leases: Any, core: Any, namespace: str) -> None:
    leases.create_namespaced_lease(namespace, lease("everywhere"))
    everything = leases.list_lease_for_all_namespaces(
        field_selector=f"metadata.namespace={namespace}"
    )
    assert [(i.metadata.namespace, i.metadata.name) for i in everything.items] == [
        (namespace, "everywhere")
    ]


def test_list_at_a_future_resource_version_is_a_timeout(leases: Any, namespace: str) -> None:
    current = int(leases.list_namespaced_lease(namespace).metadata.resource_version)
    body = failure(
        lambda: leases.list_namespaced_lease(namespace, resource_version=str(current + 1_000_000))
    )
    assert body["code"] == 504
    assert body["reason"] == "Timeout"
    assert body["message"].startswith(
        f"Timeout: Too large resource version: {current + 1_000_000}, current: "
    )


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            b"{not json",
            "the object provided is unrecognized (must be of type Lease): couldn't get "
            "version/kind; json parse error: ",
        ),
        (
            b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}',
            'ConfigMap in version "v1" cannot be handled as a Lease: ',
        ),
        (
            b'{"metadata":{"name":"x"},"spec":{"leaseDurationSeconds":"ten"}}',
            'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal string '
            "into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32",
        ),
    ],
)
def test_undecodable_bodies_are_bad_requests(
    api: Any, namespace: str, payload: bytes, message: str
) -> None:
    response = raw(
        api,
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
        body=payload,
        headers={"Content-Type": "application/json"},
    )
    body = json.loads(response.data)
    assert response.status == 400
    assert body["reason"] == "BadRequest"
    assert body["message"].startswith(message)


def test_an_oversized_body_is_request_entity_too_large(api: Any, namespace: str) -> None:
    payload = (
        b'{"metadata":{"name":"huge","annotations":{"a":"' + b"x" * (3 * 1024 * 1024) + b'"}}}'
    )
    response = raw(
        api,
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
        body=payload,
        headers={"Content-Type": "application/json"},
    )
    body = json.loads(response.data)
    assert response.status == 413
    assert body["reason"] == "RequestEntityTooLarge"
    assert body["message"] == "Request entity too large: limit is 3145728"


def test_a_malformed_query_parameter_is_a_bad_request(api: Any, namespace: str) -> None:
    response = raw(
        api, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases?limit=many"
    )
    body = json.loads(response.data)
    assert response.status == 400
    assert body["reason"] == "BadRequest"
    assert body["message"] == 'strconv.ParseInt: parsing "many": invalid syntax'
