"""Registers the leader-only job when Django starts, in every process; it runs only in the
process that leads (and only where the election starts: see docs/django.md)."""

from django.apps import AppConfig

from leader_election.django import get_election


class ExampleConfig(AppConfig):
    name = "example"

    def ready(self) -> None:
        from example.jobs import sweep_expired_sessions  # noqa: PLC0415 - once apps are loaded

        get_election().run_while_leader(sweep_expired_sessions)
