"""Fixtures for the tests of the embedded server (leader_election.testing).

The conformance tests take a ``target``: the embedded ``LeaseAPIServer`` and, when the
environment variable ``LEADER_ELECTION_E2E_KUBECONFIG`` names a kubeconfig, a real cluster too
(the ``e2e`` parameter is skipped with a reason otherwise). Both are reached the same way:
through a kubeconfig loaded by the official client, so a conformance test asserts only what a
real kube-apiserver also does. Each test gets its own namespace, deleted afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from leader_election.testing import LeaseAPIServer

E2E_ENV = "LEADER_ELECTION_E2E_KUBECONFIG"


@dataclass
class Target:
    """Where a conformance test runs: the embedded server or a real cluster."""

    name: str
    kubeconfig: str
    server: LeaseAPIServer | None = None
    _clients: list[Any] = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return self.server is not None

    def api_client(self) -> Any:
        """A new ``ApiClient`` loaded from the target's kubeconfig (closed at teardown)."""
        api_client = config.new_client_from_config(config_file=self.kubeconfig)
        self._clients.append(api_client)
        return api_client

    def close(self) -> None:
        for api_client in self._clients:
            api_client.close()
            api_client.rest_client.pool_manager.clear()
        self._clients.clear()


@pytest.fixture(params=["embedded", pytest.param("e2e", marks=pytest.mark.e2e)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "e2e":
        path = os.environ.get(E2E_ENV)
        if not path:
            pytest.skip(
                f"{E2E_ENV} is not set; set it to a kubeconfig to run against a real cluster"
            )
        found = Target("e2e", path)
        try:
            yield found
        finally:
            found.close()
        return
    with LeaseAPIServer() as server:
        found = Target("embedded", server.kubeconfig_path, server)
        try:
            yield found
        finally:
            found.close()


@pytest.fixture
def api(target: Target) -> Any:
    """An admin ``ApiClient`` for the target."""
    return target.api_client()


@pytest.fixture
def namespace(api: Any) -> Iterator[str]:
    """A fresh namespace, deleted after the test."""
    core = client.CoreV1Api(api)
    name = f"le-conformance-{secrets.token_hex(4)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def leases(api: Any) -> Any:
    return client.CoordinationV1Api(api)


@pytest.fixture
def core(api: Any) -> Any:
    return client.CoreV1Api(api)
