import os
import time

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from leader_election.django import get_election


def whoami(request: HttpRequest) -> JsonResponse:
    # ?hold=S keeps this worker busy, so that concurrent requests reach the others.
    time.sleep(min(float(request.GET.get("hold", 0)), 1.0))
    election = get_election()
    started = election.state.value != "stopped"
    return JsonResponse(
        {
            "pid": os.getpid(),
            "identity": election.identity if started else None,
            "leader": election.is_leader,
            "state": election.state.value,
        }
    )


async def await_leadership(request: HttpRequest) -> JsonResponse:
    # An async view (under an ASGI server): waits on the event loop, never blocking it.
    election = get_election()
    leading = await election.wait_for_leadership_async(float(request.GET.get("timeout", 0)))
    return JsonResponse({"pid": os.getpid(), "leader": leading, "is_leader": election.is_leader})


urlpatterns = [
    path("whoami", whoami),
    path("await-leadership", await_leadership),
    path("", include("leader_election.django.urls")),
]
