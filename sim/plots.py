"""Plots of results: latency distributions per stream, one line per scenario.

:func:`latency_ccdf` is the one for requirements: the share of messages later than each latency,
on a log axis down to the smallest share the run can show (one message in the row's sample), with
the deadline and the reliability target's allowed share of late messages marked. :func:`latency_cdf`
draws the distributions' bodies.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.results import Results


def latency_cdf(
    results: list[Results],
    subscriber: str | None = None,
    deadlines: bool = True,
    axes: Any = None,
) -> Any:
    """Empirical latency CDFs, one panel per (machine class, stream, subscriber).

    ``subscriber`` keeps only that subscriber's rows. Deadlines are drawn as dotted vertical lines.
    Returns the matplotlib Figure.
    """
    from matplotlib import ticker

    keys = _keys(results, subscriber)
    fig, panels = _panels(len(keys), axes)
    for panel, key in zip(panels, keys, strict=False):
        for result in results:
            curve = distribution(result, key)
            if curve is None:
                continue
            ordered, below, _ = curve
            panel.plot(ordered, below, label=result.scenario, linewidth=1.4)
        if deadlines:
            row = next((r for res in results for r in res.streams if r.key == key), None)
            if row is not None and row.deadline_s:
                panel.axvline(row.deadline_s * 1e3, color="grey", linestyle=":", label="deadline")
        panel.set_xscale("log")
        panel.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        panel.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
        panel.xaxis.set_minor_formatter(ticker.NullFormatter())
        panel.set_title(f"{key[0]}/{key[1]} -> {key[2]}", fontsize=9)
        panel.set_xlabel("latency (ms)")
        panel.set_ylabel("fraction delivered")
        panel.grid(True, which="both", alpha=0.3)
    for panel in panels[len(keys) :]:
        panel.set_visible(False)
    if keys:
        panels[0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _keys(results: list[Results], subscriber: str | None) -> list[tuple[str, str, str]]:
    keys: list[tuple[str, str, str]] = []
    for result in results:
        for row in result.streams:
            if row.key not in keys and (subscriber is None or row.subscriber == subscriber):
                keys.append(row.key)
    return keys


def _panels(count: int, axes: Any, legend_room: float = 0.0) -> tuple[Any, list[Any]]:
    """A figure with ``count`` panels, three to a line (or the caller's ``axes``)."""
    import matplotlib.pyplot as plt

    if axes is not None:
        panels = list(np.atleast_1d(axes).flat)
        return panels[0].figure, panels
    columns = min(3, max(1, count))
    lines = max(1, math.ceil(count / columns))
    fig, grid = plt.subplots(
        lines, columns, figsize=(4.2 * columns, 3.2 * lines + legend_room), squeeze=False
    )
    return fig, list(grid.flat)


def _one_legend(fig: Any, panels: list[Any], used: int) -> None:
    """Hide the panels past the first ``used`` and give the figure one legend below them, each
    label once."""
    for panel in panels[used:]:
        panel.set_visible(False)
    handles: dict[str, Any] = {}
    for panel in panels[:used]:
        for handle, label in zip(*panel.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="lower center",
            ncol=min(4, len(handles)),
            fontsize=8,
        )


def _save(fig: Any, path: Path, dpi: int) -> Path:
    """Write ``fig`` as a PNG and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def ccdf(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latencies in ms and the share of the sample later than each: ``1 - i/n`` at the i-th
    smallest, so the curve ends at ``1/n``, the finest share ``n`` messages resolve."""
    ordered = np.sort(samples) * 1e3
    later = 1.0 - np.arange(ordered.size) / ordered.size
    return ordered, later


def distribution(
    result: Results, key: tuple[str, str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A row's latencies in ms, increasing, with the share of copies at or below each and the
    share at or above it: from the exact latencies where the run kept them, else from its
    histogram (each bucket at its reported value, within the histogram's relative error); None
    when nothing was delivered."""
    samples = result.samples.get(key)
    if samples is not None and samples.size:
        ordered, later = ccdf(samples)
        return ordered, np.arange(1, ordered.size + 1) / ordered.size, later
    histogram = result.histograms.get(key)
    if histogram is None or not histogram.total:
        return None
    values, counts = histogram.buckets()
    below = np.cumsum(counts) / histogram.total
    return values * 1e3, below, 1.0 - (np.cumsum(counts) - counts) / histogram.total


def latency_ccdf(results: list[Results], subscriber: str | None = None, axes: Any = None) -> Any:
    """Complementary latency CDFs on log-log axes, one panel per (machine class, stream,
    subscriber), one line per scenario; the deadline a dotted vertical line, the share of late
    messages the reliability target allows a dashed horizontal one; one legend for the figure and
    the runs' length x replications in the title. Returns the matplotlib Figure."""
    from matplotlib import ticker

    keys = _keys(results, subscriber)
    fig, panels = _panels(len(keys), axes, legend_room=0.6)
    for panel, key in zip(panels, keys, strict=False):
        floor = 1.0
        for number, result in enumerate(results):
            curve = distribution(result, key)
            if curve is None:
                continue
            x, _, y = curve
            floor = min(floor, y[-1])
            panel.step(x, y, where="post", label=result.scenario, linewidth=1.4, color=f"C{number}")
        row = next((r for res in results for r in res.streams if r.key == key), None)
        if row is not None and row.deadline_s:
            panel.axvline(row.deadline_s * 1e3, color="grey", linestyle=":", label="deadline")
        target = (row.requirement or {}).get("reliability") if row is not None else None
        if target is not None:
            panel.axhline(
                1.0 - target,
                color="firebrick",
                linestyle="--",
                linewidth=1,
                label="late share allowed",
            )
        panel.set_xscale("log")
        panel.set_yscale("log")
        panel.set_ylim(max(floor / 2, 1e-9), 1.5)
        panel.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
        panel.xaxis.set_minor_formatter(ticker.NullFormatter())
        panel.set_title(f"{key[0]}/{key[1]} -> {key[2]}", fontsize=9)
        panel.set_xlabel("latency (ms)")
        panel.set_ylabel("share later than")
        panel.grid(True, which="both", alpha=0.3)
    _one_legend(fig, panels, len(keys))
    runs = sorted({(r.duration_s - r.warmup_s, r.replications) for r in results})
    length = ", ".join(f"{window:g} s x {count}" for window, count in runs)
    fig.suptitle(f"latency CCDF ({length} replications measured)", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return fig


def latency_bars(
    results: list[Results], statistic: str = "p99", subscriber: str | None = None, axes: Any = None
) -> Any:
    """A latency statistic (``mean``, ``p50``, ``p99``) per row as bars, one per scenario, with
    the 95 % interval of the per-replication values (Student's t) as error bars where a run has
    two or more replications; log axis. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    from sim.metrics.verdicts import replication_interval

    keys = _keys(results, subscriber)
    if axes is None:
        fig, axes = plt.subplots(figsize=(max(6.0, 1.3 * len(keys) + 2), 4))
    fig = axes.figure
    width = 0.8 / max(1, len(results))
    x = np.arange(len(keys))
    for number, result in enumerate(results):
        heights, low, high = [], [], []
        for key in keys:
            row = next((r for r in result.streams if r.key == key), None)
            value = row.latency(statistic) if row is not None else None
            interval = replication_interval(row.per_replication.get(statistic, [])) if row else None
            heights.append(np.nan if value is None else value * 1e3)
            low.append(
                0.0 if interval is None or value is None else max(0.0, value - interval[0]) * 1e3
            )
            high.append(
                0.0 if interval is None or value is None else max(0.0, interval[1] - value) * 1e3
            )
        offset = (number - (len(results) - 1) / 2) * width
        axes.bar(x + offset, heights, width, yerr=[low, high], capsize=3, label=result.scenario)
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
    axes.yaxis.set_minor_formatter(ticker.NullFormatter())
    axes.set_xticks(x, [f"{m}/{s}\n-> {sub}" for m, s, sub in keys], fontsize=8)
    axes.set_ylabel(f"{statistic} latency (ms)")
    axes.grid(True, axis="y", which="both", alpha=0.3)
    runs = ", ".join(
        sorted({f"{r.duration_s - r.warmup_s:g} s x {r.replications}" for r in results})
    )
    axes.set_title(
        f"{statistic} latency per row, 95 % intervals of the replications ({runs})", fontsize=10
    )
    axes.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_latency_cdf(results: list[Results], path: Path, subscriber: str | None = None) -> Path:
    """Write :func:`latency_ccdf` as a PNG (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    return _save(latency_ccdf(results, subscriber=subscriber), path, dpi=120)


# ------------------------------------------------------------------------------------ sweeps

# A figure of the tidy sweep table: its 95 % interval columns, its axis label and scale, and the
# target column that marks the requirement on it.
_SWEPT = {
    "latency_mean_s": ("latency_mean_ci95_low_s", "latency_mean_ci95_high_s", "mean latency (ms)"),
    "latency_p99_s": ("latency_p99_ci95_low_s", "latency_p99_ci95_high_s", "p99 latency (ms)"),
}
_TARGET_OF = {
    "deadline_miss_ratio": ("required_reliability", lambda v: 1.0 - v, "late share allowed"),
    "availability": ("required_availability", lambda v: v, "availability required"),
    "loss_ratio": ("required_max_loss", lambda v: v, "loss allowed"),
    "throughput_bit_s": ("required_min_throughput", lambda v: v, "throughput required"),
}


def _positions(values: list[Any]) -> tuple[np.ndarray, list[str] | None]:
    """Where swept values go on the x axis: numbers as they are, quantities in SI units (``10ms``
    at 0.01), anything else (``DDDSU``) evenly spaced with its text as the tick label."""
    from sim.scenario import units

    parsers = (
        units.parse_time,
        units.parse_size,
        units.parse_rate,
        units.parse_frequency,
        units.parse_fraction,
    )
    numbers: list[float] = []
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers.append(float(value))
            continue
        for parse in parsers:
            try:
                numbers.append(parse(value))
                break
            except (units.UnitError, TypeError, ValueError):
                continue
        else:
            return np.arange(len(values), dtype=float), [str(v) for v in values]
    return np.asarray(numbers), None


def sweep_plot(
    frame: Any,
    figure: str = "latency_p99_s",
    x: str | None = None,
    by: str | None = None,
    rows: list[tuple[str, str, str]] | None = None,
    axes: Any = None,
) -> Any:
    """A figure of a sweep's tidy table (:func:`sim.sweep`) against the swept field ``x`` (the
    first by default), one panel per (machine class, stream, subscriber), one line per value of
    ``by`` (the second swept field, if any), with the 95 % interval of the replications as a band
    where the table has one (mean and p99 latency) and the requirement marked: the deadline on a
    latency, the allowed late share on the deadline miss ratio, the availability, loss or
    throughput required. Returns the matplotlib Figure."""
    parameters = list(frame.columns[: list(frame.columns).index("point")])
    if not parameters:
        raise ValueError("the table has no swept fields (is it a sweep's table?)")
    x = x or parameters[0]
    if by is None and len(parameters) > 1:
        by = next(p for p in parameters if p != x)
    keys = rows or list(
        dict.fromkeys(zip(frame.machine, frame.stream, frame.subscriber, strict=True))
    )
    if rows is None:  # rows without the figure (no deadline, nothing delivered) have no panel
        shown = frame[frame[figure].notna()]
        drawn = set(zip(shown.machine, shown.stream, shown.subscriber, strict=True))
        keys = [key for key in keys if key in drawn] or keys
    fig, panels = _panels(len(keys), axes, legend_room=0.5)
    latency = figure.startswith("latency_")
    scale = 1e3 if latency else 1.0
    groups = list(dict.fromkeys(frame[by])) if by else [None]
    for panel, key in zip(panels, keys, strict=False):
        mine = frame[
            (frame.machine == key[0]) & (frame.stream == key[1]) & (frame.subscriber == key[2])
        ]
        ticks: list[str] | None = None
        for number, group in enumerate(groups):
            part = mine if group is None else mine[mine[by] == group]
            if part.empty:
                continue
            positions, ticks = _positions(list(part[x]))
            order = np.argsort(positions, kind="stable")
            xs = positions[order]
            ys = part[figure].to_numpy(dtype=float)[order] * scale
            label = f"{by.split('.')[-1]}={group}" if group is not None else key[0]
            panel.plot(xs, ys, marker="o", color=f"C{number}", label=label, linewidth=1.4)
            if figure in _SWEPT:
                low, high, _ = _SWEPT[figure]
                lows = part[low].to_numpy(dtype=float)[order] * scale
                highs = part[high].to_numpy(dtype=float)[order] * scale
                panel.fill_between(xs, lows, highs, color=f"C{number}", alpha=0.2, linewidth=0)
        if latency:
            deadlines = mine["deadline_s"].dropna().unique()
            if deadlines.size:
                panel.axhline(
                    deadlines[0] * 1e3, color="firebrick", linestyle="--", label="deadline"
                )
        elif figure in _TARGET_OF:
            column, mark, text = _TARGET_OF[figure]
            targets = mine[column].dropna().unique() if column in mine else []
            if len(targets):
                panel.axhline(mark(targets[0]), color="firebrick", linestyle="--", label=text)
        if ticks is not None:
            panel.set_xticks(np.arange(len(ticks)), ticks)
        panel.set_title(f"{key[0]}/{key[1]} -> {key[2]}", fontsize=9)
        panel.set_xlabel(x)
        panel.set_ylabel(_SWEPT[figure][2] if figure in _SWEPT else figure)
        panel.grid(True, alpha=0.3)
    _one_legend(fig, panels, len(keys))
    if axes is None:  # room for the title and the legend under a single panel
        width, height = fig.get_size_inches()
        fig.set_size_inches(max(width, 7.0), height)
    fig.suptitle(f"{figure} against {x}\n(bands: 95 % intervals of the replications)", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return fig


def save_sweep_plot(frame: Any, path: Path, figure: str = "latency_p99_s") -> Path:
    """Write :func:`sweep_plot` as a PNG (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    return _save(sweep_plot(frame, figure), path, dpi=110)
