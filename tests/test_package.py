"""The public surface: what `import leader_election` promises."""

import leader_election


def test_all_is_pinned() -> None:
    assert sorted(leader_election.__all__) == sorted(
        [
            "ApiError",
            "Clock",
            "ConfigurationError",
            "ConflictError",
            "ElectionObserver",
            "Failure",
            "ForbiddenError",
            "LeaderChangedEvent",
            "LeaderElectedEvent",
            "LeaderElectionError",
            "LeaderElectionGroup",
            "LeaderElectionModule",
            "LeaderElectionOptions",
            "LeaderLostEvent",
            "LostReason",
            "MisuseError",
            "NotFoundError",
            "Op",
            "SkewedClock",
            "State",
            "SystemClock",
            "Term",
            "UnauthorizedError",
            "__version__",
            "leader_changed",
            "leader_elected",
            "leader_lost",
            "on_event",
        ]
    )


def test_every_public_name_exists() -> None:
    for name in leader_election.__all__:
        assert hasattr(leader_election, name), name


def test_event_names_mirror_the_nestjs_module() -> None:
    assert leader_election.LeaderElectedEvent.event == "leader.elected"
    assert leader_election.LeaderLostEvent.event == "leader.lost"
    assert leader_election.leader_elected.name == "leader.elected"
    assert leader_election.leader_lost.name == "leader.lost"
    assert leader_election.leader_changed.name == "leader.changed"


def test_version_is_a_string() -> None:
    assert isinstance(leader_election.__version__, str)
