"""Settings of the example project: the leader_election app and its LEADER_ELECTION setting."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

INSTALLED_APPS = [
    "leader_election.django",
    "example",  # its AppConfig.ready() registers the leader-only job
]

# The for_root options; the connection comes from KUBECONFIG (or the pod's service account).
LEADER_ELECTION = {
    "lease_name": "django-example",
    "namespace": os.environ.get("POD_NAMESPACE", "default"),
    "renewal_interval": 2000,  # milliseconds
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(process)d %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "leader_election": {"handlers": ["console"], "level": "INFO"},
        "example": {"handlers": ["console"], "level": "INFO"},
    },
}
