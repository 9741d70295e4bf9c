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


def _store(out: str | Path | None) -> Any:
    """The results store under ``out``, or None (nothing kept) without one."""
    from sim.studies.store import Store

    return Store(Path(out) / "store") if out is not None else None


def sweep(
    path: str | Path,
    vary: dict[str, Any] | None = None,
    zip: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
    out: str | Path | None = None,
    **overrides: Any,
) -> Any:
    """Run ``path`` at every point of ``vary`` (field path -> values: a list, or a range such as
    ``"4..64x2"``; without it the file's ``sweep:`` block) and return the long-form table, one row
    per point x (machine class, stream, subscriber) with a column per swept field.

    ``workers`` > 1 runs the replications on a local Dask cluster, ``scheduler`` on an existing
    one; ``out`` keeps every replication there (and writes the sweep's files), so that the same
    call again computes only what is missing. ``overrides`` as for :func:`run_file`.
    """
    from sim.studies.executor import executor
    from sim.studies.runner import Runner
    from sim.studies.sweep import plan

    planned = plan(path, vary, zip or None, overrides or None)
    with executor(workers, scheduler) as chosen:
        planned.run(Runner(chosen, _store(out)))
    if out is not None:
        planned.write(Path(out))
    return planned.to_dataframe()


def capacity(
    path: str | Path,
    grow: str,
    start: str | int | float,
    stop: str | int | float,
    until: str | None = None,
    rows: str | None = None,
    step: str | int | float | None = None,
    replications: int | None = None,
    max_replications: int = 16,
    workers: int = 1,
    scheduler: str | None = None,
    out: str | Path | None = None,
    **overrides: Any,
) -> Any:
    """The largest value of ``grow`` in ``[start, stop]`` at which ``until`` holds (every
    requirement by default; ``"mean<=10ms"``; a requirement preset) for the ``rows`` (a glob
    over machine/stream/subscriber): a :class:`sim.studies.capacity.Capacity` with every probe,
    ``largest_pass`` and ``smallest_fail``, and ``sentence()``."""
    from sim.studies.capacity import Condition, search
    from sim.studies.executor import executor
    from sim.studies.runner import Runner

    with executor(workers, scheduler) as chosen:
        found = search(
            path,
            grow,
            str(start),
            str(stop),
            Runner(chosen, _store(out)),
            Condition.parse(until, rows),
            step=None if step is None else str(step),
            replications=replications,
            max_replications=max_replications,
            overrides=overrides or None,
        )
    if out is not None:
        found.write(Path(out))
    return found


def bench(
    suite: str | Path = "scenarios/benchmarks",
    plants: list[str] | None = None,
    options: list[str] | None = None,
    quick: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
    out: str | Path | None = None,
    decide_within: float | None = 60.0,
    **overrides: Any,
) -> Any:
    """Run the benchmark suite (or one plant's folder) and return its
    :class:`sim.studies.bench.Scorecard`: ``.cells``, ``.at(plant, option)``, ``.to_dataframe()``
    (a row per plant, option and target). As ``factory5g bench``: ``quick`` for each plant's short
    run, ``decide_within`` seconds of compute to lengthen a full run whose targets are undecided
    (None: never), ``out`` to keep every replication there."""
    import time

    from sim.studies.bench import Scorecard, discover, score
    from sim.studies.executor import executor
    from sim.studies.runner import Runner

    entries = discover(Path(suite), plants, options, quick, overrides or None)
    start = time.perf_counter()
    with executor(workers, scheduler) as chosen:
        _, cells = score(
            entries,
            Runner(chosen, _store(out)),
            None if quick else decide_within,
            overrides,
        )
        card = Scorecard(str(suite), quick, chosen.workers, cells, time.perf_counter() - start)
    return card
