"""Django integration: a reusable app that runs one leader election per process.

::

    INSTALLED_APPS = [..., "leader_election.django"]
    LEADER_ELECTION = {"lease_name": "my-app", "namespace": "default", "renewal_interval": 10000}

    # urls.py: GET /healthz/leader-election
    urlpatterns = [..., path("", include("leader_election.django.urls"))]

``LEADER_ELECTION`` takes the ``for_root`` option names. The app's ``ready()`` starts the
election in processes that serve — WSGI/ASGI applications, gunicorn and uWSGI workers,
``runserver``'s autoreloader child — and in the management commands listed in
``LEADER_ELECTION_COMMANDS``; never in other management commands, never twice in a process
(see ``apps.py``), and not under pytest unless ``LEADER_ELECTION_AUTOSTART = True``.
``get_election()`` returns the process's ``LeaderElectionModule``.
``manage.py leader_election_status`` prints the Lease. Needs Django:
``pip install 'leader-election[django]'``.
"""

from __future__ import annotations

from leader_election.serving import missing_extra

try:
    import django  # noqa: F401 - fail here, with the install hint, when Django is missing
except ImportError as exc:  # pragma: no cover - exercised by a test that hides django
    raise missing_extra("leader_election.django", "Django", "django") from exc

from leader_election.django.conf import get_election

__all__ = ["get_election"]
