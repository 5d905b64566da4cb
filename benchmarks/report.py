"""Turning measurements into the comparison table, ``docs/benchmarks.md`` and the timeline PNG."""

from __future__ import annotations

import datetime
import math
import os
import platform
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.bench import IMPLS, Round, Settings, SteadyResult
from harness.checker import Verdict
from harness.fleet import Impl

__all__ = ["Row", "Target", "machine", "percentile", "render_markdown", "render_text", "timeline"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else None


@dataclass
class Row:
    """One line of the table: a figure for each implementation, lower is better."""

    label: str
    ours: float | None
    official: float | None
    unit: str
    digits: int = 0

    def cell(self, value: float | None) -> str:
        if value is None or math.isnan(value):
            return "n/a"
        return f"{value:.{self.digits}f}"

    @property
    def ratio(self) -> str:
        if self.ours is None or self.official is None:
            return "n/a"
        if self.ours < 0 or self.official < 0:
            return "n/a"  # a signed figure (overlap below zero): a ratio means nothing
        if self.official == 0:
            return "n/a" if self.ours else "="
        return f"{self.ours / self.official:.2f}"


@dataclass
class Target:
    """A goal from the issue and whether our figure meets it."""

    goal: str
    figure: str
    met: bool


def machine() -> list[tuple[str, str]]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        memory = "?"

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    return [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("machine", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("CPU", f"{model or '?'}, {os.cpu_count()} logical CPUs"),
        ("memory", memory),
        ("Python", platform.python_version()),
        ("kubernetes (official client)", version("kubernetes")),
        ("leader-election", version("leader-election")),
        ("urllib3", version("urllib3")),
    ]


# -- building the rows -------------------------------------------------------------------------
def round_stats(rounds: Sequence[Round]) -> dict[str, float | None]:
    times = [r.seconds * 1000 for r in rounds if r.seconds is not None]
    if not times:
        return {"min": None, "median": None, "p95": None, "max": None, "n": 0}
    return {
        "min": min(times),
        "median": statistics.median(times),
        "p95": percentile(times, 95),
        "max": max(times),
        "n": float(len(times)),
    }


def work_stats(rounds: Sequence[Round]) -> dict[str, float | None]:
    """Graceful handovers of work (ms): the old job's return to the new job's start (negative
    when they overlapped), the gap with no job running, the overlap with two, per handover."""
    handovers = [r.job_handover * 1000 for r in rounds if r.job_handover is not None]
    if not handovers:
        return dict.fromkeys(
            ("p50", "p95", "gap_p50", "gap_p95", "overlap_p50", "overlap_max", "overlapping"),
            None,
        ) | {"n": 0.0}
    gaps = [max(h, 0.0) for h in handovers]
    overlaps = [max(-h, 0.0) for h in handovers]
    return {
        "p50": percentile(handovers, 50),
        "p95": percentile(handovers, 95),
        "gap_p50": percentile(gaps, 50),
        "gap_p95": percentile(gaps, 95),
        "overlap_p50": percentile(overlaps, 50),
        "overlap_max": max(overlaps),
        "overlapping": float(sum(1 for o in overlaps if o > 0)),
        "n": float(len(handovers)),
    }


def steady_summary(results: Sequence[SteadyResult]) -> dict[str, float | None]:
    """Medians over repetitions of one implementation at one size."""

    def per_run(fn: Callable[[SteadyResult], float | None]) -> float | None:
        return _median(fn(r) for r in results)

    def followers(key: str, pick: Callable[[list[float]], float]) -> float | None:
        return per_run(lambda r: pick([f[key] for f in r.followers]) if r.followers else None)

    def cpu_percent(cpu: float | None, r: SteadyResult) -> float | None:
        return None if cpu is None or not r.window else cpu / r.window * 100

    return {
        "settle_requests": per_run(
            lambda r: None if r.settle_requests is None else float(r.settle_requests)
        ),
        "settle_seconds": per_run(lambda r: r.settle_seconds),
        "leader_total": per_run(lambda r: r.leader.get("total")),
        "leader_writes": per_run(lambda r: r.leader.get("writes")),
        "leader_reads": per_run(lambda r: r.leader.get("reads")),
        "follower_beyond_watch": followers("beyond_watch", statistics.median),
        "follower_beyond_watch_worst": followers("beyond_watch", max),
        "follower_watches": followers("watches", statistics.median),
        "leader_cpu": per_run(lambda r: r.leader_cpu),
        "follower_cpu": per_run(lambda r: _median(r.follower_cpu)),
        "leader_cpu_percent": per_run(lambda r: cpu_percent(r.leader_cpu, r)),
        "follower_cpu_percent": per_run(lambda r: cpu_percent(_median(r.follower_cpu), r)),
        "follower_cpu_percent_worst": per_run(
            lambda r: cpu_percent(max(r.follower_cpu), r) if r.follower_cpu else None
        ),
        "leader_rss": per_run(lambda r: r.leader_rss),
        "follower_rss": per_run(lambda r: _median(r.follower_rss)),
        "leader_changes": per_run(lambda r: float(r.leader_changes)),
        "window": per_run(lambda r: r.window),
    }


def build_rows(
    settings: Settings,
    rounds: dict[tuple[Impl, str], list[Round]],
    steady: dict[tuple[Impl, int], list[SteadyResult]],
    imports: dict[str, list[float]],
    events: dict[Impl, Verdict],
) -> tuple[list[Row], dict[str, dict[str, float | None]], dict[str, dict[str, float | None]]]:
    """The table's rows, the failover statistics (``ours-kill`` ...) and the steady-state
    summaries (``ours-5`` ...)."""
    rows: list[Row] = []
    stats = {
        f"{impl}-{kind}": round_stats(rounds.get((impl, kind), []))
        for impl in IMPLS
        for kind in ("kill", "term")
    }
    n = settings.candidates
    for kind, title in (
        ("kill", "crash failover (SIGKILL)"),
        ("term", "graceful handover (SIGTERM)"),
    ):
        for stat in ("min", "median", "p95", "max"):
            rows.append(
                Row(
                    f"{title}, {stat}, {n} candidates",
                    stats[f"ours-{kind}"][stat],
                    stats[f"official-{kind}"][stat],
                    "ms",
                )
            )
    work = {impl: work_stats(rounds.get((impl, "work"), [])) for impl in IMPLS}
    stats.update({f"{impl}-work": work[impl] for impl in IMPLS})
    stop_ms = settings.work_stop * 1000
    title = f"handover of a job that needs {stop_ms:.0f} ms to stop"
    for key, label in (
        ("p50", "old job's return to new job's start, median (below 0: overlap)"),
        ("p95", "old job's return to new job's start, p95"),
        ("gap_p50", "work gap (no job running), median"),
        ("gap_p95", "work gap (no job running), p95"),
        ("overlap_p50", "work overlap (two jobs running), median"),
        ("overlap_max", "work overlap (two jobs running), max"),
    ):
        rows.append(
            Row(f"{title}: {label}, {n} candidates", work["ours"][key], work["official"][key], "ms")
        )
    rows.append(
        Row(
            f"{title}: handovers with overlapping work",
            work["ours"]["overlapping"],
            work["official"]["overlapping"],
            "",
        )
    )
    summaries = {
        f"{impl}-{size}": steady_summary(steady.get((impl, size), []))
        for impl in IMPLS
        for size in settings.sizes
    }
    for size in settings.sizes:
        o, f = summaries[f"ours-{size}"], summaries[f"official-{size}"]
        rows.append(
            Row(f"leader requests/min, N={size}", o["leader_total"], f["leader_total"], "/min", 1)
        )
        rows.append(
            Row(f"leader writes/min, N={size}", o["leader_writes"], f["leader_writes"], "/min", 1)
        )
        if size > 1:
            rows.append(
                Row(
                    f"follower requests/min beyond its watch, N={size} (median follower)",
                    o["follower_beyond_watch"],
                    f["follower_beyond_watch"],
                    "/min",
                    2,
                )
            )
            rows.append(
                Row(
                    f"follower watch (re)opens/min, N={size}",
                    o["follower_watches"],
                    f["follower_watches"],
                    "/min",
                    2,
                )
            )
    big = max(settings.sizes)
    o, f = summaries[f"ours-{big}"], summaries[f"official-{big}"]
    rows.append(
        Row(
            f"requests to settle on one leader, N={big}",
            o["settle_requests"],
            f["settle_requests"],
            "requests",
        )
    )
    rows.append(
        Row(
            f"time to settle (every candidate knows the leader), N={big}",
            _ms(o["settle_seconds"]),
            _ms(f["settle_seconds"]),
            "ms",
        )
    )
    mid = 5 if 5 in settings.sizes else settings.sizes[0]
    o, f = summaries[f"ours-{mid}"], summaries[f"official-{mid}"]
    window = o["window"] or settings.window
    rows.append(
        Row(
            f"leader CPU seconds over {window:.0f} s idle, N={mid}",
            o["leader_cpu"],
            f["leader_cpu"],
            "s",
            3,
        )
    )
    rows.append(
        Row(
            f"follower CPU seconds over {window:.0f} s idle, N={mid}",
            o["follower_cpu"],
            f["follower_cpu"],
            "s",
            3,
        )
    )
    rows.append(Row(f"leader peak RSS, N={mid}", o["leader_rss"], f["leader_rss"], "MiB", 1))
    rows.append(Row(f"follower peak RSS, N={mid}", o["follower_rss"], f["follower_rss"], "MiB", 1))
    rows.append(
        Row(
            "import time beyond `import kubernetes`",
            _ms(_median(imports.get("ours", []))),
            _ms(_median(imports.get("official", []))),
            "ms",
            1,
        )
    )
    rows.append(
        Row(
            "elected/lost delivery violations (lower is better)",
            float(len(events["ours"].event_violations)) if "ours" in events else None,
            float(len(events["official"].event_violations)) if "official" in events else None,
            "",
        )
    )
    return rows, stats, summaries


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def build_targets(
    settings: Settings,
    rounds: dict[str, dict[str, float | None]],
    stats: dict[str, dict[str, float | None]],
) -> list[Target]:
    ld, _, ri = settings.timing.seconds()
    targets: list[Target] = []
    p95 = rounds["ours-kill"]["p95"]
    limit = ld * 1000 + 100
    targets.append(
        Target(
            f"crash failover p95 <= lease duration + 100 ms ({limit:.0f} ms)",
            "n/a" if p95 is None else f"{p95:.0f} ms",
            p95 is not None and p95 <= limit,
        )
    )
    p95 = rounds["ours-term"]["p95"]
    targets.append(
        Target(
            "graceful handover p95 <= 100 ms",
            "n/a" if p95 is None else f"{p95:.0f} ms",
            p95 is not None and p95 <= 100,
        )
    )
    overlap = rounds["ours-work"]["overlap_max"] if "ours-work" in rounds else None
    targets.append(
        Target(
            "graceful handover of work: no overlap (drain, then release), worst handover",
            "n/a" if overlap is None else f"{overlap:.0f} ms",
            overlap is not None and overlap == 0,
        )
    )
    worst = [
        stats[f"ours-{size}"]["follower_beyond_watch_worst"] for size in settings.sizes if size > 1
    ]
    present = [w for w in worst if w is not None]
    value = max(present) if present else None
    targets.append(
        Target(
            "a follower's steady-state requests <= 1/min beyond its watch (worst follower)",
            "n/a" if value is None else f"{value:.2f}/min",
            value is not None and value <= 1.0,
        )
    )
    writes = [stats[f"ours-{size}"]["leader_writes"] for size in settings.sizes]
    present = [w for w in writes if w is not None]
    per_interval = max(present) * ri / 60 if present else None
    targets.append(
        Target(
            "a leader's writes <= 1 per renewal interval",
            "n/a" if per_interval is None else f"{per_interval:.2f} per interval",
            per_interval is not None and per_interval <= 1.0 + 1e-9,
        )
    )
    mid = 5 if 5 in settings.sizes else settings.sizes[0]
    cpu = [
        stats[f"ours-{mid}"]["leader_cpu_percent"],
        stats[f"ours-{mid}"]["follower_cpu_percent_worst"],
    ]
    present = [c for c in cpu if c is not None]
    value = max(present) if present else None
    targets.append(
        Target(
            "idle CPU per candidate <= 0.5% of a core (leader and worst follower)",
            "n/a" if value is None else f"{value:.3f}%",
            value is not None and value <= 0.5,
        )
    )
    return targets


# -- rendering ---------------------------------------------------------------------------------
def render_text(rows: Sequence[Row], targets: Sequence[Target]) -> str:
    width = max(len(r.label) + len(r.unit) + 3 for r in rows)
    lines = [f"{'':{width}}  {'ours':>10}  {'official':>10}  {'ours/official':>13}"]
    for row in rows:
        label = f"{row.label} ({row.unit})" if row.unit else row.label
        lines.append(
            f"{label:{width}}  {row.cell(row.ours):>10}  {row.cell(row.official):>10}  "
            f"{row.ratio:>13}"
        )
    lines.append("")
    for target in targets:
        lines.append(f"[{'met' if target.met else 'MISSED'}] {target.goal}: {target.figure}")
    return "\n".join(lines)


def render_markdown(
    settings: Settings,
    rows: Sequence[Row],
    targets: Sequence[Target],
    *,
    findings: Sequence[str],
    png: str | None,
    command: str,
    raw: Mapping[str, Sequence[float]] | None = None,
) -> str:
    ld, rd, ri = settings.timing.seconds()
    out = [
        "# Benchmarks: `leader_election` and the official `kubernetes.leaderelection`",
        "",
        f"Generated by `{command}` (`benchmarks/`); do not edit by hand. Both implementations "
        "run as separate candidate processes against the same embedded Lease API server in the "
        "same run, with equal timing. Lower is better everywhere; the ratio is ours ÷ official.",
        "",
        "## Machine and parameters",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {key} | {value} |" for key, value in machine()]
    out += [
        f"| lease duration | {ld:g} s |",
        f"| renew deadline | {rd:g} s |",
        f"| renewal interval (official: retry period) | {ri:g} s |",
        f"| candidates in failover / handover rounds | {settings.candidates} |",
        f"| rounds per failover / handover series | {settings.rounds} |",
        f"| fleet sizes for steady state | {', '.join(str(s) for s in settings.sizes)} |",
        f"| steady-state window | {settings.window:g} s, {settings.repeats} repetitions "
        "(figures are medians over repetitions) |",
        f"| seed (kill phases) | {settings.seed} |",
        f"| mode | {'quick (development)' if settings.quick else 'full'} |",
        "",
        "## Results",
        "",
        "| | ours | official | ours/official |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        label = f"{row.label} ({row.unit})" if row.unit else row.label
        out.append(f"| {label} | {row.cell(row.ours)} | {row.cell(row.official)} | {row.ratio} |")
    out += ["", "## Targets (ours)", "", "| target | figure | met |", "|---|---:|:---:|"]
    out += [f"| {t.goal} | {t.figure} | {'yes' if t.met else '**no**'} |" for t in targets]
    if png:
        out += [
            "",
            "## A crash failover, request by request",
            "",
            "The median SIGKILL round of each implementation: one lane per candidate (its "
            "user on the server), leadership as a bar, each request as a mark at its arrival "
            "(writes, reads, watch opens); time 0 is the kill.",
            "",
            f"![failover timeline]({png})",
        ]
    out += ["", "## What the figures mean", ""]
    out += [f"- {finding}" for finding in findings]
    if raw:
        out += ["", "## Every round (ms, sorted)", ""]
        for label, values in raw.items():
            listed = ", ".join(f"{v:.0f}" for v in sorted(values)) or "none"
            out.append(f"- {label}: {listed}")
    out.append("")
    return "\n".join(out)


def timeline(rounds: dict[Impl, Round | None], path: Path, lease_duration: float) -> bool:
    """Draw the given failover rounds; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    present = {impl: r for impl, r in rounds.items() if r is not None}
    if not present:
        return False
    fig, axes = plt.subplots(len(present), 1, figsize=(11, 2.2 + 1.1 * 5 * len(present) / 2))
    if len(present) == 1:
        axes = [axes]
    for ax, (impl, rnd) in zip(axes, present.items(), strict=True):
        t0 = rnd.t_signal
        end = (rnd.t_elected or t0 + lease_duration) + 1.0
        start = t0 - lease_duration - 0.5
        users = sorted({u for _, _, u, _, _ in rnd.requests} | {_user(i) for i in rnd.lanes})
        lane = {user: index for index, user in enumerate(users)}
        for identity, events in rnd.lanes.items():
            y = lane[_user(identity)]
            leading_since: float | None = None
            for kind, t in sorted(events, key=lambda item: item[1]):
                if kind == "elected":
                    leading_since = t
                elif leading_since is not None:  # lost, exit or killed
                    _bar(ax, y, (leading_since, t), (start, end), t0)
                    leading_since = None
            if leading_since is not None:
                _bar(ax, y, (leading_since, end), (start, end), t0)
        marks = {
            "writes": ("|", "tab:red"),
            "reads": (".", "tab:blue"),
            "watch": ("v", "tab:green"),
        }
        for label, (marker, color) in marks.items():
            xs, ys = [], []
            for arrival, _, user, verb, _ in rnd.requests:
                kind = (
                    "writes"
                    if verb in ("update", "create")
                    else "watch"
                    if verb == "watch"
                    else "reads"
                )
                if kind == label and start <= arrival <= end:
                    xs.append(arrival - t0)
                    ys.append(lane[user])
            ax.scatter(xs, ys, marker=marker, color=color, s=60, label=label, zorder=3)
        ax.axvline(0, color="black", linestyle="--", linewidth=1)
        if rnd.t_elected is not None:
            ax.axvline(rnd.t_elected - t0, color="tab:purple", linestyle=":", linewidth=1.5)
        took = "" if rnd.seconds is None else f": new leader after {rnd.seconds * 1000:.0f} ms"
        ax.set_title(f"{impl}{took} (dashed: SIGKILL, dotted: elected)", fontsize=10)
        ax.set_yticks(range(len(users)), [u.split("-", 2)[-1] for u in users], fontsize=8)
        ax.set_xlim(start - t0, end - t0)
        ax.set_ylim(-0.7, len(users) - 0.3)
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("seconds from the kill")
    axes[0].legend(loc="upper left", fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _user(identity: str) -> str:
    return identity.rsplit("-g", 1)[0]


def _bar(
    ax: object, y: int, span: tuple[float, float], window: tuple[float, float], t0: float
) -> None:
    left, right = max(span[0], window[0]), min(span[1], window[1])
    if right > left:
        ax.barh(y, right - left, left=left - t0, height=0.5, color="gold", alpha=0.7)  # type: ignore[attr-defined]
