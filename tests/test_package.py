"""The public surface: what `import leader_election` promises."""

import leader_election


def test_all_is_pinned() -> None:
    assert sorted(leader_election.__all__) == sorted(
        [
            "ApiError",
            "ConfigurationError",
            "ConflictError",
            "ForbiddenError",
            "LeaderElectionError",
            "MisuseError",
            "NotFoundError",
            "__version__",
        ]
    )


def test_version_is_a_string() -> None:
    assert isinstance(leader_election.__version__, str)
