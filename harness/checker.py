"""The chaos checker: what must hold after any run, judged from logs alone (pure, no I/O
beyond reading the files it is given).

Inputs are what the candidate processes leave behind: each one's *action log* (lines
``monotonic-time identity token`` written by the protected action loop while it believed it
led; ``-`` when the implementation has no fencing token) and its JSON *event lines*, plus how
the process ended and whether the driver killed it.

Invariants:

1. **Never two leaders acting at once.** A *term* is every sample of one ``(identity, token)``;
   its *span* is ``[first sample, last sample]``. Two terms *overlap* when their spans
   intersect. Times come from CLOCK_MONOTONIC, which every process on a Linux machine shares,
   and each sample's time is read between two checks that saw the same term (same fencing
   token, or for a client without tokens the same leadership flag), so a sample at ``t``
   means "this process was entitled to lead at ``t``". Any reported overlap is therefore
   real: two processes were entitled at interleaved instants. The converse is bounded by the
   sampling period ``p`` (~2 ms): an overlap shorter than ``p`` at the very edge of a term can
   go unseen, which is why the report also gives the smallest *gap* between consecutive
   terms — the margin actually kept.
2. **Fencing tokens strictly increase** from one term to the next (terms in time order), and
   from one ``elected`` event to the next across all processes.
3. **Every elected event has exactly one matching lost event**, in order, per process: elected
   and lost alternate, a lost carries its elected's token, and a process may end while leading
   only if the driver SIGKILLed it.
4. **Clean exits**: a process the driver stopped with SIGTERM exits with status 0 after an
   ``exit`` event; no process ends on its own with a failure.
5. **No thread left behind**: the ``exit`` event lists no thread still alive after ``stop()``.
   A ``run_while_leader`` thread (``...-job-...``) left behind is judged with the work
   (invariant 6, only with ``drain``): today ``stop()`` joins only the latest run of a job,
   so a run still stopping when the same process was elected again is left running.
6. **Never two candidates working at once.** The *work log* of each process (``harness.work``:
   lines ``monotonic-time identity token run``) spans each run of its ``run_while_leader``
   job from its start to its return, the time it needed to stop included. A *work term* is
   one ``(identity, run)``; two work terms of different identities must not intersect, and
   their fencing tokens must strictly increase in order of start. Each *work overlap* is
   classified by how the earlier term ended (its ``lost`` event):

   - *graceful* (``released``/``stopped``: SIGTERM, a rolling restart): the library chose
     when to hand over, so it must let the job return first ("drain, then release"). A
     violation when ``check(..., drain=True)``; reported either way.
   - *involuntary* (``renew_failed``, ``taken_over``, ``lease_deleted``, or no lost event at
     all): a paused or partitioned leader cannot stop its job before others take over once
     the Lease expires; the overlap is the job's stop time beyond the lease margin, or the
     pause itself. Reported with its cause, never a violation: only fencing tokens (checked
     by the resource the job writes to) make such late work harmless.
   - a graceful end whose drain the driver *cut short*: the process was paused, partitioned
     or kept from renewing (``ProcessRecord.disturbed``) between its stop event and the
     other's start. A draining leader renews until its job returned; one that cannot renew
     loses the Lease to expiry like any other, so the overlap is involuntary (its ``ended``
     says ``drain cut short by ...``). Groups meet this: a member hands a Lease over to
     rebalance whenever members come and go, so a fault can land in the middle of a drain.

**Groups** (``check_group``): a group candidate (``harness.group_candidate``) leads several
Leases at once, so its log lines end with ``lease=NAME`` and its ``elected`` / ``lost`` /
``changed`` events carry ``lease``. Invariants 1-3 and 6 hold *per Lease*: the samples, terms,
work and events are split by Lease and judged as one single-Lease run each (one process
leading two Leases at once is the point of a group, not an overlap); invariants 4 and 5 are
judged once per process. A Lease handed to another member to rebalance ends with ``lost``
reason ``resigned``: drained and released like a graceful stop, and judged as one.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "GRACEFUL_REASONS",
    "Overlap",
    "ProcessRecord",
    "Sample",
    "Term",
    "Verdict",
    "WorkOverlap",
    "check",
    "check_group",
    "find_work_overlaps",
    "parse_action_log",
    "terms_from_samples",
]


@dataclass(frozen=True, slots=True)
class Sample:
    """One protected action: at monotonic ``t``, ``identity`` acted with ``token``."""

    t: float
    identity: str
    token: int | None
    run: int = 0
    """The job run a work sample belongs to (1, 2, ...); 0 for an action sample."""
    lease: str = ""
    """The Lease of a group candidate's sample (``lease=NAME``); empty for a single Lease."""


@dataclass(frozen=True, slots=True)
class Term:
    """The samples of one leadership term, ``(identity, token)``."""

    identity: str
    token: int | None
    start: float
    end: float
    samples: int
    run: int = 0
    """The job run of a work term; 0 for an action term."""
    lease: str = ""
    """The Lease of a group candidate's term; empty for a single Lease."""

    def describe(self) -> str:
        token = "-" if self.token is None else str(self.token)
        run = f" run {self.run}" if self.run else ""
        lease = f" on {self.lease}" if self.lease else ""
        return f"{self.identity}#{token}{run}{lease} [{self.start:.6f}, {self.end:.6f}]"


@dataclass(frozen=True, slots=True)
class Overlap:
    """Two terms whose spans intersect, by ``seconds``."""

    first: Term
    second: Term
    seconds: float

    def describe(self) -> str:
        return (
            f"{self.first.describe()} and {self.second.describe()} overlap by "
            f"{self.seconds * 1000:.1f} ms"
        )


GRACEFUL_REASONS = frozenset({"released", "stopped", "resigned"})
"""``lost`` reasons of a stop the library chose the moment of (SIGTERM, ``stop()``, a group
handing a Lease to another member)."""


@dataclass(frozen=True, slots=True)
class WorkOverlap:
    """Work of ``first`` still running when ``second`` (another identity) began."""

    first: Term
    second: Term
    seconds: float
    ended: str
    """How ``first``'s term ended: its lost reason, or ``killed`` / ``no lost event``."""
    stop_at: float | None = None
    """When ``first``'s term was lost (its stop event), if it said so."""

    @property
    def graceful(self) -> bool:
        return self.ended in GRACEFUL_REASONS

    def describe(self) -> str:
        if self.stop_at is None:
            when = "no stop event seen"
        elif self.stop_at <= self.second.start:
            when = (
                f"stop event {(self.second.start - self.stop_at) * 1000:.0f} ms before the "
                "other began, the job still running"
            )
        else:
            when = f"stop event only {(self.stop_at - self.second.start) * 1000:.0f} ms after"
        return (
            f"work {self.first.describe()} and {self.second.describe()} overlap by "
            f"{self.seconds * 1000:.1f} ms (first term {self.ended}; {when})"
        )


@dataclass
class ProcessRecord:
    """One candidate process as the driver saw it."""

    identity: str
    events: list[dict[str, Any]]
    returncode: int | None
    killed: bool = False
    """SIGKILLed by the driver: it owes no lost or exit event."""
    terminated: bool = False
    """Stopped by the driver with SIGTERM: it must exit cleanly."""
    disturbed: list[tuple[float, float, str]] = field(default_factory=list)
    """``(start, end, kind)``: when the driver kept it from renewing (a pause, a partition,
    latency, error bursts), on the monotonic clock of the logs."""


@dataclass
class Verdict:
    """What the checker found. ``ok`` when every invariant held."""

    samples: int = 0
    terms: list[Term] = field(default_factory=list)
    elected: int = 0
    overlaps: list[Overlap] = field(default_factory=list)
    min_gap: float | None = None
    token_violations: list[str] = field(default_factory=list)
    event_violations: list[str] = field(default_factory=list)
    exit_violations: list[str] = field(default_factory=list)
    thread_violations: list[str] = field(default_factory=list)
    log_violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    work_samples: int = 0
    work_terms: list[Term] = field(default_factory=list)
    work_overlaps: list[WorkOverlap] = field(default_factory=list)
    work_min_gap: float | None = None
    work_token_violations: list[str] = field(default_factory=list)
    job_thread_violations: list[str] = field(default_factory=list)
    """``run_while_leader`` threads still alive after ``stop()``: judged with ``drain``."""
    released: int = 0
    """Lost events with reason ``released``: graceful handovers."""
    resigned: int = 0
    """Lost events with reason ``resigned``: a group handing a Lease over to rebalance."""
    drain: bool = False
    """Graceful work overlaps are violations (the library drains before it releases)."""
    leases: dict[str, Verdict] = field(default_factory=dict)
    """A group run's verdict per Lease (``check_group``); empty for a single Lease."""

    @property
    def graceful_work_overlaps(self) -> list[WorkOverlap]:
        return [o for o in self.work_overlaps if o.graceful]

    @property
    def involuntary_work_overlaps(self) -> list[WorkOverlap]:
        return [o for o in self.work_overlaps if not o.graceful]

    @property
    def transitions(self) -> int:
        """Changes of leadership: every elected event after the first (of each Lease)."""
        if self.leases:
            return sum(verdict.transitions for verdict in self.leases.values())
        return max(self.elected - 1, 0)

    @property
    def violations(self) -> list[str]:
        return (
            [o.describe() for o in self.overlaps]
            + ([o.describe() for o in self.graceful_work_overlaps] if self.drain else [])
            + (self.job_thread_violations if self.drain else [])
            + self.token_violations
            + self.work_token_violations
            + self.event_violations
            + self.exit_violations
            + self.thread_violations
            + self.log_violations
        )

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        gap = "n/a" if self.min_gap is None else f"{self.min_gap * 1000:.1f} ms"
        lines = [
            f"transitions: {self.transitions} (elected events: {self.elected}; terms with "
            f"actions: {len(self.terms)}; action samples: {self.samples})",
            f"overlaps: {len(self.overlaps)}; smallest gap between terms: {gap}",
            f"fencing-token violations: {len(self.token_violations)}",
            f"elected/lost violations: {len(self.event_violations)}",
            f"unclean exits: {len(self.exit_violations)}; threads left behind: "
            f"{len(self.thread_violations)}; malformed log lines: {len(self.log_violations)}",
        ]
        if self.work_samples:
            work_gap = "n/a" if self.work_min_gap is None else f"{self.work_min_gap * 1000:.1f} ms"
            graceful = self.graceful_work_overlaps
            lines += [
                f"jobs alive after stop(): {len(self.job_thread_violations)}"
                + ("" if self.drain else " (reported, not judged: the library does not drain)"),
                f"work: {len(self.work_terms)} job runs, {self.work_samples} samples; smallest "
                f"gap between runs: {work_gap}; fencing-token violations: "
                f"{len(self.work_token_violations)}",
                f"work overlaps after a graceful stop: {len(graceful)}"
                + (
                    f" (longest {max(o.seconds for o in graceful) * 1000:.0f} ms)"
                    if graceful
                    else ""
                )
                + ("" if self.drain else " (reported, not judged: the library does not drain)"),
                f"work overlaps after an involuntary loss: "
                f"{len(self.involuntary_work_overlaps)} (reported, not judged)",
            ]
            if not self.drain:
                lines += [f"  graceful: {o.describe()}" for o in graceful[:5]]
                lines += [f"  job left running: {v}" for v in self.job_thread_violations[:5]]
            lines += [f"  involuntary: {o.describe()}" for o in self.involuntary_work_overlaps[:5]]
        for name, verdict in sorted(self.leases.items()):
            lines.append(f"  {name}: {verdict.lease_line()}")
        for violation in self.violations[:20]:
            lines.append(f"  VIOLATION {violation}")
        if len(self.violations) > 20:
            lines.append(f"  ... and {len(self.violations) - 20} more")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def lease_line(self) -> str:
        """One line on one Lease of a group run."""
        return (
            f"{self.transitions} transitions, {len(self.overlaps)} overlaps, "
            f"{len(self.graceful_work_overlaps)} graceful / "
            f"{len(self.involuntary_work_overlaps)} involuntary work overlaps, "
            f"{len(self.work_terms)} job runs, {self.released} released, "
            f"{self.resigned} resigned, "
            f"{len(self.token_violations) + len(self.work_token_violations)} token and "
            f"{len(self.event_violations)} elected/lost violations"
        )


# -- action logs ---------------------------------------------------------------------------


def _began(event: dict[str, Any]) -> float:
    """When an elected event's term began: its ``since`` if reported, else its delivery."""
    since = event.get("since")
    if isinstance(since, int | float) and math.isfinite(since):
        return float(since)
    return float(event["t"])


def parse_action_log(
    lines: Iterable[str], *, source: str = "action log"
) -> tuple[list[Sample], list[str]]:
    """Samples from action-log (or work-log) lines, and complaints about malformed ones.

    The last line may be cut short by a SIGKILL in the middle of a write: it is dropped
    silently. A malformed line anywhere else is reported.
    """
    samples: list[Sample] = []
    problems: list[str] = []
    items = list(lines)
    for number, raw in enumerate(items, start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        # A group candidate names the Lease last (``lease=NAME``).
        lease = parts.pop()[len("lease=") :] if parts and parts[-1].startswith("lease=") else ""
        try:
            if len(parts) not in (3, 4):
                raise ValueError(line)
            t = float(parts[0])
            token = None if parts[2] == "-" else int(parts[2])
            run = int(parts[3]) if len(parts) == 4 else 0
        except ValueError:
            if number == len(items):
                continue  # a torn final write
            problems.append(f"{source}:{number}: malformed line {line!r}")
            continue
        samples.append(Sample(t, parts[1], token, run, lease))
    return samples, problems


def read_action_logs(paths: Iterable[str | Path]) -> tuple[list[Sample], list[str]]:
    samples: list[Sample] = []
    problems: list[str] = []
    for path in paths:
        p = Path(path)
        if not p.exists():
            continue
        with p.open(encoding="utf-8", errors="replace") as handle:
            got, bad = parse_action_log(handle, source=str(p))
        samples.extend(got)
        problems.extend(bad)
    return samples, problems


def terms_from_samples(
    samples: Iterable[Sample],
    ends: Mapping[tuple[str, int | None], Sequence[float]] | None = None,
) -> list[Term]:
    """Group samples into terms, ordered by start.

    ``ends`` gives, per ``(identity, token)``, the times at which that process reported the
    term lost: samples after such a time belong to a later term with the same token (a token
    reused after a fencing violation elsewhere), not to one long term spanning the others.
    A term ends before its lost event is printed (``is_leader`` turns false first), so no
    sample of a term comes after its lost event. Work samples carry their job ``run`` instead
    (work goes on after the lost event, while the job stops): pass no ``ends`` for them.
    """
    ends = ends or {}
    spans: dict[tuple[str, int | None, int, str, int], list[float]] = {}
    for s in samples:
        cuts = ends.get((s.identity, s.token), ())
        epoch = bisect.bisect_right(sorted(cuts), s.t) if cuts else 0
        key = (s.identity, s.token, s.run, s.lease, epoch)
        span = spans.setdefault(key, [math.inf, -math.inf, 0])
        span[0] = min(span[0], s.t)
        span[1] = max(span[1], s.t)
        span[2] += 1
    terms = [
        Term(identity, token, start, end, int(count), run, lease)
        for (identity, token, run, lease, _), (start, end, count) in spans.items()
    ]
    return sorted(terms, key=lambda term: (term.start, term.end))


def find_overlaps(terms: Sequence[Term]) -> tuple[list[Overlap], float | None]:
    """Every pair of terms whose spans intersect, and the smallest gap between
    consecutive non-overlapping terms (seconds)."""
    ordered = sorted(terms, key=lambda term: term.start)
    overlaps: list[Overlap] = []
    min_gap: float | None = None
    open_terms: list[Term] = []  # terms whose end is past the current start
    latest_end: Term | None = None
    for term in ordered:
        open_terms = [t for t in open_terms if t.end >= term.start]
        for other in open_terms:
            overlaps.append(Overlap(other, term, min(other.end, term.end) - term.start))
        if not open_terms and latest_end is not None:
            gap = term.start - latest_end.end
            min_gap = gap if min_gap is None else min(min_gap, gap)
        open_terms.append(term)
        if latest_end is None or term.end > latest_end.end:
            latest_end = term
    return overlaps, min_gap


def _how_ended(
    term: Term, processes: Mapping[str, ProcessRecord], until: float = math.inf
) -> tuple[str, float | None]:
    """How a work term's leadership term ended: the first lost event of its identity and token
    at or after the job started (the job starts after the term began), and its time. A
    graceful end whose drain a disturbance cut short before ``until`` (the other's start)
    says so, and is no longer graceful."""
    record = processes.get(term.identity)
    if record is None:
        return "no lost event", None
    for event in record.events:
        if (
            event.get("event") == "lost"
            and event.get("token") == term.token
            and float(event.get("t", -math.inf)) >= term.start
        ):
            reason, stop_at = str(event.get("reason", "?")), float(event["t"])
            if reason in GRACEFUL_REASONS:
                cut = [
                    kind
                    for start, end, kind in record.disturbed
                    if start <= until and end >= stop_at
                ]
                if cut:
                    reason = f"{reason}, drain cut short by {'/'.join(dict.fromkeys(cut))}"
            return reason, stop_at
    return ("killed" if record.killed else "no lost event"), None


def find_work_overlaps(
    terms: Sequence[Term], processes: Sequence[ProcessRecord] = ()
) -> tuple[list[WorkOverlap], float | None]:
    """Work terms of different identities that intersect, each classified by how the earlier
    one ended, and the smallest gap between consecutive work terms (seconds): the shortest
    time with no job running."""
    by_identity = {p.identity: p for p in processes}
    overlaps, min_gap = find_overlaps(terms)
    found: list[WorkOverlap] = []
    for overlap in overlaps:
        if overlap.first.identity == overlap.second.identity:
            continue  # one process's own runs: a new term's job while the last one stops
        ended, stop_at = _how_ended(overlap.first, by_identity, overlap.second.start)
        found.append(WorkOverlap(overlap.first, overlap.second, overlap.seconds, ended, stop_at))
    return found, min_gap


def _check_work(
    work: Sequence[Sample], processes: Sequence[ProcessRecord], verdict: Verdict
) -> None:
    verdict.work_samples = len(work)
    verdict.work_terms = terms_from_samples(work)
    verdict.work_overlaps, verdict.work_min_gap = find_work_overlaps(verdict.work_terms, processes)
    fenced = [t for t in verdict.work_terms if t.token is not None]
    for before, after in itertools.pairwise(fenced):
        if after.token is not None and before.token is not None and after.token <= before.token:
            verdict.work_token_violations.append(
                f"work {after.describe()} follows {before.describe()} without a higher token"
            )


# -- events --------------------------------------------------------------------------------
def _check_events(record: ProcessRecord, verdict: Verdict) -> None:
    leading = False
    token: Any = None
    who = record.identity
    for event in record.events:
        kind = event.get("event")
        if kind == "elected":
            if leading:
                verdict.event_violations.append(
                    f"{who}: elected again (token {event.get('token')}) without a lost for "
                    f"token {token}"
                )
            leading, token = True, event.get("token")
        elif kind == "lost":
            if not leading:
                verdict.event_violations.append(
                    f"{who}: lost (token {event.get('token')}) without a preceding elected"
                )
            elif event.get("token") != token:
                verdict.event_violations.append(
                    f"{who}: lost carries token {event.get('token')}, its elected had {token}"
                )
            leading = False
        elif kind == "exit" and leading:
            verdict.event_violations.append(f"{who}: exited while leading, without a lost event")
            leading = False
    if leading and not record.killed:
        verdict.event_violations.append(
            f"{who}: elected (token {token}) was never followed by lost, and it was not killed"
        )


def _check_exit(record: ProcessRecord, verdict: Verdict) -> None:
    who = record.identity
    exit_event = next((e for e in record.events if e.get("event") == "exit"), None)
    if record.killed:
        return
    code = record.returncode
    if code is None:
        verdict.exit_violations.append(f"{who}: still running when the run ended")
        return
    if record.terminated:
        if code != 0:
            described = f"signal {-code}" if code < 0 else f"status {code}"
            verdict.exit_violations.append(f"{who}: SIGTERM ended it with {described}, not 0")
        elif exit_event is None:
            verdict.exit_violations.append(f"{who}: exited 0 without its exit event")
    elif code != 0:
        reason = exit_event.get("reason", "") if exit_event else ""
        verdict.exit_violations.append(
            f"{who}: ended on its own with status {code}" + (f" ({reason})" if reason else "")
        )
    else:
        reason = exit_event.get("reason", "") if exit_event else ""
        verdict.notes.append(f"{who}: ended on its own" + (f": {reason}" if reason else ""))
    if exit_event is not None:
        threads = [str(name) for name in exit_event.get("threads") or []]
        # run_while_leader threads (``...-job-<name>``) still alive are jobs stop() did not
        # wait for: judged with the work (drain), the library's own threads always.
        jobs = [name for name in threads if "-job-" in name]
        others = [name for name in threads if name not in jobs]
        if others:
            verdict.thread_violations.append(f"{who}: threads alive after stop(): {others}")
        if jobs:
            verdict.job_thread_violations.append(f"{who}: jobs alive after stop(): {jobs}")


def check(
    samples: Sequence[Sample],
    processes: Sequence[ProcessRecord],
    *,
    log_problems: Sequence[str] = (),
    work: Sequence[Sample] = (),
    drain: bool = False,
) -> Verdict:
    """Judge a run. See the module docstring for the invariants.

    ``work``: the samples of the work logs (invariant 6); ``drain``: judge work overlaps after
    a graceful stop as violations (for a library that drains before it releases).
    """
    return _check(samples, processes, log_problems=log_problems, work=work, drain=drain)


def _check(
    samples: Sequence[Sample],
    processes: Sequence[ProcessRecord],
    *,
    log_problems: Sequence[str] = (),
    work: Sequence[Sample] = (),
    drain: bool = False,
    exits: bool = True,
) -> Verdict:
    """``check``; ``exits=False`` leaves out invariants 4 and 5 (judged once per process by
    ``check_group``, not once per Lease)."""
    verdict = Verdict(samples=len(samples), log_violations=list(log_problems), drain=drain)
    _check_work(work, processes, verdict)
    ends: dict[tuple[str, int | None], list[float]] = defaultdict(list)
    for p in processes:
        for e in p.events:
            if e.get("event") == "lost":
                ends[(p.identity, e.get("token"))].append(float(e["t"]))
                verdict.released += e.get("reason") == "released"
                verdict.resigned += e.get("reason") == "resigned"
    verdict.terms = terms_from_samples(samples, ends)
    verdict.overlaps, verdict.min_gap = find_overlaps(verdict.terms)

    # 2. fencing tokens, by terms with actions and by elected events
    fenced = [t for t in verdict.terms if t.token is not None]
    for before, after in itertools.pairwise(fenced):
        if after.token is not None and before.token is not None and after.token <= before.token:
            verdict.token_violations.append(
                f"term {after.describe()} follows {before.describe()} without a higher token"
            )
    # Ordered by when each term began ("since", the send time of the write that won it) where
    # the implementation reports it: delivery can lag a term's start, by a whole pause when the
    # process is stopped right after winning, and must not reorder terms.
    elected = sorted(
        (
            (_began(e), p.identity, e.get("token"))
            for p in processes
            for e in p.events
            if e.get("event") == "elected"
        ),
        key=lambda item: item[0],
    )
    verdict.elected = len(elected)
    tokens = [(t, who, token) for t, who, token in elected if isinstance(token, int)]
    for (t0, who0, k0), (t1, who1, k1) in itertools.pairwise(tokens):
        if k1 <= k0:
            verdict.token_violations.append(
                f"elected {who1} token {k1} at {t1:.6f} after {who0} token {k0} at {t0:.6f}"
            )
    if elected and not tokens:
        verdict.notes.append("no fencing tokens: the implementation reports none")

    # terms must belong to an elected event of the same identity and token
    announced = defaultdict(set)
    for _, who, token in elected:
        announced[who].add(token)
    killed = {p.identity for p in processes if p.killed}
    last_term = {term.identity: term for term in verdict.terms}
    for term in verdict.terms:
        if term.token not in announced.get(term.identity, set()):
            if term.identity in killed and last_term[term.identity] is term:
                continue  # SIGKILLed between taking leadership and printing the event
            verdict.event_violations.append(
                f"{term.describe()}: acted as leader without an elected event for that term"
            )

    # 3-5. per process
    for record in processes:
        _check_events(record, verdict)
        if exits:
            _check_exit(record, verdict)
    return verdict


_LEASE_EVENTS = frozenset({"elected", "lost", "changed"})


def _of_lease(record: ProcessRecord, lease: str) -> ProcessRecord:
    """``record`` with only the events of ``lease`` (and its ``exit``, which ends them all)."""
    events = [
        e
        for e in record.events
        if (e.get("event") in _LEASE_EVENTS and e.get("lease") == lease) or e.get("event") == "exit"
    ]
    return ProcessRecord(
        record.identity,
        events,
        record.returncode,
        killed=record.killed,
        terminated=record.terminated,
        disturbed=record.disturbed,
    )


def _min(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def check_group(
    samples: Sequence[Sample],
    processes: Sequence[ProcessRecord],
    *,
    log_problems: Sequence[str] = (),
    work: Sequence[Sample] = (),
    drain: bool = False,
    leases: Iterable[str] = (),
) -> Verdict:
    """Judge a group run: invariants 1-3 and 6 per Lease, 4 and 5 per process.

    ``leases``: the group's Leases (a Lease nobody ever led is judged too); those named by
    the samples and events are added. The verdict's ``leases`` holds each Lease's own; its
    lists gather theirs, each violation prefixed with its Lease.
    """
    names = set(leases)
    names.update(s.lease for s in samples if s.lease)
    names.update(s.lease for s in work if s.lease)
    names.update(
        str(e["lease"])
        for p in processes
        for e in p.events
        if e.get("event") in _LEASE_EVENTS and e.get("lease")
    )
    verdict = Verdict(samples=len(samples), log_violations=list(log_problems), drain=drain)
    for name in sorted(names):
        one = _check(
            [s for s in samples if s.lease == name],
            [_of_lease(p, name) for p in processes],
            work=[s for s in work if s.lease == name],
            drain=drain,
            exits=False,
        )
        verdict.leases[name] = one
        verdict.terms += one.terms
        verdict.elected += one.elected
        verdict.overlaps += one.overlaps
        verdict.token_violations += [f"{name}: {v}" for v in one.token_violations]
        verdict.event_violations += [f"{name}: {v}" for v in one.event_violations]
        verdict.notes += [f"{name}: {n}" for n in one.notes]
        verdict.work_samples += one.work_samples
        verdict.work_terms += one.work_terms
        verdict.work_overlaps += one.work_overlaps
        verdict.work_token_violations += [f"{name}: {v}" for v in one.work_token_violations]
        verdict.released += one.released
        verdict.resigned += one.resigned
    verdict.terms.sort(key=lambda term: (term.start, term.end))
    verdict.work_terms.sort(key=lambda term: (term.start, term.end))
    verdict.min_gap = _min(v.min_gap for v in verdict.leases.values())
    verdict.work_min_gap = _min(v.work_min_gap for v in verdict.leases.values())
    for record in processes:
        _check_exit(record, verdict)
    return verdict
