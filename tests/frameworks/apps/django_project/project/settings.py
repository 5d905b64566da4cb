"""Settings of the test project: the election from ``TEST_LEADER_ELECTION`` (JSON)."""

import json
import os

SECRET_KEY = "test-only"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "leader_election.django",
    "project",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TEST_DATABASE", ":memory:"),
    }
}
LEADER_ELECTION = json.loads(os.environ.get("TEST_LEADER_ELECTION", "{}"))
LEADER_ELECTION_COMMANDS = ["serve_forever"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"pid": {"format": "%(process)d %(name)s %(levelname)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "pid"}},
    "loggers": {"leader_election": {"handlers": ["stderr"], "level": "DEBUG"}},
}
