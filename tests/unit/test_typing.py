"""The typed option keywords name every option of ``LeaderElectionOptions``, no more."""

from __future__ import annotations

import dataclasses
import typing

from leader_election._typing import LeaderElectionOptionsDict
from leader_election.options import LeaderElectionOptions


def test_the_typed_dict_names_every_option_and_only_them() -> None:
    fields = [f.name for f in dataclasses.fields(LeaderElectionOptions)]
    assert list(typing.get_type_hints(LeaderElectionOptionsDict)) == fields
    assert LeaderElectionOptionsDict.__required_keys__ == frozenset()


def test_a_value_of_each_accepted_input_type_is_valid_options() -> None:
    values: LeaderElectionOptionsDict = {
        "lease_name": "typed",
        "renewal_interval": "1000",
        "lease_duration": 3000.0,
        "renew_deadline": 2000,
        "await_leadership": "false",
        "handle_signals": False,
        "log_at_level": "DEBUG",
    }
    options = LeaderElectionOptions.from_mapping(values)
    assert options.lease_duration_seconds == 3


def test_the_module_imports_nothing_beyond_the_standard_library_and_ours() -> None:
    # Run time never needs typing_extensions: for_root imports Unpack under TYPE_CHECKING.
    import leader_election._typing as typing_module

    assert "typing_extensions" not in vars(typing_module)
