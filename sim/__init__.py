"""factory5g: a simulated 5G + industrial-IoT factory testbed.

The Python API (imported on first use, so that ``factory5g validate`` stays quick):

- :func:`load_scenario` reads and validates a scenario file;
- :func:`run_scenario` runs a loaded scenario, :func:`run_file` a file;
- :func:`compare_files` runs a baseline and its upgrades, giving a :class:`Comparison`;
- :func:`sweep` runs a scenario over a grid of field values, giving a long-form DataFrame;
  :func:`capacity` finds the largest value of a field at which the requirements hold;
- :func:`load_results`, :func:`load_comparison` and :func:`load_sweep` read back what ``run``,
  ``compare`` and ``sweep`` wrote;
- :func:`latency_ccdf` and :func:`latency_cdf` plot latency distributions of one or more results,
  :func:`latency_bars` a statistic per row with the replications' 95 % intervals, and
  :func:`sweep_plot` a figure of a sweep against a swept field.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_scenario": "sim.scenario.loader",
    "ScenarioError": "sim.scenario.errors",
    "Scenario": "sim.scenario.schema",
    "run_scenario": "sim.engine",
    "Plant": "sim.engine",
    "run_file": "sim.api",
    "compare_files": "sim.api",
    "sweep": "sim.api",
    "capacity": "sim.api",
    "bench": "sim.api",
    "load_sweep": "sim.studies.sweep",
    "sweep_plot": "sim.plots",
    "Comparison": "sim.compare",
    "Results": "sim.results",
    "load_results": "sim.results",
    "load_comparison": "sim.compare",
    "latency_cdf": "sim.plots",
    "latency_ccdf": "sim.plots",
    "latency_bars": "sim.plots",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
