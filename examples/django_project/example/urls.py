from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from leader_election.django import get_election


def index(request: HttpRequest) -> JsonResponse:
    election = get_election()
    return JsonResponse(
        {
            "identity": election.identity,
            "leader": election.is_leader,
            "current_leader": election.leader_identity,
        }
    )


urlpatterns = [
    path("", index),
    path("", include("leader_election.django.urls")),  # GET /healthz/leader-election
]
