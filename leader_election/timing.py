"""``Timing``: every duration the engine uses, in seconds, derived in one place.

The options (``options.py``) validate what users give — milliseconds or ``timedelta`` — and
resolve it once into a ``Timing``. Everything else (the state machine, the elector, the module,
the supervisor of ``leader-election run``) reads its durations here, so a derived value such as
"how long ``stop()`` may take" has one definition instead of one per caller.

The relations that make election safe are checked by ``LeaderElectionOptions``::

    renewal_interval < renew_deadline < lease_duration

A leader steps down ``renew_deadline`` after the *send* time of its last successful renewal;
every other candidate waits ``lease_duration`` from its own, later, observation of that
renewal. ``takeover_margin`` (their difference) is therefore the time a leader's work has
between the end of its term and the first moment another candidate may lead.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JOIN_GRACE", "Timing"]

JOIN_GRACE = 5.0
"""Seconds ``stop()`` allows beyond its own budget for threads to end after a late answer."""


@dataclass(frozen=True, slots=True)
class Timing:
    """The resolved durations of one election, in seconds."""

    renewal_interval: float
    """The leader renews this often; followers poll this often when they cannot watch."""
    renew_deadline: float
    """A leader that has not renewed for this long (from the send time) steps down."""
    lease_duration_seconds: int
    """Written to the Lease: how long others wait after they last saw it change."""
    drain_timeout: float = 10.0
    """How long a stopping or resigning leader waits for its work before it gives up."""

    @property
    def lease_duration(self) -> float:
        return float(self.lease_duration_seconds)

    @property
    def follower_timeout(self) -> float:
        """Timeout of a follower's request (and of connecting the watch): the renewal
        interval, within [1 s, 10 s]."""
        return min(max(self.renewal_interval, 1.0), 10.0)

    @property
    def backoff_base(self) -> float:
        """First retry delay after a failure; doubles per consecutive failure."""
        return min(max(self.renewal_interval / 8, 0.01), 1.0)

    @property
    def expiry_jitter(self) -> float:
        """At most this much is added to an expiry wake-up, so followers do not all collide."""
        return min(0.05, self.renewal_interval / 10)

    @property
    def takeover_margin(self) -> float:
        """From a term's end at its renew deadline to the first moment another may lead."""
        return self.lease_duration - self.renew_deadline

    @property
    def sit_out(self) -> float:
        """How long a leader that resigned, or lost its term by renew failure, leaves a free
        Lease to the other candidates (plus up to ``sit_out_jitter`` after a failure)."""
        return self.lease_duration

    @property
    def sit_out_jitter(self) -> float:
        """At most this much is added to a sit-out after a renew failure, so candidates that
        failed together do not come back together."""
        return self.lease_duration / 4

    @property
    def latency_tolerance(self) -> float:
        """The slowest answer a leader survives round after round: ``min(renew_deadline / 2,
        renew_deadline - renewal_interval)``.

        Renewals are sequential optimistic writes: each carries the ``resourceVersion`` the
        previous one returned, so it is sent only after that answer. With latency ``L`` the
        renewals go out every ``max(renewal_interval, L)``, and each may take only what is
        left of the deadline from the previous send: ``renew_deadline - max(interval, L)``.
        It succeeds while ``L`` is below that, which is the minimum above. No sequential
        scheme beats ``renew_deadline / 2``.
        """
        return min(self.renew_deadline / 2, self.renew_deadline - self.renewal_interval)

    @property
    def final_attempt(self) -> float:
        """A leader told to wait (``Retry-After``) still retries this long before its deadline,
        so its last attempt has time to be answered."""
        return min(self.renewal_interval / 2, (self.renew_deadline - self.renewal_interval) / 2)

    @property
    def watch_silence(self) -> float:
        """A follower trusts a watch that delivered nothing (no event, no bookmark) for this
        long no more: it reads the Lease every renewal interval until the watch speaks again.
        A leader writes every ``renewal_interval``, so a live watch is never silent longer."""
        return 1.5 * self.renewal_interval

    @property
    def watch_idle_timeout(self) -> float:
        """A watch connection that delivered nothing for this long is dropped and opened
        again: a half-open connection (a partition) must not be trusted for minutes."""
        return max(3 * self.renewal_interval, 5.0)

    @property
    def release_budget(self) -> float:
        """The longest the release write may take: a leader's request never outlives its
        renew deadline."""
        return self.renew_deadline

    @property
    def stop_budget(self) -> float:
        """The longest ``stop()`` waits by default: the drain, the release, and a grace for
        threads to end."""
        return self.drain_timeout + self.release_budget + JOIN_GRACE

    @property
    def coroutine_cancel_after(self) -> float:
        """When a coroutine job that ignores its term's end is cancelled: inside the drain
        (nine tenths of it), so that its cancellation completes and the Lease is released."""
        return 0.9 * self.drain_timeout

    @property
    def first_round_limit(self) -> float:
        """How long ``await_leadership`` waits for the first round to be decided: a holder's
        claim may have to run out, and a leader's first write may take its deadline."""
        return self.lease_duration + self.renew_deadline

    @property
    def group_settle(self) -> float:
        """How long a group member takes no Lease after it starts, so that members started
        together see each other's heartbeats first: one renewal interval, at most 2 s."""
        return min(self.renewal_interval, 2.0)

    @property
    def health_grace(self) -> float:
        """Default tolerance of ``healthy()`` beyond the renew deadline (a late wake-up)."""
        return self.renewal_interval
