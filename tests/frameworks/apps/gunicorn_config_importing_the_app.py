"""A gunicorn configuration module that imports the application (to read settings from it,
say): the master sets the app up while loading its configuration, before any fork."""

import flask_app

workers = 2
proc_name = f"test-{flask_app.app.name}"
