"""What a leader announces to the cluster: a label on its Pod, Events on the Lease.

Both run as the module's own leader-only functions (``work.py``), so they follow the rules of
any leader work: they start when a term begins and their last step — removing the label,
recording "stopped leading" — is part of the drain, done *before* the Lease is released. A
Service selecting the label therefore stops routing to this Pod before another can lead.

- **Pod label** (``leader_pod_label="role=leader"``): at start a candidate clears the label
  from its own Pod (a restarted container must not keep receiving leader traffic); when
  elected it sets the label on its Pod and clears it from the previous holder's Pod if that
  Pod still carries it (holder identities are ``POD_NAME`` plus a suffix); when the term ends
  it clears its own. Engine: ``podlabel.py``.
- **Events** (``record_events``, on by default): ``<identity> became leader`` and
  ``<identity> stopped leading (<reason>)`` on the Lease, as client-go records them, so
  ``kubectl describe lease`` shows who led when. A 403 turns recording off with one warning.

Failures are logged and never end a term: leadership does not depend on either.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leader_election import podlabel
from leader_election.apirequest import send
from leader_election.errors import ApiError, ForbiddenError
from leader_election.work import JobFunction, Term

if TYPE_CHECKING:
    from leader_election.runtime import Runtime

__all__ = ["Announcer"]

logger = logging.getLogger(__name__)

_IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_COMPONENT = "leader-election"


def pod_namespace(default: str) -> str:
    """The Pod's namespace: ``POD_NAMESPACE``, else the ServiceAccount's, else ``default``."""
    name = os.environ.get("POD_NAMESPACE", "")
    if name:
        return name
    try:
        return _IN_CLUSTER_NAMESPACE.read_text(encoding="utf-8").strip() or default
    except OSError:
        return default


def pod_of(identity: str) -> str:
    """The Pod name in a holder identity (``POD_NAME`` plus ``_`` and a random suffix)."""
    base, separator, _ = identity.rpartition("_")
    return base if separator else identity


class Announcer:
    """The leader-only functions that label the Pod and record Events, for one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        options = runtime.options
        self._options = options
        self._timeout = options.timing.follower_timeout
        # After a term ends without a stop, another candidate may lead a takeover margin
        # later: the last request of these functions must not outlive it (an overrun).
        self._end_timeout = min(self._timeout, max(options.timing.takeover_margin / 2, 0.1))
        self._label = (
            podlabel.parse_pod_label(options.leader_pod_label) if options.leader_pod_label else None
        )
        self._pod = podlabel.pod_name_from_env() if self._label is not None else ""
        self._pod_namespace = pod_namespace(options.namespace)
        self._events = options.record_events
        # The start-up cleanup and the term's labelling never interleave.
        self._label_lock = threading.Lock()
        self._cleanup: threading.Thread | None = None
        self.previous_holder: str | None = None

    @property
    def _api(self) -> Any:
        connection = self._runtime.connection
        return connection.api_client if connection is not None else None

    def jobs(self) -> list[tuple[JobFunction, str]]:
        """The internal leader-only functions to register, named for logs and drains."""
        jobs: list[tuple[JobFunction, str]] = []
        if self._label is not None:
            jobs.append((self._label_pod, "leader-pod-label"))
        if self._events:
            jobs.append((self._record_events, "lease-events"))
        return jobs

    # -- start and stop ----------------------------------------------------------------------
    def start(self) -> None:
        """Clear the label from this Pod, off the caller's thread (start() returns at once)."""
        if self._label is None:
            return
        self._label_lock.acquire()
        self._cleanup = threading.Thread(
            target=self._clear_own, name=f"{self._runtime.prefix}-podlabel", daemon=True
        )
        self._cleanup.start()

    def join(self, timeout: float) -> None:
        if self._cleanup is not None and self._cleanup is not threading.current_thread():
            self._cleanup.join(max(timeout, 0.1))

    def _clear_own(self) -> None:
        try:
            assert self._label is not None
            podlabel.remove_pod_label(
                self._api, self._pod_namespace, self._pod, self._label, timeout=self._timeout
            )
        except ApiError as exc:
            logger.warning("%s: clearing %s from Pod %s failed: %s", *self._where(), exc)
        finally:
            self._label_lock.release()

    # -- the pod label -----------------------------------------------------------------------
    def _label_pod(self, term: Term) -> None:
        label = self._label
        assert label is not None
        api, namespace = self._api, self._pod_namespace
        while not self._label_lock.acquire(timeout=0.1):
            if term.is_set():
                return
        try:
            try:
                podlabel.add_pod_label(api, namespace, self._pod, label, timeout=self._timeout)
                logger.info("%s: labelled Pod %s with %s", *self._where())
            except ApiError as exc:
                logger.warning("%s: labelling Pod %s with %s failed: %s", *self._where(), exc)
            previous = self.previous_holder
            if previous and pod_of(previous) != self._pod:
                try:
                    podlabel.remove_pod_label_if_present(
                        api, namespace, pod_of(previous), label, timeout=self._timeout
                    )
                except ApiError as exc:
                    logger.warning(
                        "%s: clearing %s from the previous leader's Pod %s failed: %s",
                        self._runtime.prefix,
                        label,
                        pod_of(previous),
                        exc,
                    )
        finally:
            self._label_lock.release()
        term.wait()
        # Part of the drain: traffic stops reaching this Pod before the Lease is released.
        try:
            podlabel.remove_pod_label(api, namespace, self._pod, label, timeout=self._end_timeout)
        except ApiError as exc:
            logger.warning("%s: clearing %s from Pod %s failed: %s", *self._where(), exc)

    def _where(self) -> tuple[str, str, str]:
        return (self._runtime.prefix, f"{self._pod_namespace}/{self._pod}", str(self._label))

    # -- events on the Lease -----------------------------------------------------------------
    def _record_events(self, term: Term) -> None:
        identity = self._options.identity
        self._record(f"{identity} became leader")
        term.wait()
        reason = getattr(term.reason, "value", None)
        message = f"{identity} stopped leading" + (f" ({reason})" if reason else "")
        self._record(message, timeout=self._end_timeout)

    def _record(self, message: str, *, timeout: float | None = None) -> None:
        if not self._events:
            return
        options = self._options
        machine = self._runtime.machine
        uid = machine.observed.uid if machine is not None and machine.observed else ""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{options.lease_name}.{uuid.uuid4().hex[:16]}",
                "namespace": options.namespace,
            },
            "involvedObject": {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "name": options.lease_name,
                "namespace": options.namespace,
                **({"uid": uid} if uid else {}),
            },
            "reason": "LeaderElection",
            "message": message,
            "type": "Normal",
            "source": {"component": _COMPONENT},
            "reportingComponent": _COMPONENT,
            "reportingInstance": options.identity[:128],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            send(
                self._api,
                "POST",
                f"/api/v1/namespaces/{options.namespace}/events",
                verb="create",
                what=f"an Event on Lease {options.lease_description}",
                timeout=timeout if timeout is not None else self._timeout,
                body=body,
            )
        except ForbiddenError as exc:
            self._events = False
            logger.warning(
                "lease %s: not recording leadership Events: %s (grant create on events, or "
                "set record_events=False)",
                options.lease_description,
                exc,
            )
        except ApiError as exc:
            logger.debug("lease %s: recording an Event failed: %s", options.lease_description, exc)
