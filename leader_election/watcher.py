"""The watch thread: follows the one Lease and posts what it sees to the elector.

Like a client-go reflector reduced to one object: watch from the last seen
``resourceVersion``; on 410 Gone start again from "now" (the server then replays the current
object as ADDED); back off with jitter on errors. When list/watch is forbidden it logs one
warning naming the fix and retries rarely — the elector polls every renewal interval meanwhile.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import urllib3

from leader_election.errors import ApiError, ForbiddenError
from leader_election.lock import LeaseLock
from leader_election.record import observe
from leader_election.state import Observation, WatchEvent, WatchStatus
from leader_election.transport import WatchStream

__all__ = ["LeaseWatcher"]

logger = logging.getLogger(__name__)

# Server-side watch timeout, randomized per watch as client-go's reflector does (5-10 min), so
# a fleet of candidates does not reconnect in lockstep.
MIN_WATCH_SECONDS = 300
FORBIDDEN_RETRY = 300.0
MAX_BACKOFF = 30.0


class LeaseWatcher:
    """A named thread that watches one Lease and calls ``post`` with observations."""

    def __init__(
        self,
        lock: LeaseLock,
        post: Callable[[Observation], None],
        *,
        name: str,
        identity: str,
        connect_timeout: float,
        idle_timeout: float | None = None,
    ) -> None:
        self._lock = lock
        self._post = post
        self._identity = identity
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._stop = threading.Event()
        self._stream_lock = threading.Lock()
        self._stream: WatchStream | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """End the watch (interrupting a blocked read) and join; False if still alive."""
        self._stop.set()
        with self._stream_lock:
            stream = self._stream
        if stream is not None:
            stream.close()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        resource_version = ""
        failures = 0
        warned_forbidden = False
        while not self._stop.is_set():
            try:
                resource_version = self._watch_once(resource_version)
                failures = 0
            except _Restart:
                resource_version = ""
            except _Idle:
                # Silent for idle_timeout: maybe a half-open connection. The elector already
                # stopped trusting it (rule 10 of state.py); open a new one, quietly.
                logger.debug("lease %s: watch silent; reconnecting", self._lock.description)
            except ForbiddenError as exc:
                self._post(WatchStatus(healthy=False))
                if not warned_forbidden:
                    warned_forbidden = True
                    logger.warning(
                        "lease %s (%s): cannot watch the Lease, falling back to reading it "
                        "every renewal interval: %s",
                        self._lock.description,
                        self._identity,
                        exc,
                    )
                self._stop.wait(FORBIDDEN_RETRY * (1 + 0.2 * random.random()))  # noqa: S311
            except (ApiError, ValueError) as exc:
                if self._stop.is_set():
                    return
                self._post(WatchStatus(healthy=False))
                failures += 1
                delay = min(0.5 * 2 ** min(failures - 1, 10), MAX_BACKOFF)
                delay = max(delay, exc.retry_after if isinstance(exc, ApiError) else 0.0)
                delay *= 1 + 0.2 * random.random()  # noqa: S311 - jitter, not security
                log = logger.warning if failures == 1 else logger.debug
                log(
                    "lease %s (%s): watch failed (%s); retrying in %.1f s",
                    self._lock.description,
                    self._identity,
                    exc,
                    delay,
                )
                self._stop.wait(delay)
            except Exception:
                # An unexpected bug must not leave followers deaf for good: log and go on.
                if self._stop.is_set():
                    return
                self._post(WatchStatus(healthy=False))
                logger.exception("lease %s: watch thread error", self._lock.description)
                self._stop.wait(MAX_BACKOFF)

    def _watch_once(self, resource_version: str) -> str:
        """Run one watch request to its end; return the resourceVersion to resume from."""
        timeout_seconds = MIN_WATCH_SECONDS + random.randrange(MIN_WATCH_SECONDS)  # noqa: S311
        stream = self._lock.watch(
            resource_version,
            timeout_seconds=timeout_seconds,
            connect_timeout=self._connect_timeout,
            idle_timeout=self._idle_timeout,
        )
        with self._stream_lock:
            if self._stop.is_set():
                stream.close()
                return resource_version
            self._stream = stream
        try:
            self._post(WatchStatus(healthy=True))
            for event in stream.events():
                if self._stop.is_set():
                    break
                resource_version = self._handle(event, resource_version)
        except ApiError:
            raise
        except Exception as exc:
            if self._stop.is_set():
                return resource_version
            if _is_read_timeout(exc):
                raise _Idle from exc
            raise ApiError(
                f"watch {self._lock.what}: stream broken: {exc}", status=0, verb="watch"
            ) from exc
        finally:
            with self._stream_lock:
                self._stream = None
            stream.close()
        return resource_version

    def _handle(self, event: dict[str, Any], resource_version: str) -> str:
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return resource_version
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        assert isinstance(metadata, dict)
        rv = metadata.get("resourceVersion")
        if kind in ("ADDED", "MODIFIED"):
            self._post(WatchEvent(observe(obj)))
        elif kind == "DELETED":
            self._post(WatchEvent(None))
        elif kind == "BOOKMARK":
            # No change, but a sign of life: the watch may be trusted a while longer.
            self._post(WatchStatus(healthy=True))
        elif kind == "ERROR":
            code = obj.get("code")
            if code == 410:
                # Our resourceVersion was compacted away: watch again from now; the server
                # replays the current object, and the elector reads once to catch a deletion.
                logger.debug("lease %s: watch expired (410); restarting", self._lock.description)
                self._post(WatchStatus(healthy=False))
                raise _Restart
            raise ApiError(
                f"watch {self._lock.what}: {obj.get('message', obj)}",
                status=code if isinstance(code, int) else 0,
                reason=str(obj.get("reason", "")),
                body=obj,
                verb="watch",
            )
        return rv if isinstance(rv, str) and rv else resource_version


class _Restart(ApiError):
    """Internal: restart the watch from "now" (after 410 Gone)."""

    def __init__(self) -> None:
        super().__init__("watch restart", status=410, verb="watch")


class _Idle(ApiError):
    """Internal: the watch delivered nothing for ``idle_timeout``; reconnect."""

    def __init__(self) -> None:
        super().__init__("watch idle", status=0, verb="watch")


def _is_read_timeout(exc: BaseException) -> bool:
    """A read that timed out (urllib3 wraps socket timeouts differently across versions)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError | urllib3.exceptions.ReadTimeoutError):
            return True
        if "timed out" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False
