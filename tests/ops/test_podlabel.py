"""Leader-pod labelling against the embedded API server, through the official client's pool."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from leader_election.apirequest import describe_no_answer
from leader_election.errors import ApiError, ConfigurationError, ForbiddenError
from leader_election.podlabel import (
    PodLabel,
    add_pod_label,
    parse_pod_label,
    pod_name_from_env,
    remove_pod_label,
    remove_pod_label_if_present,
)
from leader_election.testing import LeaseAPIServer
from leader_election.testing.auth import service_account_groups, service_account_username

LEADER = PodLabel("role", "leader")
TIMEOUT = 5.0


# -- the option value --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("role=leader", PodLabel("role", "leader")),
        ("example.com/leader=true", PodLabel("example.com/leader", "true")),
        ("leader=", PodLabel("leader", "")),
        ("a.b_c-d=x.y_z-1", PodLabel("a.b_c-d", "x.y_z-1")),
    ],
)
def test_a_valid_label_parses(value: str, expected: PodLabel) -> None:
    assert parse_pod_label(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("role", "has no '='"),
        ("=leader", "the name is empty"),
        ("-role=leader", "not a valid label key"),
        ("Example.com/role=leader", "must be a DNS subdomain"),
        ("/role=leader", "the prefix before '/' is empty"),
        ("role=lead er", "not a valid label value"),
        ("role=" + "x" * 64, "not a valid label value"),
        ("r" * 64 + "=x", "at most 63 characters"),
    ],
)
def test_an_invalid_label_names_option_value_and_rule(value: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_pod_label(value)
    message = str(caught.value)
    assert message.startswith(f"leader_pod_label={value!r}")
    assert words in message
    assert caught.value.option == "leader_pod_label"


def test_a_missing_pod_name_says_how_to_set_it() -> None:
    with pytest.raises(ConfigurationError, match=r"fieldPath: metadata\.name"):
        pod_name_from_env({})
    assert pod_name_from_env({"POD_NAME": "web-0"}) == "web-0"


# -- against the server ---------------------------------------------------------------------------


def make_pod(api_client: Any, name: str, **labels: str) -> None:
    client.CoreV1Api(api_client).create_namespaced_pod(
        "default",
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        },
    )


def labels(api_client: Any, name: str) -> dict[str, str]:
    pod = client.CoreV1Api(api_client).read_namespaced_pod(name, "default")
    return dict(pod.metadata.labels or {})


@pytest.fixture
def api_client(lease_api_server: LeaseAPIServer) -> Iterator[Any]:
    with lease_api_server.api_client() as api:
        yield api


def test_the_label_is_added_and_removed_keeping_other_labels(api_client: Any) -> None:
    make_pod(api_client, "web-0", app="web")
    add_pod_label(api_client, "default", "web-0", LEADER, timeout=TIMEOUT)
    assert labels(api_client, "web-0") == {"app": "web", "role": "leader"}
    leaders = client.CoreV1Api(api_client).list_namespaced_pod(
        "default", label_selector=LEADER.selector
    )
    assert [p.metadata.name for p in leaders.items] == ["web-0"]
    remove_pod_label(api_client, "default", "web-0", LEADER, timeout=TIMEOUT)
    assert labels(api_client, "web-0") == {"app": "web"}


def test_removing_from_a_pod_that_is_gone_is_not_an_error(api_client: Any) -> None:
    remove_pod_label(api_client, "default", "gone", LEADER, timeout=TIMEOUT)
    assert remove_pod_label_if_present(api_client, "default", "gone", LEADER, timeout=TIMEOUT) is (
        False
    )


def test_the_previous_leaders_label_is_removed_only_while_it_still_carries_it(
    api_client: Any,
) -> None:
    make_pod(api_client, "old", role="leader")
    make_pod(api_client, "relabelled", role="follower")
    make_pod(api_client, "unlabelled")
    assert remove_pod_label_if_present(api_client, "default", "old", LEADER, timeout=TIMEOUT)
    assert labels(api_client, "old") == {}
    assert not remove_pod_label_if_present(
        api_client, "default", "relabelled", LEADER, timeout=TIMEOUT
    )
    assert labels(api_client, "relabelled") == {"role": "follower"}
    assert not remove_pod_label_if_present(
        api_client, "default", "unlabelled", LEADER, timeout=TIMEOUT
    )


def test_a_prefixed_key_is_escaped_in_the_json_patch(api_client: Any) -> None:
    label = parse_pod_label("example.com/leader=yes")
    make_pod(api_client, "web-0")
    add_pod_label(api_client, "default", "web-0", label, timeout=TIMEOUT)
    assert labels(api_client, "web-0") == {"example.com/leader": "yes"}
    assert remove_pod_label_if_present(api_client, "default", "web-0", label, timeout=TIMEOUT)
    assert labels(api_client, "web-0") == {}


def test_without_patch_on_pods_the_error_names_the_verb(lease_api_server_factory: Any) -> None:
    server: LeaseAPIServer = lease_api_server_factory(authentication=True, rbac=True)
    user = service_account_username("default", "app")
    server.add_user(user, service_account_groups("default"))
    make_pod(server.api_client(), "web-0")
    with server.api_client(user=user) as restricted, pytest.raises(ForbiddenError) as caught:
        add_pod_label(restricted, "default", "web-0", LEADER, timeout=TIMEOUT)
    assert 'cannot patch resource "pods"' in str(caught.value)


def test_a_refused_connection_says_refused_and_how_long_it_took() -> None:
    configuration = client.Configuration()
    configuration.host = "http://127.0.0.1:9"  # discard port: nothing listens
    with client.ApiClient(configuration) as api, pytest.raises(ApiError) as caught:
        add_pod_label(api, "default", "web-0", LEADER, timeout=TIMEOUT)
    message = str(caught.value)
    assert "connection refused" in message
    assert f"within {TIMEOUT:.2f} s" not in message
    assert caught.value.status == 0


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError("[Errno 111] Connection refused"), "after 0.35 s: connection refused"),
        (OSError("[Errno -2] Name or service not known"), "the host name does not resolve"),
        (OSError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "TLS failed"),
        (OSError("[Errno 101] Network is unreachable"), "the network is unreachable"),
        (TimeoutError("read timed out"), "no answer from https://k within 10.00 s (timed out)"),
    ],
)
def test_no_answer_is_described_by_its_cause(error: BaseException, words: str) -> None:
    assert words in describe_no_answer(error, "https://k", 0.35, 10.0)
