"""The benchmark suite: reference plants, each in several network options, and their scorecard.

A suite is a folder of plants (``scenarios/benchmarks/``), one folder each; every YAML file in a
plant's folder is the plant in one network option, named by the file (``profinet.yaml``,
``5g-urllc.yaml``), and carries a ``benchmark:`` card (:class:`sim.scenario.schema.Benchmark`):
the published use case, its sources, and what this option is. One file of each plant describes it
on its legacy intranet; the others extend it and change only the network.

``factory5g bench`` runs every (plant, option) with all its replications as one study (on the
executor ``sweep`` uses: here, or Dask), keeps each replication in the store so that a second run
computes only what changed, and judges every row's requirement. The scorecard has a cell per
(plant, option): each requirement target's verdict with its margin, the worst p99 and
availability of the plant's judged rows, and the busiest network's utilisation; and, as a
benchmark of the tool itself, the CPU seconds the plant took and the messages it simulated per
CPU second. ``--quick`` runs each plant for its card's ``quick`` time with two replications: a
smoke test of the whole suite in a few minutes, whose verdicts are mostly undecided for targets
with many nines; the full run uses each file's own duration and replications, and every target it
cannot decide says how many messages (and how much simulated time) a decision needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.metrics.verdicts import combined
from sim.results import Results
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import EthernetNetwork, ParametricNetwork, Scenario
from sim.studies.runner import Job, Runner

# the scorecard's columns: today's intranets first, then the upgrades; an option of another name
# comes after these, in alphabetical order
OPTIONS = (
    "ethernet",
    "profinet",
    "gateway",
    "wifi",
    "lte",
    "mixed",
    "5g-grant",
    "5g-cg",
    "5g-urllc",
    "5g-mmwave",
    "5g-slice",
)
QUICK_REPLICATIONS = 2
# TCP/IP (40 B) and Ethernet (14 B header, 4 B FCS, 8 B preamble, 12 B gap) per MQTT packet
WIRE_OVERHEAD_BYTES = 78


@dataclass(frozen=True)
class Entry:
    """One plant in one network option: its file and the scenario to run."""

    plant: str
    option: str
    path: Path
    scenario: Scenario

    @property
    def label(self) -> str:
        return f"{self.plant}/{self.option}"


def _seconds(value: float) -> str:
    """A time as a scenario field takes it (a number with its unit)."""
    return f"{value:.12g}s"


def option_order(option: str) -> tuple[int, str]:
    """Where an option's column goes: the known ones in :data:`OPTIONS` order, then the rest."""
    return (OPTIONS.index(option), "") if option in OPTIONS else (len(OPTIONS), option)


def _plant_folders(folder: Path) -> list[Path]:
    if any(folder.glob("*.yaml")):
        return [folder]  # a plant's own folder
    return sorted(p for p in folder.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


def _chosen(given: Sequence[str] | None, found: Sequence[str], what: str, flag: str) -> set[str]:
    if not given:
        return set(found)
    unknown = [name for name in given if name not in found]
    if unknown:
        raise ScenarioError(
            f"{flag}: no {what} {', '.join(repr(u) for u in unknown)} in the suite "
            f"(it has: {', '.join(found)})",
            file="the command line",
        )
    return set(given)


def discover(
    folder: Path,
    plants: Sequence[str] | None = None,
    options: Sequence[str] | None = None,
    quick: bool = False,
    overrides: dict[str, Any] | None = None,
) -> list[Entry]:
    """The suite's (plant, option) entries under ``folder`` (a suite or one plant's folder), those
    of ``plants`` and ``options`` only when given, each loaded and validated; in quick mode each
    runs for its card's ``quick`` time with :data:`QUICK_REPLICATIONS` replications; ``overrides``
    (the command line's ``--seed``, ``--duration``, ...) over both."""
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    if not folder.is_dir():
        raise ScenarioError(
            "no such folder (give a benchmark suite, such as scenarios/benchmarks, or one plant's "
            "folder)",
            file=str(folder),
        )
    files = [
        (plant.name, path) for plant in _plant_folders(folder) for path in plant.glob("*.yaml")
    ]
    if not files:
        raise ScenarioError("no plant folders with scenario files here", file=str(folder))
    wanted_plants = _chosen(plants, sorted({p for p, _ in files}), "plant", "--plants")
    every_option = sorted({path.stem for _, path in files}, key=option_order)
    wanted_options = _chosen(options, every_option, "option", "--options")
    entries = []
    for plant, path in sorted(files, key=lambda f: (f[0], option_order(f[1].stem))):
        if plant not in wanted_plants or path.stem not in wanted_options:
            continue
        scenario = load_scenario(path, given)
        if scenario.benchmark is None:
            raise ScenarioError(
                "benchmark: missing: a plant file of a benchmark suite says which published use "
                "case it models and what its network option is (factory5g schema shows the block)",
                file=str(path),
            )
        if quick:
            duration = scenario.benchmark.quick
            quick_values: dict[str, Any] = {
                "duration": _seconds(duration),
                "replications": QUICK_REPLICATIONS,
            }
            if scenario.warmup >= duration:
                quick_values["warmup"] = _seconds(duration / 4.0)
            scenario = load_scenario(path, {**quick_values, **given})
        entries.append(Entry(plant, path.stem, path, scenario))
    if not entries:
        raise ScenarioError(
            "--plants and --options leave nothing to run together", file="the command line"
        )
    return entries


# --------------------------------------------------------------------------------- scorecard


def utilisation(scenario: Scenario, results: Results) -> dict[str, float]:
    """Each network's utilisation, the busier direction: for a radio the share of its PRB x
    symbols used, for Wi-Fi the share of time the medium was busy; for a wired link with a rate
    its offered load on one link, the MQTT bits plus :data:`WIRE_OVERHEAD_BYTES` per MQTT packet
    over the rate, plus its cross traffic's load (an estimate: a message of several TCP segments
    is charged one packet's headers)."""
    shares: dict[str, float] = {}
    for name, ways in results.networks.items():
        config = scenario.networks.get(name)
        best = None
        for way, figures in ways.items():
            if way == "link":
                continue
            share = figures.get("radio_utilisation")
            rate = getattr(config, "rate", None)
            if share is None and isinstance(config, EthernetNetwork | ParametricNetwork) and rate:
                packets = figures.get("publish_per_s", 0.0) + figures.get("control_per_s", 0.0)
                bits = figures.get("mqtt_bit_s", 0.0) + 8.0 * WIRE_OVERHEAD_BYTES * packets
                cross = getattr(config, "cross_traffic", None)
                share = bits / rate + (cross.load if cross is not None else 0.0)
            if share is not None:
                best = share if best is None else max(best, share)
        if best is not None:
            shares[name] = best
    return shares


def _worst(values: list[float | None], lowest: bool) -> float | None:
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return None
    return min(known) if lowest else max(known)


@dataclass
class Cell:
    """One plant in one option: its verdicts and figures, and what it cost to simulate."""

    plant: str
    option: str
    scenario: str
    verdict: str  # fail if a target fails, else inconclusive if one is undecided, else pass; none
    targets: list[dict[str, Any]]  # each judged target: row, target, verdict, margin, reason, ...
    p99_s: float | None  # the worst p99 latency of the judged rows
    availability: float | None  # the worst availability of the rows with a survival time
    busiest: str | None  # the busiest network and its utilisation
    utilisation: float | None
    messages: int  # published in the measurement windows, all replications
    cpu_s: float | None  # CPU seconds of its replications (None: found in the store)
    duration_s: float
    replications: int
    engine: str
    lengthened_from_s: float | None = None  # the file's duration, if run longer to decide

    @property
    def messages_per_cpu_s(self) -> float | None:
        return self.messages / self.cpu_s if self.cpu_s else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "plant": self.plant,
            "option": self.option,
            "scenario": self.scenario,
            "verdict": self.verdict,
            "targets": self.targets,
            "p99_s": self.p99_s,
            "availability": self.availability,
            "busiest_network": self.busiest,
            "utilisation": self.utilisation,
            "messages": self.messages,
            "duration_s": self.duration_s,
            "lengthened_from_s": self.lengthened_from_s,
            "replications": self.replications,
            "engine": self.engine,
            "cpu_s": self.cpu_s,
            "messages_per_cpu_s": self.messages_per_cpu_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        """The cell :meth:`to_dict` wrote (``scorecard.json``'s cells)."""
        names = {f for f in cls.__dataclass_fields__ if f != "busiest"}
        return cls(busiest=data["busiest_network"], **{k: v for k, v in data.items() if k in names})


def cell(entry: Entry, results: Results, cpu_s: float | None) -> Cell:
    """The scorecard cell of ``entry`` from its merged ``results``."""
    targets = []
    judged = [row for row in results.streams if row.verdicts]
    for row in judged:
        for v in row.verdicts:
            targets.append(
                {
                    "row": f"{row.machine}/{row.stream} -> {row.subscriber}",
                    "target": v["target"],
                    "required": v["required"],
                    "estimate": v["estimate"],
                    "ci95": v["ci95"],
                    "verdict": v["verdict"],
                    "margin": v["margin"],
                    "needed": v["needed"],
                    "needed_s": v["needed_s"],
                    "reason": v["reason"],
                }
            )
    overall = combined(t["verdict"] for t in targets) or "none"
    shares = utilisation(entry.scenario, results)
    busiest = max(shares, key=lambda name: shares[name]) if shares else None
    return Cell(
        plant=entry.plant,
        option=entry.option,
        scenario=entry.scenario.name,
        verdict=overall,
        targets=targets,
        p99_s=_worst([(row.latency_s or {}).get("p99") for row in judged], lowest=False),
        availability=_worst([row.availability for row in judged], lowest=True),
        busiest=busiest,
        utilisation=shares[busiest] if busiest else None,
        messages=_published(results),
        cpu_s=cpu_s,
        duration_s=entry.scenario.duration,
        replications=entry.scenario.replications,
        engine=str(results.engine.get("name", "")) if results.engine else "",
    )


def _published(results: Results) -> int:
    """Messages published in the measurement windows, each counted once however many
    subscribers take it."""
    per_stream: dict[tuple[str, str], int] = {}
    for row in results.streams:
        key = (row.machine, row.stream)
        per_stream[key] = max(per_stream.get(key, 0), row.published)
    return sum(per_stream.values())


@dataclass
class Scorecard:
    """Every cell of a suite's run, with where it came from."""

    suite: str
    quick: bool
    workers: int
    cells: list[Cell] = field(default_factory=list)
    wall_s: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scorecard:
        """The scorecard :meth:`to_dict` wrote (``scorecard.json``)."""
        cells = [Cell.from_dict(c) for c in data["cells"]]
        return cls(data["suite"], data["mode"] == "quick", data["workers"], cells, data["wall_s"])

    @property
    def plants(self) -> list[str]:
        return sorted({c.plant for c in self.cells})

    @property
    def options(self) -> list[str]:
        return sorted({c.option for c in self.cells}, key=option_order)

    def at(self, plant: str, option: str) -> Cell | None:
        for c in self.cells:
            if c.plant == plant and c.option == option:
                return c
        return None

    def grid(self) -> list[tuple[str, list[Cell | None]]]:
        """A row per plant with its cell in each of :attr:`options` (None: not an option of it)."""
        found = {(c.plant, c.option): c for c in self.cells}
        return [(plant, [found.get((plant, o)) for o in self.options]) for plant in self.plants]

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "mode": "quick" if self.quick else "full",
            "plants": self.plants,
            "options": self.options,
            "cells": [c.to_dict() for c in self.cells],
            "workers": self.workers,
            "wall_s": self.wall_s,
        }

    def to_dataframe(self) -> Any:
        """:meth:`records` as a pandas DataFrame (the CSV's columns)."""
        import pandas as pd

        return pd.DataFrame(self.records(), columns=CSV_COLUMNS)

    def records(self) -> list[dict[str, Any]]:
        """One row per (plant, option, judged target): the CSV's rows."""
        rows = []
        for c in self.cells:
            for t in c.targets or [{}]:
                rows.append(
                    {
                        "plant": c.plant,
                        "option": c.option,
                        "row": t.get("row"),
                        "target": t.get("target"),
                        "required": t.get("required"),
                        "estimate": t.get("estimate"),
                        "verdict": t.get("verdict", c.verdict),
                        "margin": t.get("margin"),
                        "needed_s": t.get("needed_s"),
                        "p99_s": c.p99_s,
                        "availability": c.availability,
                        "busiest_network": c.busiest,
                        "utilisation": c.utilisation,
                        "messages": c.messages,
                        "cpu_s": c.cpu_s,
                        "messages_per_cpu_s": c.messages_per_cpu_s,
                    }
                )
        return rows


CSV_COLUMNS = [
    "plant",
    "option",
    "row",
    "target",
    "required",
    "estimate",
    "verdict",
    "margin",
    "needed_s",
    "p99_s",
    "availability",
    "busiest_network",
    "utilisation",
    "messages",
    "cpu_s",
    "messages_per_cpu_s",
]


def expected_seconds(scenario: Scenario) -> float:
    """The compute time a run of ``scenario`` is estimated to take on the engine that will run
    it (:mod:`sim.cost`)."""
    from sim.cost import estimate
    from sim.engines import choose

    cost = estimate(scenario)
    return cost.fast_seconds if choose(scenario)[0] == "fast" else cost.seconds


def lengthened(
    entry: Entry, found: Cell, budget_s: float, overrides: dict[str, Any]
) -> Entry | None:
    """``entry`` again, simulated long enough to decide the most demanding of its undecided
    targets that a run within ``budget_s`` of estimated compute can decide (their ``needed_s``
    over the replications, and a fifth more); None if no such run is half as long again as the
    one it had (a target undecided because its estimate sits on the requirement needs more
    replications, not a little more time)."""
    scenario = entry.scenario
    windows = sorted(
        t["needed_s"] / scenario.replications * 1.2
        for t in found.targets
        if t["verdict"] == "inconclusive" and t["needed_s"]
    )
    per_second = expected_seconds(scenario) / scenario.duration
    affordable = [w for w in windows if per_second * (scenario.warmup + w) <= budget_s]
    if not affordable or scenario.warmup + affordable[-1] < scenario.duration * 1.5:
        return None
    longer = {**overrides, "duration": _seconds(scenario.warmup + affordable[-1])}
    return Entry(entry.plant, entry.option, entry.path, load_scenario(entry.path, longer))


def run_suite(entries: list[Entry], runner: Runner) -> list[tuple[Entry, Results, float | None]]:
    """Every entry's merged results, with the CPU seconds its replications took here (None when
    one of them came from the store)."""
    jobs = [Job(entry.scenario, entry.label) for entry in entries]
    merged = runner.run(jobs)
    out = []
    for entry, results, keys in zip(entries, merged, runner.job_keys, strict=True):
        seconds = [runner.cpu_s.get(key) for key in keys]
        cpu = None if any(s is None for s in seconds) else sum(s for s in seconds if s)
        out.append((entry, results, cpu))
    return out


def score(
    entries: list[Entry],
    runner: Runner,
    decide_within: float | None = None,
    overrides: dict[str, Any] | None = None,
    lengthening: Callable[[list[Entry]], None] | None = None,
) -> tuple[list[tuple[Entry, Results, float | None]], list[Cell]]:
    """Every entry's results and scorecard cell. With ``decide_within``, each entry with
    undecided targets runs again, once, as :func:`lengthened` says (``lengthening`` hears which
    before they run), and its cell is the longer run's."""
    done = run_suite(entries, runner)
    cells = [cell(entry, results, cpu_s) for entry, results, cpu_s in done]
    if not decide_within:
        return done, cells
    again = {}
    for i, (entry, _, _) in enumerate(done):
        longer = lengthened(entry, cells[i], decide_within, overrides or {})
        if longer is not None:
            again[i] = longer
    if not again:
        return done, cells
    if lengthening is not None:
        lengthening(list(again.values()))
    for i, redone in zip(again, run_suite(list(again.values()), runner), strict=True):
        first = done[i][0].scenario.duration
        done[i] = redone
        cells[i] = cell(*redone)
        cells[i].lengthened_from_s = first
    return done, cells


__all__ = [
    "OPTIONS",
    "Cell",
    "Entry",
    "Scorecard",
    "cell",
    "discover",
    "expected_seconds",
    "lengthened",
    "option_order",
    "run_suite",
    "score",
    "utilisation",
]
