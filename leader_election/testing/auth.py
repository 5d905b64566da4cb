"""Authentication and RBAC authorization for the embedded server, as kube-apiserver does them.

CONTRACT STUB: the signatures below are the interface the server (``server.py``) calls; the
bodies are being written. Do not change a signature without changing both sides.

Authentication: a bearer token maps to a user; a verified TLS client certificate authenticates
as CN = user, O = groups; no credentials at all is ``system:anonymous``; an unknown token is a
401. Authorization: RBAC over Role / ClusterRole / RoleBinding / ClusterRoleBinding objects
(loadable from YAML such as ``rbac/role.yaml``); ``system:masters`` may do everything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "ANONYMOUS",
    "AllowAll",
    "AuthenticationFailed",
    "Authenticator",
    "Authorizer",
    "RBACAuthorizer",
    "RequestAttributes",
    "UserInfo",
    "forbidden_message",
]


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated (or anonymous) user: name and groups, as kube-apiserver sees them."""

    name: str
    groups: tuple[str, ...] = ()


ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


class AuthenticationFailed(Exception):
    """The credentials were presented but not accepted: the server answers 401 Unauthorized."""


class Authenticator:
    """Maps a request's credentials (bearer token, client certificate) to a ``UserInfo``."""

    def add_token(self, token: str, user: str, groups: Sequence[str] = ()) -> None:
        """Accept ``token`` as ``user`` (members of ``groups`` and ``system:authenticated``)."""
        raise NotImplementedError

    def remove_token(self, token: str) -> None:
        """Stop accepting ``token``; later requests with it get 401."""
        raise NotImplementedError

    def authenticate(
        self, authorization: str | None, client_cert: Mapping[str, Any] | None
    ) -> UserInfo:
        """Return the user for an ``Authorization`` header value and a verified peer certificate.

        ``client_cert`` is ``ssl.SSLSocket.getpeercert()`` of a certificate the server's CA
        verified, or ``None``. A bearer token wins over a certificate. No credentials at all
        returns ``ANONYMOUS``. Raises ``AuthenticationFailed`` for an unknown token or a
        malformed header.
        """
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class RequestAttributes:
    """What RBAC decides on: kube-apiserver's authorizer.Attributes, reduced to our needs."""

    user: UserInfo
    verb: str  # get list watch create update patch delete deletecollection
    api_group: str = ""  # "" for the core group
    resource: str = ""  # plural: "leases", "configmaps", "namespaces", "events"
    namespace: str = ""  # "" for cluster-scoped resources and non-resource requests
    name: str = ""  # "" for list, watch without a name, create, deletecollection
    subresource: str = ""
    resource_request: bool = True
    path: str = ""  # the URL path, for non-resource requests (/api, /version, ...)


class Authorizer(Protocol):
    """Decides whether a request is allowed."""

    def authorize(self, attrs: RequestAttributes) -> bool: ...


class AllowAll:
    """The authorizer of a server without RBAC: everything is allowed."""

    def authorize(self, attrs: RequestAttributes) -> bool:
        return True


class RBACAuthorizer:
    """RBAC as kube-apiserver evaluates it, over Roles and bindings loaded from YAML or dicts."""

    def load(self, source: str | os.PathLike[str]) -> None:
        """Load Role, ClusterRole, RoleBinding and ClusterRoleBinding documents.

        ``source`` is a path to a YAML file (multi-document allowed) or YAML text. Other kinds
        in the file (ServiceAccount, Deployment, ...) are ignored.
        """
        raise NotImplementedError

    def add(self, obj: Mapping[str, Any]) -> None:
        """Add one Role / ClusterRole / RoleBinding / ClusterRoleBinding given as a dict."""
        raise NotImplementedError

    def bind(
        self,
        role: str,
        *,
        namespace: str | None,
        user: str | None = None,
        group: str | None = None,
        service_account: str | None = None,
    ) -> None:
        """Bind a loaded Role (``namespace`` set) or ClusterRole (``namespace=None``) to a subject.

        ``service_account`` is ``"namespace:name"`` and matches the user
        ``system:serviceaccount:namespace:name``.
        """
        raise NotImplementedError

    def authorize(self, attrs: RequestAttributes) -> bool:
        """True when some binding grants the verb; ``system:masters`` is always allowed."""
        raise NotImplementedError


def forbidden_message(attrs: RequestAttributes) -> str:
    """kube-apiserver's 403 message, e.g. ``leases.coordination.k8s.io "x" is forbidden: User
    "u" cannot update resource "leases" in API group "coordination.k8s.io" in the namespace
    "default"``."""
    raise NotImplementedError
