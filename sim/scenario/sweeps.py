"""A parameter study's values, as a planner writes them: lists, ranges with units, and the points.

A swept field takes a list of values (``[DDDSU, DSUUU]``, ``4,8,16`` on the command line) or a
range: ``4..64x2`` multiplies by 2 from 4 up to 64 (4, 8, 16, 32, 64), ``10..100+10`` adds 10 (10,
20, ..., 100), and the ends may carry a unit (``0.5ms..2ms+0.5ms``, ``10Mbps..100Mbps x2`` without
the blank). Items of a list may themselves be ranges. Range arithmetic is decimal, so
``0.1..0.5+0.1`` gives 0.1, 0.2, 0.3, 0.4 and 0.5, not 0.30000000000000004.

The points of several swept fields are their grid (every combination, the first field varying
slowest) or, zipped, their values taken together (the lists must then be equally long).
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_POINTS = 10_000  # a sweep larger than this is a typing mistake more often than a plan

_QUANTITY = r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([A-Za-z%/µ]*)"
_RANGE = re.compile(rf"^{_QUANTITY}\.\.{_QUANTITY}([x+]){_QUANTITY}$")
_ONE = re.compile(rf"^\s*{_QUANTITY}\s*$")


def number_and_unit(text: str) -> tuple[str, str] | None:
    """``"100/s"`` as ``("100", "/s")``, ``"4"`` as ``("4", "")``; None if ``text`` is not a
    number with an optional unit."""
    match = _ONE.match(text.replace(" ", ""))
    return None if match is None else (match.group(1), match.group(2))


class SweepValueError(ValueError):
    """Values that cannot be read; the message says what is allowed."""


def _range(text: str) -> list[Any] | None:
    """The values of a range ``A..BxF`` or ``A..B+S``; None if ``text`` is not one."""
    match = _RANGE.match(text.replace(" ", ""))
    if match is None:
        return None
    start, start_unit, stop, stop_unit, how, step, step_unit = match.groups()
    unit = start_unit or stop_unit
    if start_unit and stop_unit and start_unit != stop_unit:
        raise SweepValueError(
            f"{text!r}: both ends of a range take the same unit ({start_unit} and {stop_unit})"
        )
    if how == "x" and step_unit:
        raise SweepValueError(f"{text!r}: the factor after 'x' is a plain number, without a unit")
    if how == "+" and step_unit and step_unit != unit:
        raise SweepValueError(f"{text!r}: the step takes the unit of the ends ({unit})")
    try:
        first, last, by = Decimal(start), Decimal(stop), Decimal(step)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise SweepValueError(f"{text!r}: not a range of numbers") from None
    if first > last:
        raise SweepValueError(f"{text!r}: a range goes up, from the smaller end to the larger")
    if how == "x" and (by <= 1 or first <= 0):
        raise SweepValueError(
            f"{text!r}: 'x' multiplies, so the factor must be above 1 and the start above 0"
        )
    if how == "+" and by <= 0:
        raise SweepValueError(f"{text!r}: the step after '+' must be above 0")
    values: list[Decimal] = []
    value = first
    while value <= last:
        values.append(value)
        if len(values) > MAX_POINTS:
            raise SweepValueError(f"{text!r}: more than {MAX_POINTS:,} values")
        value = value * by if how == "x" else value + by
    whole = not any(c in n for n in (start, stop, step) for c in ".eE")
    return [written_value(v, unit, whole) for v in values]


def written_value(value: Decimal, unit: str, whole: bool) -> Any:
    """A value as a scenario file would hold it: a whole number, a decimal, or text with its
    unit (``1.5ms``)."""
    if unit:
        text = format(value.normalize(), "f")
        return f"{text}{unit}"
    if whole:
        return int(value)
    return float(value)


def values_of(written: Any) -> list[Any]:
    """The values a swept field takes: ``written`` is a list (whose text items may be ranges), a
    range, a comma-separated list of values (command-line text) or a single value."""
    from sim.scenario.loader import parse_value

    if isinstance(written, list):
        items = written
    elif isinstance(written, str):
        text = written.strip()
        if text.startswith("["):
            parsed = parse_value(text)
            if not isinstance(parsed, list):
                raise SweepValueError(f"{written!r}: not a list; write [a, b, c] or a, b, c")
            items = parsed
        else:
            items = [parse_value(part.strip()) for part in text.split(",")]
            if any(part == "" or part is None for part in items):
                raise SweepValueError(f"{written!r}: an empty value between commas")
    else:
        items = [written]
    values: list[Any] = []
    for item in items:
        expanded = _range(item) if isinstance(item, str) else None
        values.extend(expanded if expanded is not None else [item])
    if not values:
        raise SweepValueError("no values: give a list, a range such as 4..64x2, or one value")
    return values


def points(fields: dict[str, list[Any]], zipped: bool = False) -> list[dict[str, Any]]:
    """The points of a study: each a mapping of field path to value, in the order run."""
    names = list(fields)
    if zipped:
        lengths = {name: len(values) for name, values in fields.items()}
        if len(set(lengths.values())) > 1:
            said = ", ".join(f"{name} has {n}" for name, n in lengths.items())
            raise SweepValueError(f"zipped fields need as many values each ({said})")
        combos: list[tuple[Any, ...]] = list(zip(*fields.values(), strict=True))
    else:
        combos = list(itertools.product(*fields.values()))
    if len(combos) > MAX_POINTS:
        raise SweepValueError(f"{len(combos):,} points; a study runs at most {MAX_POINTS:,}")
    return [dict(zip(names, combo, strict=True)) for combo in combos]


Value = str | int | float | bool
Values = Value | list[Value]


class Sweep(BaseModel):
    """A ``sweep:`` block in a study file, next to ``extends:``: the fields to vary and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vary: dict[str, Values] = Field(
        min_length=1,
        description="field path -> values: a list, a range (4..64x2, 10..100+10, with units) "
        "or one value",
    )
    zip: bool = Field(
        default=False, description="vary the fields together instead of over their grid"
    )

    @field_validator("vary")
    @classmethod
    def _readable(cls, vary: dict[str, Values]) -> dict[str, Values]:
        for path, written in vary.items():
            try:
                values_of(written)
            except SweepValueError as error:
                raise ValueError(f"{path}: {error}") from None
        return vary

    @model_validator(mode="after")
    def _points(self) -> Sweep:
        try:
            points(self.fields(), self.zip)
        except SweepValueError as error:
            raise ValueError(str(error)) from None
        return self

    def fields(self) -> dict[str, list[Any]]:
        """Each field's values, ranges expanded."""
        return {path: values_of(written) for path, written in self.vary.items()}


__all__ = [
    "MAX_POINTS",
    "Sweep",
    "SweepValueError",
    "number_and_unit",
    "points",
    "values_of",
    "written_value",
]
