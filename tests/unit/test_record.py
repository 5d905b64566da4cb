"""record.py: Lease <-> LeaseRecord, MicroTime formatting, updates that keep unknown fields."""

from __future__ import annotations

import datetime

import pytest

from leader_election.record import (
    LeaseRecord,
    format_micro_time,
    latest_transitions,
    new_lease_body,
    next_transitions,
    observe,
    parse_micro_time,
    record_from_lease,
    updated_lease_body,
)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 11, 24, 14, 15, 21, 0, UTC)


def test_micro_time_always_has_six_fractional_digits() -> None:
    # kube-apiserver rejects "2026-11-24T14:15:21Z" (what isoformat() gives at 0 microseconds).
    assert format_micro_time(T0) == "2026-11-24T14:15:21.000000Z"
    assert format_micro_time(T0.replace(microsecond=42)) == "2026-11-24T14:15:21.000042Z"


def test_micro_time_is_written_in_utc() -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    assert format_micro_time(T0.astimezone(plus_two)) == "2026-11-24T14:15:21.000000Z"


def test_micro_time_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_micro_time(datetime.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T14:15:21.000000Z", T0),
        ("2026-11-24T14:15:21Z", T0),
        ("2026-11-24T14:15:21.123456789Z", T0.replace(microsecond=123456)),
        ("2026-11-24T16:15:21.5+02:00", T0.replace(microsecond=500000)),
        ("2026-11-24t14:15:21z", T0),
    ],
)
def test_parse_micro_time_accepts_rfc3339_variants(text: str, expected: datetime.datetime) -> None:
    assert parse_micro_time(text) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-13-40T99:99:99Z", 17])
def test_parse_micro_time_returns_none_for_nulls_and_garbage(value: object) -> None:
    assert parse_micro_time(value) is None


def test_record_from_a_lease_written_by_client_go() -> None:
    lease = {
        "metadata": {"name": "x", "resourceVersion": "17"},
        "spec": {
            "holderIdentity": "pod-a_1234",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-11-24T14:15:21.000000Z",
            "renewTime": "2026-11-24T14:15:31.250000Z",
            "leaseTransitions": 4,
        },
    }
    observed = observe(lease)
    assert observed.resource_version == "17"
    assert observed.record == LeaseRecord(
        holder_identity="pod-a_1234",
        lease_duration_seconds=15,
        acquire_time=T0,
        renew_time=T0.replace(second=31, microsecond=250000),
        lease_transitions=4,
    )


@pytest.mark.parametrize(
    "spec",
    [None, {}, {"holderIdentity": None}, {"holderIdentity": ""}, {"acquireTime": None}],
    ids=["no spec", "empty spec", "null holder", "released by client-go", "null time"],
)
def test_records_without_a_holder_are_free(spec: object) -> None:
    lease = {"metadata": {"name": "x"}} if spec is None else {"metadata": {}, "spec": spec}
    record = record_from_lease(lease)
    assert not record.is_held
    assert record.lease_transitions == 0


def test_a_replace_keeps_every_field_it_does_not_own() -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "x", "resourceVersion": "9", "labels": {"app": "a"}},
        "spec": {
            "holderIdentity": "old",
            "leaseDurationSeconds": 15,
            "leaseTransitions": 2,
            "strategy": "OldestEmulationVersion",
            "preferredHolder": "next",
            "futureField": {"kept": True},
        },
    }
    record = LeaseRecord("me", 20, T0, T0, 3)
    body = updated_lease_body(observe(lease), record)
    assert body["metadata"] == lease["metadata"]  # resourceVersion: optimistic concurrency
    assert body["spec"] == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 20,
        "acquireTime": "2026-11-24T14:15:21.000000Z",
        "renewTime": "2026-11-24T14:15:21.000000Z",
        "leaseTransitions": 3,
        "strategy": "OldestEmulationVersion",
        "preferredHolder": "next",
        "futureField": {"kept": True},
    }
    assert lease["spec"]["holderIdentity"] == "old"  # the observed object is never mutated


def test_a_release_writes_an_empty_holder_as_client_go_does() -> None:
    lease = {"metadata": {"name": "x", "resourceVersion": "9"}, "spec": {"holderIdentity": "me"}}
    body = updated_lease_body(observe(lease), LeaseRecord("", 1, T0, T0, 3))
    assert body["spec"]["holderIdentity"] == ""
    assert body["spec"]["leaseDurationSeconds"] == 1


def test_new_lease_body() -> None:
    body = new_lease_body("my-app", "jobs", LeaseRecord("me", 20, T0, T0, 0))
    assert body == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "my-app", "namespace": "jobs"},
        "spec": {
            "holderIdentity": "me",
            "leaseDurationSeconds": 20,
            "acquireTime": "2026-11-24T14:15:21.000000Z",
            "renewTime": "2026-11-24T14:15:21.000000Z",
            "leaseTransitions": 0,
        },
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-1, 0), (0, 1), (41, 42), (2147483646, 2147483647), (2147483647, 0)],
)
def test_the_next_token_wraps_at_the_int32_maximum(value: int, expected: int) -> None:
    assert next_transitions(value) == expected


@pytest.mark.parametrize(
    ("a", "b", "later"),
    [
        pytest.param(3, 4, 4, id="one more is later"),
        pytest.param(3, 0, 3, id="lowered by hand is earlier"),
        pytest.param(-1, 0, 0, id="anything is later than none"),
        pytest.param(2147483647, 0, 0, id="the wrap: 0 is later than the maximum"),
        pytest.param(2147483640, 5, 5, id="just past the wrap"),
        pytest.param(5, 2**30 + 10, 5, id="more than half the circle ahead is behind"),
    ],
)
def test_latest_transitions_is_serial_number_order(a: int, b: int, later: int) -> None:
    assert latest_transitions(a, b) == later
    assert latest_transitions(b, a) == later


@pytest.mark.parametrize(
    ("header", "body", "seconds"),
    [
        ("5", None, 5.0),
        (None, {"details": {"retryAfterSeconds": 3}}, 3.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None, 0.0),
        ("-1", None, 0.0),
        ("86400", None, 3600.0),
        (None, None, 0.0),
    ],
)
def test_retry_after_comes_from_the_header_or_the_status_details(
    header: str | None, body: dict[str, object] | None, seconds: float
) -> None:
    from leader_election.transport import retry_after_seconds

    assert retry_after_seconds(header, body) == seconds
