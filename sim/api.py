"""The Python API for notebooks and scripts: run a scenario file, compare an upgrade to a baseline.

import sim
comparison = sim.compare_files("scenarios/line3-intranet.yaml", "scenarios/line3-5g.yaml")
comparison.baseline.stream("robot", "joints", "scada").latency("p99")
sim.latency_cdf([comparison.baseline, *comparison.upgrades], subscriber="scada")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.compare import Comparison
from sim.engine import run_scenario
from sim.results import Results
from sim.scenario.loader import load_scenario


def run_file(
    path: str | Path,
    progress: Callable[[int, float], None] | None = None,
    **overrides: Any,
) -> Results:
    """Load a scenario file (``extends:`` resolved) and run it.

    ``overrides`` replace top-level fields, e.g. ``duration="10s"``, ``replications=1``, ``seed=3``.
    """
    return run_scenario(load_scenario(path, overrides or None), progress=progress)


def compare_files(baseline: str | Path, *upgrades: str | Path, **overrides: Any) -> Comparison:
    """Run a baseline and its upgrades with the same ``overrides``; their row-by-row comparison."""
    runs = [run_file(path, **overrides) for path in (baseline, *upgrades)]
    return Comparison(runs[0], runs[1:])
