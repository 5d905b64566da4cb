"""pytest plugin (entry point ``leader_election``): fixtures for testing leader-only code.

Installed with the package, so any project that depends on ``leader_election`` gets:

``lease_api_server``
    A started ``LeaseAPIServer`` (plain HTTP, no authentication), one per test, stopped after
    it. Point clients at ``lease_api_server.api_client()`` or ``.kubeconfig_path``.

``lease_api_server_factory``
    A function taking ``LeaseAPIServer`` keyword arguments (``tls=True``, ``rbac=...``,
    ``bookmark_interval=0.5``, ...) and returning a started server; every server it made is
    stopped after the test.

pytest loads this module at start-up in every project that installs the package, so it imports
nothing heavy: the server (and with it the ``kubernetes`` client) is imported by the fixtures,
when a test first uses one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from leader_election.testing.server import LeaseAPIServer

__all__ = ["lease_api_server", "lease_api_server_factory"]


@pytest.fixture
def lease_api_server() -> Iterator[LeaseAPIServer]:
    """A started embedded Lease API server, stopped (threads joined) after the test."""
    from leader_election.testing.server import LeaseAPIServer  # noqa: PLC0415 - see above

    server = LeaseAPIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lease_api_server_factory() -> Iterator[Callable[..., LeaseAPIServer]]:
    """Start servers with custom options: ``lease_api_server_factory(tls=True)``."""
    from leader_election.testing.server import LeaseAPIServer  # noqa: PLC0415 - see above

    servers: list[LeaseAPIServer] = []

    def start(**options: Any) -> LeaseAPIServer:
        server = LeaseAPIServer(**options).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        errors = []
        for server in reversed(servers):
            try:
                server.stop()
            except RuntimeError as exc:  # keep stopping the others, then report
                errors.append(exc)
        if errors:
            raise errors[0]
