"""Upgrade comparisons: the same rows in a baseline scenario and in one or more upgrades.

For each (machine class, stream, subscriber) of the baseline, the comparison gives each scenario's
figures and the relative change of the upgrade against the baseline (``-0.63`` is 63 % less).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from sim.metrics.figures import MEASURED
from sim.outputs import json_text
from sim.results import Results, StreamResult, read_written

# compared by their relative change; deadline_miss_ratio by its difference
CHANGED = (*(f"latency_{s}_s" for s in ("mean", "p50", "p95", "p99", "max")), "throughput_msg_s")
CHANGE_COLUMNS = (*CHANGED, "deadline_miss_ratio")


def _figures(row: StreamResult | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {figure.column: figure.value(row) for figure in MEASURED}


def relative_change(before: float | None, after: float | None) -> float | None:
    """``(after - before) / before``, or None where it is undefined."""
    if before is None or after is None or before == 0:
        return None
    return (after - before) / before


SIGNIFICANCE = ("mean", "p50", "p99")  # the statistics whose changes carry an interval


def change_interval(before: list[float], after: list[float]) -> tuple[float, float] | None:
    """The 95 % interval of the relative change of a statistic between two scenarios, from each
    scenario's per-replication values: Welch's t interval of the difference of the means, divided
    by the baseline's mean (its own uncertainty left out), and no lower than -100 %. None below
    two replications each."""
    if len(before) < 2 or len(after) < 2:
        return None
    b, a = np.asarray(before), np.asarray(after)
    vb, va = b.var(ddof=1) / b.size, a.var(ddof=1) / a.size
    spread = vb + va
    base = float(b.mean())
    if base == 0:
        return None
    if spread == 0:
        difference = float(a.mean() - base)
        return difference / base, difference / base
    dof = spread**2 / (vb**2 / (b.size - 1) + va**2 / (a.size - 1))
    half = float(stats.t.ppf(0.975, dof) * np.sqrt(spread))
    difference = float(a.mean() - base)
    # a latency cannot fall below zero: no change below -100 %
    return max(-1.0, (difference - half) / base), (difference + half) / base


def significance(base: StreamResult | None, row: StreamResult | None) -> dict[str, Any]:
    """For each of :data:`SIGNIFICANCE`: the change's interval and whether it excludes zero
    (None without an interval: fewer than two replications)."""
    out: dict[str, Any] = {}
    for statistic in SIGNIFICANCE:
        interval = None
        if base is not None and row is not None:
            interval = change_interval(
                base.per_replication.get(statistic, []), row.per_replication.get(statistic, [])
            )
        out[f"latency_{statistic}_s"] = {
            "ci95": None if interval is None else list(interval),
            "significant": None if interval is None else not (interval[0] <= 0 <= interval[1]),
        }
    return out


def changes(base: StreamResult | None, row: StreamResult | None) -> dict[str, float | None]:
    """An upgrade's row against the baseline's: the relative change of the latencies and the
    throughput, the difference of the deadline miss ratio."""
    before, after = _figures(base) or {}, _figures(row) or {}
    change: dict[str, float | None] = {
        column: relative_change(before.get(column), after.get(column)) for column in CHANGED
    }
    misses = before.get("deadline_miss_ratio"), after.get("deadline_miss_ratio")
    change["deadline_miss_ratio"] = (
        misses[1] - misses[0] if None not in misses else None  # type: ignore[operator]
    )
    return change


@dataclass
class Comparison:
    """A baseline's results and its upgrades' results, row by row."""

    baseline: Results
    upgrades: list[Results]

    @property
    def keys(self) -> list[tuple[str, str, str]]:
        """Rows of the baseline, then rows only the upgrades have."""
        keys = [row.key for row in self.baseline.streams]
        for upgrade in self.upgrades:
            keys += [row.key for row in upgrade.streams if row.key not in keys]
        return keys

    @staticmethod
    def _find(results: Results, key: tuple[str, str, str]) -> StreamResult | None:
        return next((row for row in results.streams if row.key == key), None)

    def rows(self) -> list[dict[str, Any]]:
        """One entry per row: the baseline's figures, each upgrade's figures and changes."""
        entries = []
        for key in self.keys:
            base = self._find(self.baseline, key)
            entry: dict[str, Any] = {
                "machine": key[0],
                "stream": key[1],
                "subscriber": key[2],
                "baseline": _figures(base),
                "upgrades": {},
            }
            for upgrade in self.upgrades:
                row = self._find(upgrade, key)
                entry["upgrades"][upgrade.scenario] = {
                    "figures": _figures(row),
                    "change": changes(base, row),
                    "change_ci95": significance(base, row),
                }
            entries.append(entry)
        return entries

    def records(self) -> list[dict[str, Any]]:
        """Long form: one flat mapping per (row, scenario), the baseline first, with the row's
        figures by column and, for an upgrade, each change as ``change_<column>``."""
        out: list[dict[str, Any]] = []
        for key in self.keys:
            base = self._find(self.baseline, key)
            for results in (self.baseline, *self.upgrades):
                row = self._find(results, key)
                entry: dict[str, Any] = {
                    "machine": key[0],
                    "stream": key[1],
                    "subscriber": key[2],
                    "scenario": results.scenario,
                    "baseline": results is self.baseline,
                }
                entry.update(_figures(row) or {figure.column: None for figure in MEASURED})
                delta = changes(base, row) if results is not self.baseline else {}
                entry.update({f"change_{column}": delta.get(column) for column in CHANGE_COLUMNS})
                noise = significance(base, row) if results is not self.baseline else {}
                for column in (f"latency_{s}_s" for s in SIGNIFICANCE):
                    found = noise.get(column) or {}
                    ci = found.get("ci95")
                    entry[f"change_{column}_low"] = ci[0] if ci else None
                    entry[f"change_{column}_high"] = ci[1] if ci else None
                    entry[f"change_{column}_significant"] = found.get("significant")
                out.append(entry)
        return out

    def to_dataframe(self) -> Any:
        """:meth:`records` as a pandas DataFrame, one line per row and scenario."""
        import pandas as pd

        return pd.DataFrame(self.records())

    def networks_dataframe(self) -> Any:
        """Every scenario's networks (:meth:`Results.network_records`), one line per network,
        direction and scenario."""
        import pandas as pd

        return pd.DataFrame(
            [r for results in (self.baseline, *self.upgrades) for r in results.network_records()]
        )

    def to_dict(self) -> dict[str, Any]:
        """The content of ``comparison.json``."""
        return {
            "baseline": self.baseline.scenario,
            "upgrades": [u.scenario for u in self.upgrades],
            "note": "change is (upgrade - baseline) / baseline; for deadline_miss_ratio the "
            "difference; change_ci95: Welch's 95 % interval of the change of the per-replication "
            "statistic, relative to the baseline's mean",
            "rows": self.rows(),
            "scenarios": {r.scenario: r.to_dict() for r in [self.baseline, *self.upgrades]},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        """A comparison from the content of a ``comparison.json``."""
        scenarios = data["scenarios"]
        return cls(
            Results.from_dict(scenarios[data["baseline"]]),
            [Results.from_dict(scenarios[name]) for name in data["upgrades"]],
        )

    def write(self, out: Path) -> Path:
        """Write ``comparison.json`` into ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        path = out / "comparison.json"
        path.write_text(json_text(self.to_dict()), encoding="utf-8")
        return path


def load_comparison(path: str | Path) -> Comparison:
    """What ``factory5g compare`` wrote: ``comparison.json`` in the folder ``path`` (or that file)."""
    return Comparison.from_dict(read_written(path, "comparison.json", "compare"))
