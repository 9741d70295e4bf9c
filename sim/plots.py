"""Plots of results: latency distributions per stream, one line per scenario."""

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
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    keys: list[tuple[str, str, str]] = []
    for result in results:
        for row in result.streams:
            if row.key not in keys and (subscriber is None or row.subscriber == subscriber):
                keys.append(row.key)
    columns = min(3, max(1, len(keys)))
    lines = max(1, math.ceil(len(keys) / columns))
    if axes is None:
        fig, grid = plt.subplots(
            lines, columns, figsize=(4.2 * columns, 3.2 * lines), squeeze=False
        )
        panels = list(grid.flat)
    else:
        panels = list(np.atleast_1d(axes).flat)
        fig = panels[0].figure
    for panel, key in zip(panels, keys, strict=False):
        for result in results:
            samples = result.samples.get(key)
            if samples is None or samples.size == 0:
                continue
            ordered = np.sort(samples) * 1e3
            fraction = np.arange(1, ordered.size + 1) / ordered.size
            panel.plot(ordered, fraction, label=result.scenario, linewidth=1.4)
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


def save_latency_cdf(results: list[Results], path: Path, subscriber: str | None = None) -> Path:
    """Write :func:`latency_cdf` as a PNG (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = latency_cdf(results, subscriber=subscriber)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
