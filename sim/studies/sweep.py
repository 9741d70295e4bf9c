"""Sweeps: one scenario run at every point of a grid (or a zip) of field values.

A sweep names fields by their dotted paths (:mod:`sim.scenario.paths`) and gives each a list of
values or a range (:mod:`sim.scenario.sweeps`), on the command line (``--vary``) or in a study
file's ``sweep:`` block. Every point is loaded and validated before anything runs, each problem
naming its file, field and point. Each point x replication is a task on the executor; results are
kept in the store, so a sweep run again computes only what is missing.

What a sweep writes into its folder:

- ``sweep.csv`` and ``sweep.parquet``: one row per point x (machine class, stream, subscriber), the
  swept fields first (their values as written), then ``point``, the columns of ``streams.csv``
  and the row's targets (``required_reliability``, ``required_availability``, ...);
- ``sweep.json``: the base file, the swept fields and their values, and each point's values and
  folder;
- ``points/point-NNN/``: each point's ``summary.json``, ``streams.csv`` and ``scenario.json``, the
  same bytes that ``factory5g run`` writes for that scenario;
- ``store/``: every replication's result, by content hash (:mod:`sim.studies.store`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.outputs import csv_text, json_text
from sim.results import CSV_COLUMNS, Results, StreamResult, write_scenario
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.loader import load_points, load_scenario
from sim.scenario.schema import Scenario
from sim.scenario.sweeps import SweepValueError, points, values_of
from sim.studies.runner import Job, Runner

# the targets of a row's requirement, as columns beside its figures (plots mark them)
TARGETS = ("reliability", "availability", "max_loss", "min_throughput")


@dataclass
class Point:
    """One point of a sweep: its field values, its validated scenario, and once run its results."""

    index: int
    values: dict[str, Any]
    scenario: Scenario = field(repr=False)
    results: Results | None = field(default=None, repr=False)

    @property
    def folder(self) -> str:
        return f"point-{self.index:03d}"

    def label(self) -> str:
        said = ", ".join(f"{path}={value}" for path, value in self.values.items())
        return f"point {self.index} ({said})"


@dataclass
class Sweep:
    """A sweep of the scenario in ``source``: the fields varied, their values and the points."""

    source: Path
    fields: dict[str, list[Any]]
    zipped: bool
    points: list[Point]

    @property
    def parameters(self) -> list[str]:
        return list(self.fields)

    def run(self, runner: Runner) -> Sweep:
        """Run every point (what the runner's store lacks) and keep each point's results."""
        jobs = [Job(point.scenario, point.label()) for point in self.points]
        for point, results in zip(self.points, runner.run(jobs), strict=True):
            point.results = results
        return self

    def rows(self, rows: str = "*") -> Iterator[tuple[Point, StreamResult]]:
        """Each point that ran with each of its rows matching the glob ``rows``, in order."""
        for point in self.points:
            if point.results is not None:
                for row in point.results.streams:
                    if row.matches(rows):
                        yield point, row

    def records(self, rows: str = "*") -> list[dict[str, Any]]:
        """The tidy table: one mapping per point x row (those matching the glob ``rows``), the
        swept fields first."""
        records = []
        for point, row in self.rows(rows):
            targets = row.requirement or {}
            required = {f"required_{name}": targets.get(name) for name in TARGETS}
            records.append({**point.values, "point": point.index, **row.csv_row(), **required})
        return records

    @property
    def columns(self) -> list[str]:
        return [*self.parameters, "point", *CSV_COLUMNS, *(f"required_{t}" for t in TARGETS)]

    def to_dataframe(self, rows: str = "*") -> Any:
        """:meth:`records` as a long-form pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.records(rows), columns=self.columns)

    def write(self, out: Path) -> list[Path]:
        """``sweep.json``, ``sweep.csv``, ``sweep.parquet`` and each point's folder under ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        for point in self.points:
            if point.results is not None:
                folder = out / "points" / point.folder
                point.results.write(folder)
                write_scenario(point.scenario, folder)
        index = {
            "sweep": str(self.source),
            "fields": self.fields,
            "zip": self.zipped,
            "points": [
                {"point": p.index, "values": p.values, "folder": f"points/{p.folder}"}
                for p in self.points
            ],
        }
        import pandas as pd

        records = self.records()
        written = [out / "sweep.json", out / "sweep.csv", out / "sweep.parquet"]
        written[0].write_text(json_text(index), encoding="utf-8")
        written[1].write_text(csv_text(records, self.columns), encoding="utf-8", newline="")
        _parquet(pd.DataFrame(records, columns=self.columns), written[2])
        return written


def _parquet(frame: Any, path: Path) -> None:
    """The table as Parquet: a column whose values mix numbers and text (a swept field written
    ``4`` at one point and ``10ms`` at another) is stored as text."""
    frame = frame.copy()
    for name in frame.columns:
        kinds = {type(v) for v in frame[name] if v is not None}
        if len(kinds) > 1 and str in kinds:
            frame[name] = frame[name].map(lambda v: None if v is None else str(v))
    frame.to_parquet(path, index=False)


def plan(
    source: str | Path,
    vary: dict[str, Any] | None = None,
    zipped: bool | None = None,
    overrides: dict[str, Any] | None = None,
) -> Sweep:
    """The sweep of ``source``: the fields of ``vary`` (path -> values, a list or a range), or,
    without it, the file's ``sweep:`` block; every point loaded and validated (one
    :class:`ScenarioError` lists every problem of every point)."""
    path = Path(source)
    base = load_scenario(path, overrides)
    shown = str(path)
    if vary is None:
        if base.sweep is None:
            raise ScenarioError(
                "nothing to sweep: give --vary PATH=VALUES or write a sweep: block in the file",
                file=shown,
            )
        vary = dict(base.sweep.vary)
        zipped = base.sweep.zip if zipped is None else zipped
    fields: dict[str, list[Any]] = {}
    problems: list[Problem] = []
    for name, written in vary.items():
        try:
            fields[name] = values_of(written)
        except SweepValueError as error:
            problems.append(Problem(shown, name, str(error)))
    if problems:
        raise ScenarioError(problems=problems)
    try:
        combos = points(fields, bool(zipped))
    except SweepValueError as error:
        raise ScenarioError(str(error), file=shown) from None
    scenarios = load_points(path, overrides, combos)
    swept = [
        Point(index, values, scenario)
        for index, (values, scenario) in enumerate(zip(combos, scenarios, strict=True))
    ]
    return Sweep(path, fields, bool(zipped), swept)


def load_sweep(folder: str | Path) -> Any:
    """The tidy table a sweep wrote into ``folder`` (``sweep.parquet``) as a DataFrame."""
    import pandas as pd

    path = Path(folder)
    file = path / "sweep.parquet" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no sweep.parquet here (write one with factory5g sweep)")
    return pd.read_parquet(file)


__all__ = ["Point", "Sweep", "load_sweep", "plan"]
