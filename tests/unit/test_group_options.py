"""LeaderElectionGroup options: validated at configuration time, naming the option."""

from __future__ import annotations

from typing import Any

import pytest

from leader_election import ConfigurationError, LeaderElectionGroup, MisuseError


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({}, "lease_names"),
        ({"lease_names": ["a"], "shards": 2, "lease_prefix": "a"}, "lease_names"),
        ({"shards": 3}, "lease_prefix"),
        ({"shards": 0, "lease_prefix": "w"}, "shards"),
        ({"shards": True, "lease_prefix": "w"}, "shards"),
        ({"lease_names": ["a", "b"]}, "group_name"),
        ({"lease_names": ["a", "a"], "group_name": "g"}, "lease_names"),
        ({"lease_names": "a", "group_name": "g"}, "lease_names"),
        ({"lease_names": ["Bad_Name"], "group_name": "g"}, "lease_name"),
        ({"lease_names": ["a"], "group_name": "G"}, "group_name"),
        ({"shards": 2, "lease_prefix": "w", "renewal_interval": 10}, "renewal_interval"),
        ({"shards": 2, "lease_prefix": "w", "await_leadership": True}, "await_leadership"),
        ({"shards": 2, "lease_prefix": "w", "lease_name": "x"}, "lease_name"),
    ],
)
def test_invalid_options_name_the_option(options: dict[str, Any], option: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        LeaderElectionGroup.for_root(**options)
    assert caught.value.option == option


def test_shards_name_the_leases_after_the_prefix() -> None:
    group = LeaderElectionGroup.for_root(shards=3, lease_prefix="work", renewal_interval=5000)
    assert group.lease_names == ("work-0", "work-1", "work-2")
    assert group.group_name == "work"
    assert group.options.election.renewal_interval.total_seconds() == 5.0
    assert group.held == frozenset()
    assert not group.is_leader("work-1")
    with pytest.raises(MisuseError):
        group.is_leader("other")


def test_options_of_an_async_group_come_from_its_factory_at_start() -> None:
    group = LeaderElectionGroup.for_root_async(use_factory=lambda: {"shards": 2})
    with pytest.raises(MisuseError):
        _ = group.options
