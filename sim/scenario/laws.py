"""Probability laws for delays and payload sizes, as written in a scenario.

A law is written either as a single quantity (``6ms``, ``200B``: a constant) or as a one-key mapping
that names the law::

    latency: {uniform: [2ms, 4ms]}
    latency: {lognormal: {median: 6ms, p99: 10ms}}
    latency: {normal: {mean: 5ms, std: 1ms}}
    latency: {exponential: 5ms}          # the mean
    latency: {trace: measured/uplink.csv}              # measured delays, in ms
    latency: {trace: {file: measured/uplink.csv, unit: us}}
    payload: {uniform: [48B, 96B]}

A law also validates from the tagged form it dumps to (``{kind: lognormal, median: 0.006, p99: 0.01}``,
in SI units), so that a resolved scenario can be stored and read back; its values are checked as
finite and within the field's bounds like any other.

The lognormal is given by its median and 99th percentile because that is how delay measurements are
reported (e.g. the DETERMINISTIC6G histograms, ``docs/references.md``): ``mu = ln(median)``,
``sigma = (ln(p99) - ln(median)) / z_0.99`` with ``z_0.99 = 2.3263``.

A ``trace`` law is read from measured data (delays only; a payload size cannot be a trace). The
file holds either one delay per line (a draw picks one of them, each equally likely) or a histogram
of ``delay weight`` lines, the format of the DETERMINISTIC6G packet-delay sets in
``tests/data/deterministic6g``: each line is a bin's lower bound and its weight (a probability
or a count; weights are normalised), the bin reaching to the next line's lower bound. The last line's
weight is normally 0 and only closes the last bin; when it is not 0, the last bin gets the width of
the one before it. Columns are separated by tabs, commas or spaces; blank lines and ``#`` comments are
allowed. ``unit`` (default ``ms``, as in those sets) says what the numbers are. A relative path is
relative to the scenario file that writes it (the loader resolves it, see
:mod:`sim.scenario.loader`); the law holds the absolute path, and the file is read and checked when
the law is validated, so a missing or malformed file is a scenario error before anything runs.

This module is pure data: drawing from a law is done in :mod:`sim.models.laws`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from sim.scenario.files import not_a_regular_file, read_bytes, shown
from sim.scenario.units import TIME, TIME_UNITS, Quantity

if TYPE_CHECKING:
    import numpy as np

Z99 = 2.3263478740408408  # standard normal 99th percentile
MAX_LOGNORMAL_SPREAD = 1000.0  # p99 / median; the DETERMINISTIC6G 2a uplink is 1.55


class _Law(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Constant(_Law):
    """Always the same value."""

    kind: Literal["constant"] = "constant"
    value: float = Field(ge=0)

    @property
    def mean(self) -> float:
        return self.value


class Uniform(_Law):
    """Uniform between ``low`` and ``high``."""

    kind: Literal["uniform"] = "uniform"
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("uniform: the second bound must not be below the first")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


class Lognormal(_Law):
    """Lognormal given by its median and 99th percentile."""

    kind: Literal["lognormal"] = "lognormal"
    median: float = Field(gt=0)
    p99: float = Field(gt=0)

    @model_validator(mode="after")
    def _spread(self) -> Lognormal:
        if self.p99 <= self.median:
            raise ValueError("lognormal: p99 must be above the median")
        if self.p99 > MAX_LOGNORMAL_SPREAD * self.median:
            raise ValueError(
                f"lognormal: p99 may be at most {MAX_LOGNORMAL_SPREAD:g} times the median "
                "(measured delays spread 1.1 to 10 times; wider laws draw beyond any float)"
            )
        return self

    @property
    def mu(self) -> float:
        return math.log(self.median)

    @property
    def sigma(self) -> float:
        return (math.log(self.p99) - math.log(self.median)) / Z99

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)


class Normal(_Law):
    """Normal with ``mean`` and ``std``, truncated at zero (a delay or a size is never negative)."""

    kind: Literal["normal"] = "normal"
    mean: float = Field(ge=0)
    std: float = Field(ge=0)


class Exponential(_Law):
    """Exponential with the given mean."""

    kind: Literal["exponential"] = "exponential"
    mean: float = Field(gt=0)


class Trace(_Law):
    """Measured delays read from ``file``: samples (one per line) or a histogram (see above)."""

    kind: Literal["trace"] = "trace"
    file: str = Field(min_length=1, description="absolute path of the trace file")
    scale: float = Field(default=1e-3, gt=0, description="seconds per unit of the file's numbers")

    @field_validator("file")
    @classmethod
    def _absolute(cls, file: str) -> str:
        return os.path.abspath(os.path.expanduser(file))

    @model_validator(mode="after")
    def _readable(self) -> Trace:
        read_trace(self.file)  # a ValueError naming the file if it cannot be used
        return self

    @property
    def mean(self) -> float:
        return read_trace(self.file).mean * self.scale


Law = Annotated[
    Constant | Uniform | Lognormal | Normal | Exponential | Trace, Field(discriminator="kind")
]

LAW_NAMES = ("constant", "uniform", "lognormal", "normal", "exponential", "trace")
SIZE_LAW_NAMES = tuple(name for name in LAW_NAMES if name != "trace")


# ------------------------------------------------------------------------------------ trace files


@dataclass(frozen=True, eq=False)
class TraceData:
    """The numbers of a trace file, in the file's unit.

    ``samples`` for a one-column file; otherwise ``edges`` (the bins' bounds, one more than the
    bins) and ``weights`` (the bins' probabilities, adding up to 1).
    """

    samples: np.ndarray | None = None
    edges: np.ndarray | None = None
    weights: np.ndarray | None = None

    @property
    def mean(self) -> float:
        if self.samples is not None:
            return float(self.samples.mean())
        assert self.edges is not None and self.weights is not None
        return float(self.weights @ ((self.edges[:-1] + self.edges[1:]) / 2))

    def quantile(self, q: float) -> float:
        """The ``q`` quantile: of the samples, or of the histogram with its weight spread
        uniformly over each bin (the distribution the ``trace`` law draws from)."""
        import numpy as np

        if self.samples is not None:
            return float(np.quantile(self.samples, q))
        assert self.edges is not None and self.weights is not None
        below = np.concatenate([[0.0], np.cumsum(self.weights)])
        return float(np.interp(q, below / below[-1], self.edges))


_SEPARATOR = re.compile(r"\s*,\s*|\s+")


MAX_TRACE_BYTES = 50_000_000  # a few million delays; the DETERMINISTIC6G histograms are 2 kB


def read_trace(file: str | os.PathLike[str]) -> TraceData:
    """The trace in ``file``, read once per path (and again only if the file changes).

    Raises :class:`ValueError` with a message naming the file and, for a bad line, its number.
    """
    if "\x00" in os.fspath(file):
        raise ValueError(f"trace: the file name {shown(file)!r} contains a NUL byte")
    path = os.path.abspath(file)
    problem = not_a_regular_file(path, "trace file")
    if problem == "file not found":
        raise ValueError(f"trace: file {shown(path)} not found")
    if problem is not None:
        raise ValueError(f"trace: {shown(path)} {problem}")
    info = os.stat(path)
    return _read_trace(path, info.st_mtime_ns, info.st_size)


@lru_cache(maxsize=64)
def _read_trace(path: str, _mtime: int, _size: int) -> TraceData:
    where = f"trace: file {shown(path)}"
    try:
        raw = read_bytes(path, "trace file", MAX_TRACE_BYTES)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{where} is not a text file (not UTF-8)") from None
    rows: list[list[float]] = []
    lines: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = _SEPARATOR.split(line)
        try:
            values = [float(field) for field in fields]
        except ValueError:
            values = []
        if len(values) not in (1, 2) or not all(math.isfinite(v) for v in values):
            raise ValueError(
                f"{where}, line {number}: expected a delay, or a bin's lower bound and its weight, "
                f"got {raw.strip()!r}"
            )
        if rows and len(values) != len(rows[0]):
            raise ValueError(
                f"{where}, line {number}: {len(values)} column(s) where line {lines[0]} has "
                f"{len(rows[0])}; a trace is one delay per line or a two-column histogram"
            )
        if values[0] < 0:
            raise ValueError(
                f"{where}, line {number}: a delay cannot be negative, got {raw.strip()!r}"
            )
        if len(values) == 2 and values[1] < 0:
            raise ValueError(
                f"{where}, line {number}: a weight cannot be negative, got {raw.strip()!r}"
            )
        rows.append(values)
        lines.append(number)
    if not rows:
        raise ValueError(f"{where} holds no data (only blank lines and comments)")
    import numpy as np  # only when a scenario reads a trace: validating others stays quick

    table = np.asarray(rows, dtype=float)
    table.flags.writeable = False  # shared by every law and sampler of this file
    if table.shape[1] == 1:
        return TraceData(samples=table[:, 0])
    lows, weights = table[:, 0], table[:, 1]
    if len(lows) < 2:
        raise ValueError(
            f"{where}: a histogram needs at least two lines (each bin reaches to the next line's "
            "lower bound)"
        )
    steps = np.diff(lows)
    if np.any(steps <= 0):
        bad = int(np.argmax(steps <= 0)) + 1
        raise ValueError(
            f"{where}, line {lines[bad]}: the bins' lower bounds must increase "
            f"({lows[bad]:g} after {lows[bad - 1]:g})"
        )
    if weights[-1] > 0:  # the last line is a bin of its own, as wide as the one before
        edges = np.append(lows, lows[-1] + steps[-1])
    else:  # the last line only closes the last bin
        edges, weights = lows, weights[:-1]
    with np.errstate(over="ignore"):
        total = weights.sum()
    if total <= 0:
        raise ValueError(f"{where}: every bin has weight 0")
    if not math.isfinite(total):
        raise ValueError(f"{where}: the weights add up to more than a float holds; scale them down")
    weights = weights / total
    edges.flags.writeable = weights.flags.writeable = False
    return TraceData(edges=edges, weights=weights)


def law_names(quantity: Quantity) -> tuple[str, ...]:
    """The laws a quantity may follow: measured traces are of delays only."""
    return LAW_NAMES if quantity is TIME else SIZE_LAW_NAMES


def _tagged(value: Any, quantity: Quantity) -> Any:
    """Turn the written form of a law into the tagged form the models above validate."""
    if isinstance(value, BaseModel) or (isinstance(value, dict) and "kind" in value):
        return value  # the tagged form model_dump() writes (SI units), checked like any other
    parse, what, example = quantity.parse, quantity.name, quantity.example
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"kind": "constant", "value": parse(value)}
    names = law_names(quantity)
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(
            f"expected a {what} like {example!r} or a one-key law ({', '.join(names)}), "
            f"got {value!r}"
        )
    ((name, args),) = value.items()
    if name == "constant":
        return {"kind": "constant", "value": parse(args)}
    if name == "uniform":
        if not isinstance(args, (list, tuple)) or len(args) != 2:
            raise ValueError(f"uniform takes two bounds, like [{example}, {example}]; got {args!r}")
        return {"kind": "uniform", "low": parse(args[0]), "high": parse(args[1])}
    if name == "lognormal":
        return _params("lognormal", args, ("median", "p99"), parse)
    if name == "normal":
        return _params("normal", args, ("mean", "std"), parse)
    if name == "exponential":
        return {"kind": "exponential", "mean": parse(args)}
    if name == "trace":
        if quantity is not TIME:
            raise ValueError(
                f"trace: a measured trace gives delays, not a {what}; "
                f"a {what} is a quantity like {example!r} or a law ({', '.join(names)})"
            )
        return _trace(args)
    from difflib import get_close_matches

    close = get_close_matches(str(name), names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown law '{name}'; allowed: {', '.join(names)}{hint}")


def _trace(args: Any) -> dict[str, Any]:
    """``trace: FILE`` or ``trace: {file: FILE, unit: ms}``."""
    if isinstance(args, str):
        return {"kind": "trace", "file": args}
    if not isinstance(args, dict):
        raise ValueError(f"trace: expected a file name or {{file: ..., unit: ms}}; got {args!r}")
    unknown = sorted(set(args) - {"file", "unit"}, key=str)
    if unknown:
        raise ValueError(f"trace: unknown key '{unknown[0]}'; allowed: file, unit")
    file = args.get("file")
    if not isinstance(file, str) or not file.strip():
        raise ValueError(f"trace: 'file' must be the name of the trace file; got {file!r}")
    unit = args.get("unit", "ms")
    if not isinstance(unit, str) or unit not in TIME_UNITS:
        raise ValueError(
            f"trace: unknown unit {unit!r} for the trace's delays; allowed: {', '.join(TIME_UNITS)}"
        )
    return {"kind": "trace", "file": file, "scale": TIME_UNITS[unit]}


def _params(name: str, args: Any, keys: tuple[str, ...], parse: Any) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise ValueError(f"{name} takes {{{', '.join(k + ': ...' for k in keys)}}}; got {args!r}")
    unknown = sorted(set(args) - set(keys), key=str)
    if unknown:
        raise ValueError(f"{name}: unknown key '{unknown[0]}'; allowed: {', '.join(keys)}")
    missing = [k for k in keys if k not in args]
    if missing:
        raise ValueError(f"{name}: missing '{missing[0]}' (needs {', '.join(keys)})")
    return {"kind": name, **{k: parse(args[k]) for k in keys}}


@dataclass(frozen=True)
class LawOf:
    """Marks a scenario field as a law of ``quantity`` (read by :mod:`sim.scenario.json_schema`)."""

    quantity: Quantity


def largest(law: Law) -> float:
    """The largest value the law's parameters name: its constant, its upper bound, its p99, its
    mean (+ one std) or its largest measured value."""
    if isinstance(law, Constant):
        return law.value
    if isinstance(law, Uniform):
        return law.high
    if isinstance(law, Lognormal):
        return law.p99
    if isinstance(law, Normal):
        return law.mean + law.std
    if isinstance(law, Exponential):
        return law.mean
    data = read_trace(law.file)
    top = data.samples.max() if data.samples is not None else data.edges[-1]  # type: ignore[index,union-attr]
    return float(top) * law.scale


def law_type(quantity: Quantity, maximum: float, reason: str) -> Any:
    """An annotated pydantic type for a law of ``quantity`` (a constant, or one of its laws) whose
    values stay within ``maximum`` (``reason`` says why)."""

    def within(law: Law) -> Law:
        if largest(law) > maximum:
            raise ValueError(
                f"{law.kind}: values up to {quantity.format(largest(law))}; at most "
                f"{quantity.format(maximum)} ({reason})"
            )
        return law

    return Annotated[
        Law,
        BeforeValidator(lambda v: _tagged(v, quantity)),
        AfterValidator(within),
        LawOf(quantity),
    ]
