"""LeaderElectionOptions: defaults, units, coercion and the messages of every rule."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from leader_election import ConfigurationError, LeaderElectionOptions

SECOND = datetime.timedelta(seconds=1)


def test_defaults_mirror_the_nestjs_module() -> None:
    options = LeaderElectionOptions()
    assert options.lease_name == "nestjs-leader-election"
    assert options.namespace == "default"
    assert options.renewal_interval == 10 * SECOND
    assert options.lease_duration == 20 * SECOND  # twice the renewal interval
    assert options.renew_deadline == 15 * SECOND  # midway: interval < deadline < duration
    assert options.log_at_level == "log"
    assert options.await_leadership is False
    assert options.release_on_stop is True


def test_each_options_object_gets_its_own_identity() -> None:
    assert LeaderElectionOptions().identity != LeaderElectionOptions().identity


@pytest.mark.parametrize(
    "value",
    [2000, 2000.0, "2000", " 2000 ", datetime.timedelta(seconds=2)],
    ids=["int ms", "float ms", "numeric string", "padded string", "timedelta"],
)
def test_durations_accept_milliseconds_strings_and_timedeltas(value: object) -> None:
    options = LeaderElectionOptions(renewal_interval=value)  # type: ignore[arg-type]
    assert options.renewal_interval == 2 * SECOND
    assert options.lease_duration == 4 * SECOND


def test_lease_duration_rounds_up_to_whole_seconds_by_default() -> None:
    options = LeaderElectionOptions(renewal_interval=300)  # type: ignore[arg-type]
    assert options.lease_duration == SECOND
    assert options.lease_duration_seconds == 1
    assert options.renew_deadline == datetime.timedelta(milliseconds=650)


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"renewal_interval": 10}, ["renewal_interval=10", "10 ms", "did you mean 10000"]),
        ({"renewal_interval": 0}, ["renewal_interval=0", "must be positive"]),
        ({"renewal_interval": -5}, ["must be positive"]),
        ({"renewal_interval": "ten"}, ["renewal_interval='ten'", "milliseconds"]),
        ({"renewal_interval": True}, ["renewal_interval=True", "milliseconds"]),
        ({"renewal_interval": float("nan")}, ["finite"]),
        ({"renewal_interval": 10**12}, ["more than a day"]),
        ({"lease_duration": 15500}, ["lease_duration=15500", "whole seconds", "15000 or 16000"]),
        ({"lease_duration": 10000}, ["lease_duration=10000", "longer than renewal_interval"]),
        ({"renew_deadline": 20000}, ["renew_deadline=20000", "below lease_duration (20 s)"]),
        ({"renew_deadline": 5000}, ["renew_deadline=5000", "longer than renewal_interval"]),
        ({"lease_name": "My_Lease"}, ["lease_name='My_Lease'", "RFC 1123 subdomain"]),
        ({"lease_name": ""}, ["lease_name=''", "RFC 1123 subdomain"]),
        ({"lease_name": "a" * 254}, ["at most 253 characters"]),
        ({"namespace": "team.a"}, ["namespace='team.a'", "RFC 1123 label"]),
        ({"namespace": 7}, ["namespace=7", "must be a string"]),
        ({"identity": ""}, ["identity=''", "non-empty"]),
        ({"identity": "a\nb"}, ["printable"]),
        ({"log_at_level": "verbose"}, ["log_at_level='verbose'", "'log'", "'debug'"]),
        ({"await_leadership": "maybe"}, ["await_leadership='maybe'", "boolean"]),
        ({"kubeconfig": "/nonexistent/kubeconfig"}, ["kubeconfig=", "no such file"]),
        ({"api_client": object()}, ["api_client=", "ApiClient"]),
    ],
)
def test_bad_values_name_the_option_the_value_and_the_rule(
    kwargs: dict[str, object], fragments: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as info:
        LeaderElectionOptions(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert info.value.option == next(iter(kwargs))
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), ("Yes", True), ("false", False), ("0", False), ("", False)],
)
def test_booleans_from_environment_strings(raw: str, expected: bool) -> None:
    options = LeaderElectionOptions(await_leadership=raw)  # type: ignore[arg-type]
    assert options.await_leadership is expected


def test_from_mapping_rejects_unknown_names_with_the_closest_one() -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown option 'renewal_intervall'.*'renewal_interval'"
    ):
        LeaderElectionOptions.from_mapping({"renewal_intervall": 1000})


def test_from_mapping_accepts_the_nestjs_camel_case_names() -> None:
    options = LeaderElectionOptions.from_mapping(
        {"leaseName": "my-app", "namespace": "jobs", "renewalInterval": "5000"}
    )
    assert (options.lease_name, options.namespace) == ("my-app", "jobs")
    assert options.renewal_interval == 5 * SECOND


def test_from_mapping_refuses_a_name_given_twice() -> None:
    with pytest.raises(ConfigurationError, match="given twice"):
        LeaderElectionOptions.from_mapping({"leaseName": "a", "lease_name": "b"})


def test_from_mapping_prefixes_the_source() -> None:
    with pytest.raises(ConfigurationError, match=r"^my factory: renewal_interval=10"):
        LeaderElectionOptions.from_mapping({"renewal_interval": 10}, source="my factory")


def test_kubeconfig_and_api_client_are_exclusive(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "config"
    path.write_text("apiVersion: v1\nkind: Config\n")

    class FakeClient:
        configuration = None

    with pytest.raises(ConfigurationError, match="not both"):
        LeaderElectionOptions(kubeconfig=str(path), api_client=FakeClient())


def test_a_kubeconfig_directory_is_named_as_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory"):
        LeaderElectionOptions(kubeconfig=str(tmp_path))


def test_standalone_is_allowed_by_default_and_takes_environment_strings() -> None:
    assert LeaderElectionOptions().standalone is True
    assert LeaderElectionOptions(standalone="false").standalone is False  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [1, 244, 253])
def test_a_forked_child_of_any_valid_identity_is_valid_too(length: int) -> None:
    from leader_election.options import forked_identity

    identity = "a" * length
    for _ in range(3):  # a child, a grandchild, a great-grandchild
        identity = forked_identity(identity)
        assert LeaderElectionOptions(identity=identity).identity == identity


def test_an_identity_longer_than_253_is_refused_with_its_length() -> None:
    with pytest.raises(ConfigurationError, match=r"at most 253 .*it has 254"):
        LeaderElectionOptions(identity="a" * 254)


def test_a_default_identity_fits_even_with_a_long_pod_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "p" * 253)
    assert len(LeaderElectionOptions().identity) == 253
