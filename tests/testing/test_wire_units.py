"""Pure pieces of the server, table-driven: Go time parsing, selectors, patches, decoding."""

from __future__ import annotations

from typing import Any

import pytest

from leader_election.testing import kubetime, patch, requestinfo
from leader_election.testing.resources import LEASE, human_duration
from leader_election.testing.schema import DecodeError, decode, dumps, loads
from leader_election.testing.selection import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from leader_election.testing.status import FieldError, aggregate_message

# -- MicroTime / Time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "printed"),
    [
        ("2024-05-01T10:00:00.000000Z", "2024-05-01T10:00:00.000000Z"),
        ("2024-05-01T12:30:00.123456+02:30", "2024-05-01T10:00:00.123456Z"),
        ("2024-12-31T23:59:59.999999-01:00", "2025-01-01T00:59:59.999999Z"),
        ("2024-02-29T00:00:00,500000Z", "2024-02-29T00:00:00.500000Z"),
    ],
)
def test_micro_times_that_go_accepts(wire: str, printed: str) -> None:
    assert kubetime.format_micro(kubetime.parse_micro(wire)) == printed


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (
            "2024-05-01T10:00:00Z",
            'parsing time "2024-05-01T10:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot '
            'parse "Z" as ".000000"',
        ),
        (
            "2024-05-01T10:00:00.1Z",
            'parsing time "2024-05-01T10:00:00.1Z" as "2006-01-02T15:04:05.000000Z07:00": cannot '
            'parse ".1Z" as ".000000"',
        ),
        (
            "2024-05-01 10:00:00.000000Z",
            'parsing time "2024-05-01 10:00:00.000000Z" as "2006-01-02T15:04:05.000000Z07:00": '
            'cannot parse " 10:00:00.000000Z" as "T"',
        ),
        (
            "2024-02-30T10:00:00.000000Z",
            'parsing time "2024-02-30T10:00:00.000000Z": day out of range',
        ),
        (
            "2024-05-01T24:00:00.000000Z",
            'parsing time "2024-05-01T24:00:00.000000Z": hour out of range',
        ),
        (
            "2024-05-01T10:00:00.000000+0200",
            'parsing time "2024-05-01T10:00:00.000000+0200" as '
            '"2006-01-02T15:04:05.000000Z07:00": cannot parse "+0200" as "Z07:00"',
        ),
        (
            "2024-05-01T10:00:00.000000Zjunk",
            'parsing time "2024-05-01T10:00:00.000000Zjunk": extra text: "junk"',
        ),
        ("", 'parsing time "" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "" as "2006"'),
    ],
)
def test_micro_times_that_go_rejects_and_its_words(wire: str, message: str) -> None:
    with pytest.raises(kubetime.GoTimeError) as info:
        kubetime.parse_micro(wire)
    assert str(info.value) == message


def test_times_keep_whole_seconds_and_accept_a_fraction() -> None:
    assert (
        kubetime.format_time(kubetime.parse_time("2024-05-01T10:00:00.987Z"))
        == "2024-05-01T10:00:00Z"
    )
    assert kubetime.parse_time("0001-01-01T00:00:00Z").is_zero


@pytest.mark.parametrize(
    ("seconds", "printed"),
    [
        (0, "0s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (50 * 3600, "2d2h"),
        (400 * 86400, "400d"),
    ],
)
def test_ages_print_as_kubectl_prints_them(seconds: int, printed: str) -> None:
    assert human_duration(seconds) == printed


# -- selectors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("", {"a": "1"}, True),
        ("a=1", {"a": "1"}, True),
        ("a==1,b", {"a": "1", "b": ""}, True),
        ("a!=1", {}, True),
        ("a in (1, 2)", {"a": "2"}, True),
        ("a notin (1,2)", {"a": "2"}, False),
        ("!a", {"b": "1"}, True),
        ("a>5", {"a": "10"}, True),
        ("a<5", {"a": "x"}, False),
    ],
)
def test_label_selectors_match_as_apimachinery(
    selector: str, labels: dict[str, str], matches: bool
) -> None:
    assert parse_label_selector(selector).matches(labels) is matches


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        (
            "a>b",
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
    ],
)
def test_bad_label_selectors_are_worded_as_apimachinery(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(selector)
    assert str(info.value) == message


def test_field_selectors_parse_escapes_and_pin_names() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b,metadata.namespace!=x")
    assert selector.requires_exact("metadata.name") == "a,b"
    assert selector.matches({"metadata.name": "a,b", "metadata.namespace": "y"})
    assert not selector.matches({"metadata.name": "a,b", "metadata.namespace": "x"})
    with pytest.raises(
        SelectorError, match="invalid selector: 'nonsense'; can't understand 'nonsense'"
    ):
        parse_field_selector("nonsense")


# -- request info -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        (
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/ns/leases/x",
            {},
            ("get", "leases", "ns", "x"),
        ),
        (
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/ns/leases",
            {},
            ("list", "leases", "ns", ""),
        ),
        (
            "GET",
            "/apis/coordination.k8s.io/v1/leases",
            {"watch": ["1"]},
            ("watch", "leases", "", ""),
        ),
        (
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/ns/leases",
            {"watch": ["true"], "fieldSelector": ["metadata.name=x"]},
            ("watch", "leases", "ns", "x"),
        ),
        ("GET", "/api/v1/watch/namespaces/ns/configmaps/c", {}, ("watch", "configmaps", "ns", "c")),
        (
            "DELETE",
            "/api/v1/namespaces/ns/configmaps",
            {},
            ("deletecollection", "configmaps", "ns", ""),
        ),
        ("GET", "/api/v1/namespaces/ns", {}, ("get", "namespaces", "ns", "ns")),
        ("PATCH", "/api/v1/namespaces/ns/events/e", {}, ("patch", "events", "ns", "e")),
    ],
)
def test_request_info_follows_kube_apiserver(
    method: str, path: str, query: dict[str, list[str]], expected: tuple[str, ...]
) -> None:
    info = requestinfo.parse(method, path, query)
    assert info.is_resource
    assert (info.verb, info.resource, info.namespace, info.name) == expected


def test_non_resource_paths_use_the_method_as_verb() -> None:
    info = requestinfo.parse("GET", "/version", {})
    assert (info.is_resource, info.verb) == (False, "get")


# -- decoding -----------------------------------------------------------------------------------


def test_decoding_lays_objects_out_as_go_marshals_them() -> None:
    obj, unknown = decode(
        LEASE,
        loads(
            b'{"spec":{"leaseTransitions":0,"holderIdentity":null,"x":1},"metadata":{"labels":{"b":"2","a":"1"},"name":"n"}}'
        ),
    )
    assert unknown == ["spec.x"]
    assert list(obj) == ["metadata", "spec"]
    assert obj["spec"] == {"leaseTransitions": 0}
    assert list(obj["metadata"]["labels"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"spec":{"leaseDurationSeconds":1.5}}',
            "json: cannot unmarshal number 1.5 into Go struct field "
            "LeaseSpec.spec.leaseDurationSeconds of type int32",
        ),
        (
            b'{"spec":{"leaseDurationSeconds":3000000000}}',
            "json: cannot unmarshal number 3000000000 into Go struct field "
            "LeaseSpec.spec.leaseDurationSeconds of type int32",
        ),
        (
            b'{"spec":"x"}',
            "json: cannot unmarshal string into Go struct field Lease.spec of type v1.LeaseSpec",
        ),
        (
            b'{"metadata":{"labels":{"a":1}}}',
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of "
            "type string",
        ),
        (
            b'{"spec":{"renewTime":5}}',
            "json: cannot unmarshal number into Go struct field LeaseSpec.spec.renewTime of type "
            "string",
        ),
    ],
)
def test_type_errors_are_worded_as_encoding_json(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(LEASE, loads(body))
    assert str(info.value) == message


def test_output_escapes_html_characters_as_go_does() -> None:
    assert dumps({"a": "<&>"}) == b'{"a":"\\u003c\\u0026\\u003e"}\n'


def test_field_errors_aggregate_as_apimachinery() -> None:
    one = FieldError.invalid("spec.a", 0, "must be positive")
    two = FieldError.required("metadata.name", "name or generateName is required")
    assert aggregate_message([one]) == "spec.a: Invalid value: 0: must be positive"
    assert aggregate_message([one, two, one]) == (
        "[spec.a: Invalid value: 0: must be positive, "
        "metadata.name: Required value: name or generateName is required]"
    )


# -- patches -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "merge", "result"),
    [
        ({"a": 1, "b": {"c": 2}}, {"b": {"c": None, "d": 3}}, {"a": 1, "b": {"d": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1}, {"a": {"b": None}}, {"a": {}}),
    ],
)
def test_json_merge_patch_follows_rfc_7386(document: Any, merge: Any, result: Any) -> None:
    assert patch.json_merge_patch(document, merge) == result


def test_strategic_merge_patch_directives() -> None:
    document = {
        "metadata": {
            "finalizers": ["a", "b"],
            "ownerReferences": [{"uid": "1", "name": "x"}, {"uid": "2", "name": "y"}],
            "labels": {"k": "v", "z": "1"},
        },
        "spec": {"holderIdentity": "h"},
    }
    result = patch.strategic_merge_patch(
        document,
        {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": ["a"],
                "ownerReferences": [{"uid": "2", "$patch": "delete"}, {"uid": "3", "name": "z"}],
                "labels": {"$patch": "replace", "only": "this"},
            },
            "spec": {"$patch": "delete"},
        },
        LEASE,
    )
    assert result["metadata"]["finalizers"] == ["b"]
    assert result["metadata"]["ownerReferences"] == [
        {"uid": "1", "name": "x"},
        {"uid": "3", "name": "z"},
    ]
    assert result["metadata"]["labels"] == {"only": "this"}
    assert "spec" not in result


@pytest.mark.parametrize(
    ("operations", "result"),
    [
        ([{"op": "add", "path": "/a/-", "value": 3}], {"a": [1, 2, 3], "b": {"c": "x"}}),
        ([{"op": "remove", "path": "/a/-1"}], {"a": [1], "b": {"c": "x"}}),
        ([{"op": "move", "from": "/b/c", "path": "/d"}], {"a": [1, 2], "b": {}, "d": "x"}),
        (
            [{"op": "copy", "from": "/b", "path": "/e"}],
            {"a": [1, 2], "b": {"c": "x"}, "e": {"c": "x"}},
        ),
        ([{"op": "test", "path": "/a/0", "value": 1.0}], {"a": [1, 2], "b": {"c": "x"}}),
    ],
)
def test_json_patch_follows_rfc_6902(operations: Any, result: Any) -> None:
    assert patch.json_patch({"a": [1, 2], "b": {"c": "x"}}, operations) == result


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "test", "path": "/a", "value": True}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "remove", "path": "/a/9"}],
        [{"op": "frobnicate", "path": "/a"}],
    ],
)
def test_json_patches_that_do_not_apply_are_422(operations: Any) -> None:
    with pytest.raises(patch.PatchError) as info:
        patch.json_patch({"a": 1}, operations)
    assert info.value.code == 422


def test_go_formats_patch_maps_like_fmt() -> None:
    assert (
        patch.go_format({"b": [1, "x"], "a": None, "c": {"d": True}})
        == "map[a:<nil> b:[1 x] c:map[d:true]]"
    )
