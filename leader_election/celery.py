"""Celery beat integration: a beat scheduler that sends due tasks only while its process leads.

::

    celery -A proj beat -S leader_election.celery:LeaderElectedScheduler

Run as many beat replicas as you like: each competes for the Lease, and only the leader's
ticks send. ``LeaderElectedScheduler`` is Celery's default ``PersistentScheduler`` made
leader-elected; ``leader_elected(SchedulerClass)`` does the same to any beat scheduler class
(django-celery-beat's ``DatabaseScheduler``: ``leader_elected(DatabaseScheduler)``, also
available as ``leader_election.celery:LeaderElectedDatabaseScheduler``).

Options come from the Celery app's configuration: every ``for_root`` option with the
``leader_election_`` prefix (``leader_election_lease_name``, ``leader_election_namespace``,
``leader_election_renewal_interval`` in milliseconds, ...), validated as ``for_root``
validates them; errors name the key, the value and the rule.

How it behaves:

- a follower's tick sends nothing and asks to be called again within one
  ``renewal_interval`` or one second, whichever is shorter (beat sleeps between ticks and
  cannot be woken), so a new leader sends its first due task within that time;
- every task a leader sends carries its term's fencing token in the message header
  ``leader_election_fencing_token`` (a worker reads it as
  ``task.request.leader_election_fencing_token``), so a worker can refuse a stale leader's
  tasks;
- beat's shutdown (SIGTERM, SIGINT, or a ``Service.stop()``) closes the scheduler, which stops
  the election: the term ends, a tick in progress finishes first (drain), then the Lease is
  released and another replica takes over at once. A SIGTERM that arrives in the middle of a
  tick is held until the tick has returned — Celery's own handler would otherwise run on top
  of the tick, in the same thread, and the drain would wait for a tick that cannot finish.
  For that reason the election does not install its own signal handlers:
  ``leader_election_handle_signals`` must stay false.

Needs Celery: ``pip install 'leader-election[celery]'``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from leader_election import serving

try:
    from celery.beat import PersistentScheduler, Scheduler
except ImportError as exc:  # pragma: no cover - exercised by a test that hides celery
    raise serving.missing_extra("leader_election.celery", "Celery", "celery") from exc

from leader_election.errors import ConfigurationError, MissingExtraError
from leader_election.module import LeaderElectionModule
from leader_election.options import LeaderElectionOptions
from leader_election.work import Term

__all__ = [
    "CONFIG_PREFIX",
    "FENCING_TOKEN_HEADER",
    "LeaderElectedScheduler",
    "leader_elected",
    "options_from_config",
]

logger = logging.getLogger(__name__)

CONFIG_PREFIX = "leader_election_"
"""The prefix of the Celery configuration keys read (``leader_election_lease_name``, ...)."""
FENCING_TOKEN_HEADER = "leader_election_fencing_token"  # noqa: S105 - a header name
"""The message header carrying the sending leader's fencing token (an ``int``)."""

_OPTION_KEYS = {CONFIG_PREFIX + f.name: f.name for f in dataclasses.fields(LeaderElectionOptions)}
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Re-check a tick in progress this often while draining (besides the wake-up at its end).
_DRAIN_POLL = 0.1
# A follower's tick asks beat to call it again within this many seconds at most: beat sleeps
# between ticks and cannot be woken, and a follower's tick reads one attribute, no I/O.
_FOLLOWER_TICK = 1.0


def options_from_config(conf: Mapping[str, Any]) -> LeaderElectionOptions:
    """The ``LeaderElectionOptions`` configured in a Celery app's ``conf``.

    Reads every ``leader_election_<option>`` key. ``handle_signals`` defaults to false and
    may not be true (beat's shutdown stops the election; see the module docstring). Raises
    ``ConfigurationError`` naming the key for an unknown ``leader_election_*`` key or an
    invalid value.
    """
    values: dict[str, Any] = {}
    for key in list(conf.keys()):
        if not isinstance(key, str) or not key.startswith(CONFIG_PREFIX):
            continue
        value = conf[key]
        name = _OPTION_KEYS.get(key)
        if name is None:
            known = sorted(_OPTION_KEYS)
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigurationError(
                f"app.conf.{key}={value!r}: unknown leader-election setting{hint} Known: "
                + ", ".join(known),
                option=key,
                value=value,
            )
        values[name] = value
    key = CONFIG_PREFIX + "handle_signals"
    if "handle_signals" in values:
        try:
            wanted = LeaderElectionOptions.from_mapping(
                {"handle_signals": values["handle_signals"]}
            )
        except ConfigurationError as exc:
            raise _named(exc) from exc
        if wanted.handle_signals:
            raise ConfigurationError(
                f"app.conf.{key}={values['handle_signals']!r}: must be false under celery beat: "
                "beat's own SIGTERM/SIGINT handling closes the scheduler, which drains the "
                "tick in progress and releases the Lease; remove the setting",
                option=key,
                value=values["handle_signals"],
            )
    values["handle_signals"] = False
    try:
        return LeaderElectionOptions.from_mapping(values)
    except ConfigurationError as exc:
        raise _named(exc) from exc


def _named(exc: ConfigurationError) -> ConfigurationError:
    """Name the ``app.conf`` key in an option error."""
    if exc.option is None:
        return exc
    key = CONFIG_PREFIX + exc.option
    return ConfigurationError(f"app.conf.{key}: {exc}", option=key, value=exc.value)


class _LeaderElectedMixin(Scheduler):  # type: ignore[misc]  # celery ships no types
    """What ``leader_elected`` adds to a beat scheduler class (see the module docstring)."""

    election: LeaderElectionModule | None = None
    """The election of this beat process (``None`` for a lazy scheduler, e.g. the banner's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        app = kwargs["app"] if "app" in kwargs else args[0]
        # Validated even for the lazy instance beat makes for its banner: errors come first.
        self._le_options = options_from_config(app.conf)
        self._le_cond = threading.Condition()
        self._le_term: Term | None = None
        self._le_sending: Term | None = None
        self._le_ticking = 0
        self._le_in_tick = False
        self._le_closed = False
        self._le_previous: dict[int, Any] = {}
        self._le_deferred: tuple[int, FrameType | None] | None = None
        self._le_thread: threading.Thread | None = None
        super().__init__(*args, **kwargs)
        if not kwargs.get("lazy", False):
            self._le_start()

    # -- the election ----------------------------------------------------------------------
    def _le_start(self) -> None:
        election = LeaderElectionModule.for_root(self._le_options)
        election.run_while_leader(self._le_lead, name="celery-beat")
        self.election = election
        self._le_install_signal_handlers()
        election.start()
        logger.info(
            "celery beat: %s competes for lease %s; only its leader sends due tasks",
            election.identity,
            self._le_options.lease_description,
        )

    def _le_lead(self, term: Term) -> None:
        """``run_while_leader`` function: ticks send during ``term``; when it ends, wait for
        the tick in progress (the drain) so that the Lease is released only after it."""
        with self._le_cond:
            self._le_term = term
        term.wait()
        timing = self._le_options.timing
        clock = self._le_options.clock
        limit = clock.monotonic() + timing.drain_timeout + timing.lease_duration
        with self._le_cond:
            while self._le_sending is term and clock.monotonic() < limit:
                self._le_cond.wait(min(_DRAIN_POLL, max(limit - clock.monotonic(), 0.0)))
            if self._le_term is term:
                self._le_term = None
        if self._le_sending is term:
            logger.error(
                "celery beat: a tick of the term with fencing token %d still runs; giving up "
                "waiting for it",
                term.fencing_token,
            )

    def _le_follower_interval(self) -> float:
        interval = min(self._le_options.timing.renewal_interval, _FOLLOWER_TICK)
        max_interval = self.max_interval
        return float(min(interval, max_interval)) if max_interval else interval

    # -- beat's scheduler interface --------------------------------------------------------
    def tick(self, *args: Any, **kwargs: Any) -> Any:
        """Run a tick of the scheduler class while leading; otherwise send nothing and ask to
        be called again soon (``min(renewal_interval, 1 s, max_interval)``)."""
        # First, before any lock is taken: a signal from here on is held until the tick
        # returned, so beat's handler never runs while this thread holds _le_cond.
        self._le_in_tick = True
        try:
            with self._le_cond:
                term = self._le_term
                if term is None or term.is_set() or self._le_closed:
                    term = None
                else:
                    self._le_sending = term
                    self._le_ticking += 1
            if term is None:
                return self._le_follower_interval()
            try:
                return super().tick(*args, **kwargs)
            finally:
                with self._le_cond:
                    self._le_ticking -= 1
                    if not self._le_ticking:
                        self._le_sending = None
                    self._le_cond.notify_all()
        finally:
            self._le_in_tick = False
            self._le_signal_held_during_tick()

    def apply_async(
        self, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        """Send ``entry`` with the fencing token header, as the scheduler class would; a
        process that does not lead sends nothing (and returns ``None``)."""
        with self._le_cond:
            term = self._le_sending
            if term is None and self._le_term is not None and not self._le_term.is_set():
                term = self._le_term
        if term is None:
            logger.warning(
                "celery beat: %s is not the leader: %s not sent",
                self.election.identity if self.election is not None else "this process",
                getattr(entry, "name", entry),
            )
            return None
        # Advance the schedule as the scheduler class would, then send a copy that carries
        # the header: the entry kept in the schedule (and persisted) never does.
        entry = self.reserve(entry) if advance else entry
        return super().apply_async(_stamped(entry, term.fencing_token), producer, False, **kwargs)

    def close(self) -> None:
        """Stop the election (drain, then release), then close the scheduler class."""
        with self._le_cond:
            closing = not self._le_closed
            self._le_closed = True
        election = self.election
        if closing and election is not None:
            election.stop()
            self._le_restore_signal_handlers()
            logger.info(
                "celery beat: %s stopped competing for lease %s",
                election.identity,
                self._le_options.lease_description,
            )
        super().close()

    @property
    def info(self) -> str:
        lease = f"    . leader election -> lease {self._le_options.lease_description}"
        base = super().info
        return f"{base}\n{lease}" if base else lease

    # -- signals ---------------------------------------------------------------------------
    def _le_install_signal_handlers(self) -> None:
        """Hold SIGTERM/SIGINT that arrive during a tick until it returned (module
        docstring); then hand them to the handler that was there (Celery's)."""
        if threading.current_thread() is not threading.main_thread():
            return  # embedded beat: its service's stop() closes the scheduler
        self._le_thread = threading.current_thread()
        for signum in _SIGNALS:
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue  # default or ignored: nothing Python runs on top of a tick
            self._le_previous[signum] = previous
            signal.signal(signum, self._le_on_signal)

    def _le_restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._le_previous.items():
            if signal.getsignal(signum) == self._le_on_signal:
                signal.signal(signum, previous)
        self._le_previous = {}

    def _le_on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs on the main thread, between two bytecodes of whatever it was doing.
        if self._le_in_tick and threading.current_thread() is self._le_thread:
            logger.info(
                "celery beat: %s during a tick: handled once the tick returned",
                signal.Signals(signum).name,
            )
            self._le_deferred = (signum, frame)
            return
        self._le_hand_on(signum, frame)

    def _le_signal_held_during_tick(self) -> None:
        held, self._le_deferred = self._le_deferred, None
        if held is not None:
            self._le_hand_on(*held)

    def _le_hand_on(self, signum: int, frame: FrameType | None) -> None:
        previous: Callable[[int, FrameType | None], Any] | None = self._le_previous.get(signum)
        if previous is not None:
            previous(signum, frame)


def _stamped(entry: Any, token: int) -> Any:
    """A shallow copy of ``entry`` whose options add the fencing token header.

    Not ``copy.copy``: beat entries pickle through ``__reduce__`` with constructor arguments
    that subclasses (django-celery-beat's ``ModelEntry``) do not share.
    """
    stamped = object.__new__(type(entry))
    stamped.__dict__.update(entry.__dict__)
    options = dict(getattr(entry, "options", None) or {})
    headers = dict(options.get("headers") or {})
    headers[FENCING_TOKEN_HEADER] = token
    options["headers"] = headers
    stamped.options = options
    return stamped


@functools.cache
def leader_elected(scheduler_class: type[Any]) -> type[Any]:
    """A subclass of the beat scheduler class ``scheduler_class`` that sends due tasks only
    while its process leads (see the module docstring).

    ``leader_elected(X)`` is always the same class for the same ``X``; a class that is
    already leader-elected is returned as is. Raises ``ConfigurationError`` when
    ``scheduler_class`` is not a subclass of ``celery.beat.Scheduler``.
    """
    if not isinstance(scheduler_class, type) or not issubclass(scheduler_class, Scheduler):
        raise ConfigurationError(
            f"leader_elected({scheduler_class!r}): expected a celery beat scheduler class "
            "(a subclass of celery.beat.Scheduler, e.g. PersistentScheduler)",
            option="scheduler_class",
            value=scheduler_class,
        )
    if issubclass(scheduler_class, _LeaderElectedMixin):
        return scheduler_class
    name = f"LeaderElected{scheduler_class.__name__}"
    return type(
        name,
        (_LeaderElectedMixin, scheduler_class),
        {"__module__": __name__, "__qualname__": name, "__doc__": _class_doc(scheduler_class)},
    )


def _class_doc(scheduler_class: type[Any]) -> str:
    return (
        f"``{scheduler_class.__module__}.{scheduler_class.__qualname__}`` that sends due "
        "tasks only while this beat process leads (``leader_election.celery``)."
    )


LeaderElectedScheduler = leader_elected(PersistentScheduler)
"""Celery's default ``PersistentScheduler``, leader-elected:
``celery beat -S leader_election.celery:LeaderElectedScheduler``."""


def __getattr__(name: str) -> Any:
    # ``-S leader_election.celery:LeaderElectedDatabaseScheduler`` without a module of one's
    # own; django-celery-beat is imported only then.
    if name == "LeaderElectedDatabaseScheduler":
        try:
            from django_celery_beat.schedulers import (  # noqa: PLC0415
                DatabaseScheduler,
            )
        except ImportError as exc:
            raise MissingExtraError(
                "leader_election.celery:LeaderElectedDatabaseScheduler needs "
                "django-celery-beat, which is not installed: pip install django-celery-beat"
            ) from exc
        return leader_elected(DatabaseScheduler)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
