"""Upgrade comparisons: the same rows in a baseline scenario and in one or more upgrades.

For each (machine class, stream, subscriber) of the baseline, the comparison gives each scenario's
figures and the relative change of the upgrade against the baseline (``-0.63`` is 63 % less).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.results import Results, StreamResult

COMPARED = ("p50", "p95", "p99", "max")


def _figures(row: StreamResult | None) -> dict[str, Any] | None:
    if row is None:
        return None
    figures: dict[str, Any] = {f"latency_{s}_s": row.latency(s) for s in ("mean", *COMPARED)}
    figures.update(
        published=row.published,
        delivered=row.delivered,
        dropped=row.dropped,
        in_flight=row.in_flight,
        loss_ratio=row.loss_ratio,
        throughput_msg_s=row.throughput_msg_s,
        throughput_bit_s=row.throughput_bit_s,
        deadline_miss_ratio=row.deadline_miss_ratio,
        availability=row.availability,
        completion_p50_s=row.completion("p50"),
        completion_p99_s=row.completion("p99"),
        resumed=row.resumed,
        duplicates=row.duplicates,
    )
    return figures


def relative_change(before: float | None, after: float | None) -> float | None:
    """``(after - before) / before``, or None where it is undefined."""
    if before is None or after is None or before == 0:
        return None
    return (after - before) / before


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
                change = {
                    f"latency_{s}": relative_change(
                        base.latency(s) if base else None, row.latency(s) if row else None
                    )
                    for s in ("mean", *COMPARED)
                }
                change["throughput_msg_s"] = relative_change(
                    base.throughput_msg_s if base else None, row.throughput_msg_s if row else None
                )
                change["deadline_miss_ratio"] = (
                    row.deadline_miss_ratio - base.deadline_miss_ratio
                    if row
                    and base
                    and row.deadline_miss_ratio is not None
                    and base.deadline_miss_ratio is not None
                    else None
                )
                entry["upgrades"][upgrade.scenario] = {"figures": _figures(row), "change": change}
            entries.append(entry)
        return entries

    def to_dict(self) -> dict[str, Any]:
        """The content of ``comparison.json``."""
        return {
            "baseline": self.baseline.scenario,
            "upgrades": [u.scenario for u in self.upgrades],
            "note": "change is (upgrade - baseline) / baseline; for deadline_miss_ratio the difference",
            "rows": self.rows(),
            "scenarios": {r.scenario: r.to_dict() for r in [self.baseline, *self.upgrades]},
        }

    def write(self, out: Path) -> Path:
        """Write ``comparison.json`` into ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        path = out / "comparison.json"
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path
