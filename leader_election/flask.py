"""Flask integration: ``LeaderElection``, an extension that runs one election per application.

::

    from flask import Flask
    from leader_election.flask import LeaderElection

    election_ext = LeaderElection()          # or LeaderElection(app)

    @election_ext.run_while_leader
    def sweep(stop_event): ...               # runs on the leader only, until it loses

    def create_app():
        app = Flask(__name__)
        app.config["LEADER_ELECTION_LEASE_NAME"] = "my-app"
        election_ext.init_app(app)
        return app

Options come from ``app.config`` keys ``LEADER_ELECTION_<OPTION>`` (the ``for_root`` option
names in upper case), validated as ``for_root`` validates them. The election starts in the
process that serves the application only (see ``init_app``) and releases the Lease at process
exit and on SIGTERM/SIGINT. Needs Flask: ``pip install 'leader-election[flask]'``.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from leader_election import serving

try:
    import flask
    from flask import Blueprint, Flask, current_app, has_app_context
except ImportError as exc:  # pragma: no cover - exercised by a test that hides flask
    raise serving.missing_extra("leader_election.flask", "Flask", "flask") from exc

from leader_election.errors import ConfigurationError, MisuseError
from leader_election.health import health_report
from leader_election.module import LeaderElectionModule
from leader_election.options import LeaderElectionOptions

__all__ = ["CONFIG_PREFIX", "EXTENSION_KEY", "LeaderElection"]

CONFIG_PREFIX = serving.PREFIX
EXTENSION_KEY = "leader_election"
"""The key of ``app.extensions`` under which an application's ``LeaderElectionModule`` is."""
DEFAULT_HEALTH_URL = "/healthz/leader-election"

_OPTION_KEYS = {
    CONFIG_PREFIX + f.name.upper(): f.name for f in dataclasses.fields(LeaderElectionOptions)
}
_INTEGRATION_KEYS = {
    CONFIG_PREFIX + "AUTOSTART",
    CONFIG_PREFIX + "COMMANDS",
    CONFIG_PREFIX + "HEALTH_URL",
    CONFIG_PREFIX + "FACTORY",
}

F = TypeVar("F", bound=Callable[..., Any])
Job = Callable[[Any], Any]


class LeaderElection:
    """The Flask extension: ``LeaderElection(app)`` or ``LeaderElection()`` + ``init_app(app)``.

    ``overrides`` are ``for_root`` options (``lease_name=...``) that take precedence over
    ``app.config``; ``options_factory(app)`` computes options when the election starts, as
    ``for_root_async``'s factory does (a dict merged over the configured options, a
    ``LeaderElectionOptions`` used as is, or an awaitable of either). Invalid ``overrides``
    raise ``ConfigurationError`` here.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        options_factory: Callable[[Flask], Any] | None = None,
        **overrides: Any,
    ) -> None:
        if overrides:
            LeaderElectionOptions.from_mapping(overrides, source="LeaderElection()")
        if options_factory is not None and not callable(options_factory):
            raise ConfigurationError(
                f"options_factory={options_factory!r}: must be callable (called with the app)",
                option="options_factory",
                value=options_factory,
            )
        self._overrides = dict(overrides)
        self._options_factory = options_factory
        self._jobs: list[tuple[Job, str | None]] = []
        # The modules this extension made, one per application; never the applications.
        self._elections: list[LeaderElectionModule] = []
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Configure the election of ``app`` and start it where ``app`` is served.

        Configuration keys (all optional):

        - ``LEADER_ELECTION_LEASE_NAME``, ``_NAMESPACE``, ``_RENEWAL_INTERVAL`` (ms),
          ``_LEASE_DURATION`` (ms), ``_RENEW_DEADLINE`` (ms), ``_IDENTITY``,
          ``_LOG_AT_LEVEL``, ``_AWAIT_LEADERSHIP``, ``_RELEASE_ON_STOP``,
          ``_HANDLE_SIGNALS``, ``_KUBECONFIG``, ``_API_CLIENT``, ``_CLOCK``: the
          ``for_root`` options, with its defaults and validation.
        - ``LEADER_ELECTION_FACTORY``: a callable (or ``"package.module:name"``) called with
          the app when the election starts, like ``options_factory``.
        - ``LEADER_ELECTION_AUTOSTART`` (default: unset): start where the app is served —
          in a gunicorn or uWSGI worker (after the fork when the master preloads the app),
          in the child of ``flask run``'s reloader, in ``flask run`` without reloader, or in
          a plain process; never in the reloader's watcher, under ``app.testing``, or during
          other ``flask`` commands. Unset, not under pytest either (importing a module that
          creates the app must not start it); True: under pytest too. False: never; call
          ``ext.election.start()`` yourself. ``True``/``False`` or ``"true"``/``"false"``
          (``serving.parse_flag``).
        - ``LEADER_ELECTION_COMMANDS``: names of ``flask`` commands that start it too (a
          long-running custom command); a list or a comma-separated string.
        - ``LEADER_ELECTION_HEALTH_URL`` (default ``/healthz/leader-election``): where the
          health view is routed (endpoint ``leader_election.health``); empty or None: no view.

        Raises ``ConfigurationError`` for an unknown ``LEADER_ELECTION_*`` key or an invalid
        value, and ``MisuseError`` when ``app`` already has a ``LeaderElection``.
        """
        if EXTENSION_KEY in app.extensions:
            raise MisuseError(
                f"{app!r} already has a LeaderElection (app.extensions[{EXTENSION_KEY!r}]); "
                "init_app runs once per application: use that one (LeaderElection.election), "
                "or create the application again from its factory"
            )
        config = app.config
        options = _options_from_config(config)
        options.update(self._overrides)
        try:
            LeaderElectionOptions.from_mapping(options)
        except ConfigurationError as exc:
            raise _config_error(exc, self._overrides) from exc
        factory = self._options_factory or _factory_from_config(config)
        if factory is None:
            election = LeaderElectionModule.for_root(options)
        else:
            election = LeaderElectionModule.for_root_async(
                use_factory=_AppFactory(factory, app, options)
            )
        for fn, name in self._jobs:
            election.run_while_leader(fn, name=name)
        app.extensions[EXTENSION_KEY] = election
        self._elections.append(election)

        health_url = config.get(CONFIG_PREFIX + "HEALTH_URL", DEFAULT_HEALTH_URL)
        if health_url:
            blueprint = Blueprint(EXTENSION_KEY, __name__)
            blueprint.add_url_rule(str(health_url), "health", _health_view, methods=["GET"])
            app.register_blueprint(blueprint)

        serving.place(election, _verdict(app), integration=f"Flask app {app.name!r}")

    # -- what the application uses ---------------------------------------------------------
    @property
    def election(self) -> LeaderElectionModule:
        """The ``LeaderElectionModule`` of the current application.

        Outside an application context: the only application this extension was
        initialized with. Raises ``MisuseError`` when that is ambiguous or none.
        """
        if has_app_context():
            return self.get_election(current_app)
        if len(self._elections) == 1:
            return self._elections[0]
        if not self._elections:
            raise MisuseError("LeaderElection.election: init_app(app) has not been called yet")
        raise MisuseError(
            "LeaderElection.election: this extension serves several applications; use it "
            "within an application context, or get_election(app)"
        )

    def get_election(self, app: Flask) -> LeaderElectionModule:
        """The ``LeaderElectionModule`` of ``app``; ``MisuseError`` before ``init_app(app)``."""
        election = app.extensions.get(EXTENSION_KEY)
        if not isinstance(election, LeaderElectionModule):
            raise MisuseError(f"{app!r} has no LeaderElection: call init_app(app) first")
        return election

    @property
    def is_leader(self) -> bool:
        """``election.is_leader`` of the current application."""
        return self.election.is_leader

    def run_while_leader(self, fn: Job | None = None, *, name: str | None = None) -> Any:
        """Decorator: run ``fn(stop_event)`` on a thread during each leadership term.

        Registered on every application initialized with this extension, before or after
        the decoration. ``stop_event`` is set the moment leadership is lost; return then.
        """

        def register(job: Job) -> Job:
            self._jobs.append((job, name))
            for election in self._elections:
                election.run_while_leader(job, name=name)
            return job

        return register(fn) if fn is not None else register

    def leader_only(self, fn: F) -> F:
        """Decorator: the call runs only while the current application's election leads;
        otherwise it returns None (``LeaderElectionModule.leader_only`` of that election)."""
        return serving.leader_only(lambda: self.election, fn)


def _health_view() -> flask.Response:
    report = health_report(current_app.extensions[EXTENSION_KEY])
    response = flask.jsonify(report.body)
    response.status_code = report.status
    response.headers["Cache-Control"] = "no-store"
    return response


# -- configuration -------------------------------------------------------------------------
def _options_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, value in config.items():
        if not key.startswith(CONFIG_PREFIX) or key in _INTEGRATION_KEYS:
            continue
        name = _OPTION_KEYS.get(key)
        if name is None:
            known = sorted([*_OPTION_KEYS, *_INTEGRATION_KEYS])
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigurationError(
                f"app.config[{key!r}]: unknown leader-election setting{hint} Known: "
                + ", ".join(known),
                option=key,
                value=value,
            )
        options[name] = value
    return options


def _config_error(exc: ConfigurationError, overrides: Mapping[str, Any]) -> ConfigurationError:
    """Name the app.config key in an option error that came from the configuration."""
    option = exc.option
    if option is None or option in overrides:
        return exc
    key = CONFIG_PREFIX + option.upper()
    return ConfigurationError(f"app.config[{key!r}]: {exc}", option=key, value=exc.value)


def _factory_from_config(config: Mapping[str, Any]) -> Callable[[Flask], Any] | None:
    key = CONFIG_PREFIX + "FACTORY"
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        from werkzeug.utils import import_string  # noqa: PLC0415 - only when configured

        try:
            value = import_string(value)
        except ImportError as exc:
            raise ConfigurationError(
                f"app.config[{key!r}]={config[key]!r}: cannot be imported: {exc}",
                option=key,
                value=config[key],
            ) from exc
    if not callable(value):
        raise ConfigurationError(
            f"app.config[{key!r}]={value!r}: must be a callable taking the app, or its "
            "import path ('package.module:name')",
            option=key,
            value=value,
        )
    factory: Callable[[Flask], Any] = value
    return factory


class _AppFactory:
    """for_root_async's factory: the user's factory called with the app, merged over config."""

    def __init__(self, factory: Callable[[Flask], Any], app: Flask, base: dict[str, Any]):
        self._factory = factory
        self._app = app
        self._base = base
        # The module names the factory in its errors by this.
        self.__qualname__ = getattr(factory, "__qualname__", repr(factory))

    def __call__(self) -> Any:
        result = self._factory(self._app)
        if inspect.isawaitable(result):
            return self._merge_later(result)
        return self._merge(result)

    async def _merge_later(self, result: Awaitable[Any]) -> Any:
        return self._merge(await result)

    def _merge(self, result: Any) -> Any:
        if isinstance(result, Mapping):
            return {**self._base, **result}
        return result  # LeaderElectionOptions as is; anything else is reported by the module


# -- where to start ------------------------------------------------------------------------
def _flask_command() -> tuple[str, bool] | None:
    """(name, uses the reloader) of the ``flask`` command being run; None outside the CLI.

    The name is ``""`` while the ``flask`` group itself loads the app (``flask --help``,
    looking up an app-defined command).
    """
    import click  # noqa: PLC0415 - Flask's own dependency
    from flask.cli import FlaskGroup  # noqa: PLC0415
    from flask.helpers import get_debug_flag  # noqa: PLC0415

    ctx = click.get_current_context(silent=True)
    if ctx is None or not isinstance(ctx.find_root().command, FlaskGroup):
        return None
    if isinstance(ctx.command, FlaskGroup):
        # FlaskGroup.get_command loads the app to look up a command the app defines: that
        # command's context does not exist yet, its name is get_command's argument.
        return _command_being_looked_up(), False
    name = ctx.command.name or ""
    if name != "run":
        return name, False
    reload = ctx.params.get("reload")
    return name, bool(get_debug_flag() if reload is None else reload)


def _command_being_looked_up() -> str:
    from flask.cli import FlaskGroup  # noqa: PLC0415

    for frame in serving.stack():
        if frame.f_code.co_name == "get_command" and isinstance(
            frame.f_locals.get("self"), FlaskGroup
        ):
            name = frame.f_locals.get("name")
            return name if isinstance(name, str) else ""
    return ""  # flask --help, listing the commands


def _config_key(key: str) -> str:
    return f"app.config[{key!r}]"


def _autostart(config: Mapping[str, Any]) -> bool | None:
    value = config.get(serving.AUTOSTART)
    return serving.parse_autostart(value, where=_config_key(serving.AUTOSTART))


def _commands(config: Mapping[str, Any]) -> frozenset[str]:
    value = config.get(serving.COMMANDS)
    return serving.parse_names(
        serving.COMMANDS, value, what="flask command", where=_config_key(serving.COMMANDS)
    )


def _verdict(app: Flask) -> serving.Verdict:
    return serving.startup_verdict(
        _autostart(app.config),
        setting=serving.AUTOSTART,
        remedy="call start() on LeaderElection.election",
        rules=lambda: _rules(app),
    )


def _rules(app: Flask) -> serving.Verdict:
    """Where Flask's application is served (``init_app``'s docstring)."""
    here, nowhere = serving.Placement.HERE, serving.Placement.NOWHERE
    commands = _commands(app.config)
    if app.testing:
        return serving.Verdict(nowhere, "app.testing is set; start it in the test that needs it")
    server = serving.server_verdict()
    if server is not None:
        return server
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return serving.Verdict(here, "the Werkzeug reloader's serving child")
    command = _flask_command()
    if command is not None:
        name, reloader = command
        if name == "run":
            if reloader:
                return serving.Verdict(
                    nowhere, "the Werkzeug reloader's watcher; its serving child starts it"
                )
            return serving.Verdict(here, "flask run")
        if name in commands:
            return serving.Verdict(here, f"flask {name} (LEADER_ELECTION_COMMANDS)")
        shown = f"flask {name}" if name else "the flask command"
        return serving.Verdict(
            nowhere, f"{shown} does not serve; list it in LEADER_ELECTION_COMMANDS to start there"
        )
    return serving.Verdict(here, "this process serves the application")
