"""Capacity search: the largest value of one field at which a scenario still meets its requirements.

``factory5g capacity SCENARIO --grow PATH --from A --to B`` grows one field (a machine count, a
stream's rate, a cross-traffic load), assumed to make things worse as it grows, and looks for where
the condition stops holding:

1. **probe** ``A``; if the condition does not hold there, that is the answer;
2. **bracket**: double the value (``A, 2A, 4A, ...``, up to ``B``) while it holds, cheap probes
   first, until one does not (or ``B`` holds: the whole range passes);
3. **bisect** between the last value that held and the first that did not, until they are one
   ``step`` apart (1 for a count).

Each probe runs the scenario with its replications and judges it by the verdict rules of
:mod:`sim.metrics.verdicts`: pass when the whole 95 % interval is on the right side, fail when it is
all on the wrong side. An inconclusive probe is run again with twice the replications (the store
keeps the ones done, so only the new ones run), up to ``max_replications``; a probe still
inconclusive then counts as not shown to pass, and is reported as such.

The condition (``--until``) is one of:

- every requirement of the scenario (the default): each row with a requirement passes;
- a latency bound, ``mean<=10ms``, ``p99<5ms`` or ``p50<=2ms``: for each row, the 95 % interval
  of the replications' statistic (Student's t) lies below the bound; two replications at least;
- a requirement for every row, a preset (``motion-control``, ``5qi-82``) or targets written out
  (``deadline=10ms,reliability=99.99%``): the scenario's subscribers take it instead of theirs.

``--rows`` (a glob over ``machine/stream/subscriber``, such as ``robot/*/scada``) narrows the rows
that must meet the condition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from sim.metrics.verdicts import combined, replication_interval
from sim.outputs import json_text
from sim.results import Results, StreamResult, write_scenario
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario, parse_value
from sim.scenario.schema import Scenario
from sim.scenario.sweeps import number_and_unit, written_value
from sim.scenario.units import UnitError, format_time, parse_time
from sim.studies.runner import Job, Runner

_BOUND = re.compile(r"^\s*(mean|p50|p99)\s*(<=|<)\s*(\S+)\s*$")


# ----------------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Judged:
    """One row's judgement at a probe."""

    row: str
    verdict: str
    what: str  # the figure or target judged
    estimate: float | None
    low: float | None
    high: float | None
    required: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "verdict": self.verdict,
            "what": self.what,
            "estimate": self.estimate,
            "ci95": None if self.low is None else [self.low, self.high],
            "required": self.required,
        }


@dataclass(frozen=True)
class Condition:
    """What must hold at a probe: the scenario's requirements, a latency bound, or a requirement
    given for every row; ``rows`` a glob narrowing the rows."""

    text: str = "every requirement"
    statistic: str | None = None  # mean, p50, p99 for a latency bound
    bound: float | None = None
    strict: bool = False  # '<' rather than '<='
    requirement: Any = None  # a preset name or a mapping of targets for every row
    rows: str = "*"

    @classmethod
    def parse(cls, text: str | None, rows: str | None = None) -> Condition:
        """The condition ``--until`` names; a ValueError saying what is allowed."""
        chosen = rows or "*"
        if text is None or text.strip() in ("", "requirements"):
            return cls(rows=chosen)
        match = _BOUND.match(text)
        if match:
            statistic, sign, value = match.groups()
            try:
                bound = parse_time(value)
            except UnitError as error:
                raise ValueError(f"{text!r}: the bound is a time with its unit: {error}") from None
            return cls(text.strip(), statistic, bound, sign == "<", rows=chosen)
        from sim.scenario.requirements import PRESETS

        if text.strip() in PRESETS:
            return cls(text.strip(), requirement=text.strip(), rows=chosen)
        if "=" in text:
            targets: dict[str, Any] = {}
            for part in text.split(","):
                key, equals, value = part.partition("=")
                if not equals or not key.strip() or not value.strip():
                    raise ValueError(f"{text!r}: write targets as key=value, joined by commas")
                targets[key.strip()] = parse_value(value.strip())
            from pydantic import ValidationError

            from sim.scenario.schema import Requirement

            unknown = sorted(set(targets) - set(Requirement.model_fields))
            if unknown:
                fields = ", ".join(Requirement.model_fields)
                raise ValueError(f"{text!r}: no target {', '.join(unknown)} (targets: {fields})")
            try:
                Requirement.model_validate(targets)
            except ValidationError as error:
                said = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
                )
                raise ValueError(f"{text!r}: {said}") from None
            return cls(text.strip(), requirement=targets, rows=chosen)
        presets = ", ".join(sorted(PRESETS))
        raise ValueError(
            f"{text!r}: give a latency bound (mean<=10ms, p99<5ms, p50<=2ms), a requirement "
            f"preset ({presets}) or targets (deadline=10ms,reliability=99.99%)"
        )

    def changes(self, scenario: Scenario) -> dict[str, Any]:
        """The fields a requirement condition sets in the scenario (every subscriber takes it)."""
        if self.requirement is None:
            return {}
        changes: dict[str, Any] = {}
        for name in scenario.subscribers:
            changes[f"subscribers.{name}.requirement"] = self.requirement
            changes[f"subscribers.{name}.requirements"] = {}
        return changes

    def _selected(self, results: Results) -> list[StreamResult]:
        return [row for row in results.streams if row.matches(self.rows)]

    def judge(self, results: Results) -> tuple[str, list[Judged]]:
        """The probe's verdict (pass, fail, inconclusive) and each row's judgement."""
        judged: list[Judged] = []
        for row in self._selected(results):
            if self.statistic is not None:
                judged.append(self._bound(row))
                continue
            for v in row.verdicts:
                ci = v.get("ci95") or [None, None]
                judged.append(
                    Judged(
                        row.name,
                        v["verdict"],
                        v["target"],
                        v["estimate"],
                        ci[0],
                        ci[1],
                        v["required"],
                    )
                )
        if not judged:
            raise ValueError(
                f"no row to judge: {'no row matches --rows ' + self.rows if self.rows != '*' else 'the scenario has no requirement'}"
                "; give --until (a latency bound such as p99<=10ms, or a requirement)"
            )
        return combined(j.verdict for j in judged) or "inconclusive", judged

    def _bound(self, row: StreamResult) -> Judged:
        assert self.statistic is not None and self.bound is not None
        name = row.name
        what = f"{self.statistic} latency"
        estimate = row.latency(self.statistic)
        if estimate is None or row.delivered == 0:
            return Judged(name, "fail", what, None, None, None, self.bound)
        interval = replication_interval(row.per_replication.get(self.statistic, []))
        if interval is None:
            return Judged(name, "inconclusive", what, estimate, None, None, self.bound)
        low, high = interval
        under = high < self.bound if self.strict else high <= self.bound
        over = low >= self.bound if self.strict else low > self.bound
        verdict = "pass" if under else "fail" if over else "inconclusive"
        return Judged(name, verdict, what, estimate, low, high, self.bound)


# ------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Scale:
    """The grown field's values: whole numbers (a count) or decimals with the unit written."""

    unit: str
    whole: bool

    @classmethod
    def of(cls, start: str, stop: str) -> tuple[Scale, Decimal, Decimal]:
        first, last = number_and_unit(start), number_and_unit(stop)
        if first is None or last is None:
            raise ValueError(
                f"--from {start!r} --to {stop!r}: numbers, with the same unit if any (4, 100/s, "
                "0.5ms)"
            )
        if first[1] != last[1] and first[1] and last[1]:
            raise ValueError(f"--from {start!r} --to {stop!r}: give both in the same unit")
        unit = first[1] or last[1]
        low, high = Decimal(first[0]), Decimal(last[0])
        if low >= high:
            raise ValueError(f"--from {start!r} must be below --to {stop!r}")
        whole = not unit and not any(c in first[0] + last[0] for c in ".eE")
        return cls(unit, whole), low, high

    def written(self, value: Decimal) -> Any:
        return written_value(value, self.unit, self.whole)

    def middle(self, low: Decimal, high: Decimal, step: Decimal) -> Decimal:
        """Half-way, on the grid of ``step`` from ``low``."""
        steps = ((high - low) / step / 2).to_integral_value(rounding=ROUND_FLOOR)
        return low + max(steps, Decimal(1)) * step


# -------------------------------------------------------------------------------------- search


@dataclass
class Probe:
    """One value tried, with its verdict after the replications it took."""

    value: Any
    verdict: str
    replications: int
    judged: list[Judged]
    results: Results | None = field(repr=False)  # None: the value does not validate
    scenario: Scenario | None = field(repr=False)
    refused: str = ""  # why the scenario at this value does not validate

    @property
    def refusal(self) -> str:
        """Why the scenario at this value does not validate, without the file's name."""
        return self.refused.split(": ", 1)[-1]

    def failing(self) -> list[Judged]:
        return [j for j in self.judged if j.verdict != "pass"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "verdict": self.verdict,
            "replications": self.replications,
            "rows": [j.to_dict() for j in self.judged],
            "refused": self.refused or None,
        }


@dataclass
class Capacity:
    """What a capacity search found: every probe in the order run, and the limit."""

    source: Path
    path: str
    condition: Condition
    probes: list[Probe]
    largest_pass: Probe | None
    smallest_fail: Probe | None
    step: Any

    def sentence(self) -> str:
        """The finding in one sentence a planner can quote."""
        what = self.condition.text
        name = next((p.scenario.name for p in self.probes if p.scenario), str(self.source))
        if self.largest_pass is None:
            assert self.smallest_fail is not None
            return (
                f"{name} does not meet {what} even at {self.path}={self.smallest_fail.value}"
                f"{_why(self.smallest_fail)}."
            )
        if self.smallest_fail is None:
            return (
                f"{name} meets {what} over the whole range, up to {self.path}="
                f"{self.largest_pass.value}{_figures(self.largest_pass)}."
            )
        return (
            f"{name} meets {what} up to {self.path}={self.largest_pass.value}"
            f"{_figures(self.largest_pass)}; at {self.smallest_fail.value} it does not"
            f"{_why(self.smallest_fail)}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "capacity": str(self.source),
            "grow": self.path,
            "until": self.condition.text,
            "rows": self.condition.rows,
            "step": self.step,
            "largest_pass": None if self.largest_pass is None else self.largest_pass.value,
            "smallest_fail": None if self.smallest_fail is None else self.smallest_fail.value,
            "sentence": self.sentence(),
            "probes": [probe.to_dict() for probe in self.probes],
        }

    def write(self, out: Path) -> list[Path]:
        """``capacity.json``, and the results of the two probes either side of the limit."""
        out.mkdir(parents=True, exist_ok=True)
        path = out / "capacity.json"
        path.write_text(json_text(self.to_dict()), encoding="utf-8")
        written = [path]
        for name, probe in (
            ("largest-pass", self.largest_pass),
            ("smallest-fail", self.smallest_fail),
        ):
            if probe is not None and probe.results is not None and probe.scenario is not None:
                folder = out / name
                written.extend(probe.results.write(folder))
                write_scenario(probe.scenario, folder)
        return written


def figure_text(what: str, value: float | None) -> str:
    """A judged figure as people read it: a latency as a time, a throughput as a rate, a share in
    per cent (``what`` as in :class:`Judged`)."""
    if value is None:
        return "-"
    if what.endswith("latency"):
        return format_time(value)
    if what == "min_throughput":
        from sim.scenario.units import format_rate

        return format_rate(value)
    from sim.metrics.figures import percent

    return percent(value)


def _figures(probe: Probe) -> str:
    """The figures at a passing probe, the tightest first."""
    tight = sorted(
        (j for j in probe.judged if j.estimate is not None and j.required is not None),
        key=lambda j: abs(j.estimate - j.required) / max(abs(j.required), 1e-12),  # type: ignore[operator]
    )
    if not tight:
        return ""
    j = tight[0]
    return f" ({j.row}: {j.what} {figure_text(j.what, j.estimate)}, required {figure_text(j.what, j.required)})"


def _why(probe: Probe) -> str:
    """What fails at a probe that does not pass."""
    if probe.refused:
        return f": the scenario is refused there ({probe.refusal})"
    failing = probe.failing()
    if not failing:
        return ""
    j = failing[0]
    state = "fails" if j.verdict == "fail" else "stays inconclusive"
    more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
    after = f" after {probe.replications} replications" if j.verdict != "fail" else ""
    return (
        f": {j.row} {state} on {j.what}{after}, {figure_text(j.what, j.estimate)} against "
        f"{figure_text(j.what, j.required)}{more}"
    )


@dataclass(frozen=True)
class Plan:
    """A capacity search checked before it runs: the grown field, its values and step, the
    condition, and the base scenario (validated, and valid at the first value)."""

    source: Path
    path: str
    scale: Scale
    low: Decimal
    high: Decimal
    grain: Decimal
    condition: Condition
    base: Scenario = field(repr=False)
    overrides: dict[str, Any] | None = None

    def point(self, value: Decimal) -> dict[str, Any]:
        """The fields a probe at ``value`` sets: the grown one and the condition's."""
        return {**self.condition.changes(self.base), self.path: self.scale.written(value)}


def check(
    source: Path,
    path: str,
    start: str,
    stop: str,
    step: str | None,
    condition: Condition,
    overrides: dict[str, Any] | None,
) -> Plan:
    """The search's plan, after checking that the range can be read and that the scenario
    validates at its start; a ValueError or ScenarioError otherwise."""
    scale, low, high = Scale.of(start, stop)
    if step is None:
        grain = Decimal(1) if scale.whole else (high - low) / 100
    else:
        given = number_and_unit(step)
        if given is None or (given[1] and given[1] != scale.unit):
            raise ValueError(
                f"--step {step!r}: a number in the unit of --from ({scale.unit or 'none'})"
            )
        grain = Decimal(given[0])
        if grain <= 0:
            raise ValueError(f"--step {step!r}: above 0")
    base = load_scenario(source, overrides)
    plan = Plan(Path(source), path, scale, low, high, grain, condition, base, overrides)
    load_scenario(source, overrides, point=plan.point(low))
    return plan


def search(
    source: str | Path,
    path: str,
    start: str,
    stop: str,
    runner: Runner,
    condition: Condition | None = None,
    step: str | None = None,
    replications: int | None = None,
    max_replications: int = 16,
    overrides: dict[str, Any] | None = None,
    on_probe: Any = None,
) -> Capacity:
    """Search ``path`` over ``[start, stop]`` (texts with units, as the command line gives them)."""
    plan = check(Path(source), path, start, stop, step, condition or Condition(), overrides)
    return search_plan(plan, runner, replications, max_replications, on_probe)


def search_plan(
    plan: Plan,
    runner: Runner,
    replications: int | None = None,
    max_replications: int = 16,
    on_probe: Any = None,
) -> Capacity:
    """Probe, bracket and bisect as :func:`check` planned."""
    condition, scale, grain = plan.condition, plan.scale, plan.grain
    first = replications or max(plan.base.replications, 2 if condition.statistic else 1)
    cap = max(first, max_replications)
    probes: dict[Decimal, Probe] = {}
    order: list[Probe] = []

    def decided(value: Decimal, found: Probe) -> Probe:
        probes[value] = found
        order.append(found)
        if on_probe is not None:
            on_probe(found)
        return found

    def probe(value: Decimal) -> Probe:
        if value in probes:
            return probes[value]
        written = scale.written(value)
        try:
            scenario = load_scenario(plan.source, plan.overrides, point=plan.point(value))
        except ScenarioError as error:
            if not order:
                raise  # the first probe: the study itself is wrong
            # beyond what a planner could configure (a cell's configured grants overbooked):
            # the limit is here
            refused = Judged("scenario", "fail", "validity", None, None, None, None)
            return decided(value, Probe(written, "fail", 0, [refused], None, None, str(error)))
        count = first
        while True:
            trial = scenario.model_copy(update={"replications": count})
            (results,) = runner.run([Job(trial, f"probe {plan.path}={written}")])
            verdict, judged = condition.judge(results)
            if verdict != "inconclusive" or count >= cap:
                break
            count = min(cap, count * 2)
        return decided(value, Probe(written, verdict, count, judged, results, trial))

    passing: Decimal | None = None
    failing: Decimal | None = None
    if probe(plan.low).verdict != "pass":
        failing = plan.low
    else:
        passing = plan.low
        while failing is None:
            following = min(plan.high, passing * 2) if passing > 0 else plan.high
            if scale.whole:
                following = following.to_integral_value(rounding=ROUND_FLOOR)
            if following <= passing:
                following = min(plan.high, passing + grain)
            if probe(following).verdict == "pass":
                passing = following
                if following >= plan.high:
                    break
            else:
                failing = following
        while failing is not None and failing - passing > grain:
            middle = scale.middle(passing, failing, grain)
            if middle >= failing:
                break
            if probe(middle).verdict == "pass":
                passing = middle
            else:
                failing = middle
    return Capacity(
        plan.source,
        plan.path,
        condition,
        order,
        probes[passing] if passing is not None else None,
        probes[failing] if failing is not None else None,
        scale.written(grain) if not scale.whole else int(grain),
    )


__all__ = [
    "Capacity",
    "Condition",
    "Judged",
    "Plan",
    "Probe",
    "Scale",
    "check",
    "figure_text",
    "search",
    "search_plan",
]
