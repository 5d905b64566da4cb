"""``path("", include("leader_election.django.urls"))`` routes ``healthz/leader-election``."""

from __future__ import annotations

from django.urls import path

from leader_election.django.views import health

app_name = "leader_election"
urlpatterns = [path("healthz/leader-election", health, name="health")]
