"""The health view: ``GET /healthz/leader-election`` (``leader_election.health``)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from leader_election.django.conf import get_election
from leader_election.health import health_report

__all__ = ["health"]


@require_GET  # type: ignore[untyped-decorator]  # Django ships no type information
def health(request: HttpRequest) -> JsonResponse:
    """200 when ``election.healthy()``, 503 when stuck; JSON body: leader, identity, holder,
    state, lease."""
    report = health_report(get_election())
    response = JsonResponse(report.body, status=report.status)
    response["Cache-Control"] = "no-store"
    return response
