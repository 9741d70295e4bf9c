"""The figures of a result row, defined once: their names in files, their headers and cells in tables.

Every front end derives from :data:`FIGURES`: the columns of ``streams.csv`` and of ``--format
csv|json`` (SI units, raw numbers), the tables of ``run`` and ``compare`` (milliseconds, percentages,
readable rates) in their narrow layout (``compact``, fits 80 columns) and their wide one, the
markdown tables, and the figures of ``comparison.json``. A new figure is one entry here.

What each figure means is documented in :mod:`sim.metrics.summary` and the README's output table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.scenario.units import format_rate

LATENCY_STATISTICS = ("mean", "p50", "p95", "p99", "p999", "max")
COMPLETION_STATISTICS = ("mean", "p50", "p99", "max")


# ----------------------------------------------------------------------------------- cells


def milliseconds(seconds: float | None) -> str:
    """A latency in ms with three or four significant digits: ``0.904``, ``22.2``, ``1234``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    ms = seconds * 1e3
    for limit, decimals in ((1.0, 3), (10.0, 2), (100.0, 1)):
        if abs(ms) < limit:
            return f"{ms:.{decimals}f}"
    return f"{ms:.0f}"


def percent(value: float | None) -> str:
    """A fraction in per cent with the digits that tell it from its neighbours: ``56.4%``,
    ``1.08%``, ``0.021%``, ``99.97%``, ``99.9999%``; only all is ``100%`` and only none ``0``."""
    if value is None:
        return "-"
    if value <= 0:
        return "0"
    if value >= 1:
        return "100%"
    points = value * 100
    if points < 10:  # two significant digits, never in exponent form
        decimals = max(2, 1 - math.floor(math.log10(points)))
    else:  # as many nines as there are
        decimals = max(1, math.ceil(-math.log10(1.0 - value)) - 2)
    text = f"{points:.{decimals}f}"
    return ("99." + "9" * decimals if text.startswith("100") else text) + "%"


share = percent  # loss, deadline misses
availability = percent


def count(value: int) -> str:
    return str(value)


def per_second(value: float) -> str:
    return f"{value:.1f}"


def bit_rate(value: float) -> str:
    return format_rate(value)


# --------------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One figure of a row.

    ``column``: its name in ``streams.csv``, JSON and DataFrames (SI units); ``value``: how it is
    read from a row; ``header`` and ``cell``: how tables show it (no header: files only);
    ``compact``: in the narrow table too; ``shown``: a table shows it only when some row has it.
    """

    column: str
    value: Callable[[Any], Any]
    header: str | None = None
    cell: Callable[[Any], str] = str
    compact: bool = False
    shown: Callable[[Sequence[Any]], bool] | None = None

    def text(self, row: Any) -> str:
        return self.cell(self.value(row))


def _attribute(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


def _latency(statistic: str) -> Callable[[Any], Any]:
    return lambda row: row.latency(statistic)


def _completion(statistic: str) -> Callable[[Any], Any]:
    return lambda row: row.completion(statistic)


def _interval(statistic: str, end: int) -> Callable[[Any], Any]:
    def value(row: Any) -> float | None:
        interval = row.ci95.get(statistic)
        return interval[end] if interval else None

    return value


def _any(name: str) -> Callable[[Sequence[Any]], bool]:
    return lambda rows: any(getattr(row, name) for row in rows)


def _acknowledged(rows: Sequence[Any]) -> bool:
    return any(row.completion_s is not None for row in rows)


def _verdict_cell(verdict: str | None) -> str:
    return {"pass": "pass", "fail": "FAIL", "inconclusive": "?"}.get(verdict or "", "-")


def _verdict_detail(row: Any) -> str | None:
    """Each target's verdict with its estimate, interval and margin, for files."""
    parts = []
    for v in row.verdicts:
        ci = v["ci95"]
        interval = f" [{ci[0]:.6g}, {ci[1]:.6g}]" if ci else ""
        needed = ""
        if v.get("needed"):
            time = f" ({v['needed_s']:.3g} s)" if v.get("needed_s") else ""
            needed = f"; needs {v['needed']}{time}"
        parts.append(
            f"{v['target']} {v['verdict']}: {v['estimate']:.6g}{interval} vs {v['required']:.6g}"
            f"{needed}"
        )
    return "; ".join(parts) or None


IDENTITY = ("machine", "stream", "subscriber")
LATENCY_HEADERS = {"p50": "p50 ms", "p99": "p99 ms", "max": "max ms"}

FIGURES: tuple[Figure, ...] = (
    *(Figure(name, _attribute(name)) for name in IDENTITY),
    Figure("published", _attribute("published"), "published", count, compact=True),
    Figure("delivered", _attribute("delivered"), "delivered", count),
    Figure("dropped", _attribute("dropped"), "dropped", count, compact=True),
    Figure("in_flight", _attribute("in_flight"), "in flight", count),
    Figure("loss_ratio", _attribute("loss_ratio"), "loss", share),
    *(
        Figure(
            f"latency_{s}_s",
            _latency(s),
            LATENCY_HEADERS.get(s),
            milliseconds,
            compact=s in ("p50", "p99"),  # the max in the wide table: room for the verdict
        )
        for s in LATENCY_STATISTICS
    ),
    *(
        Figure(f"latency_{s}_ci95_{side}_s", _interval(s, end))
        for s in ("mean", "p99")
        for side, end in (("low", 0), ("high", 1))
    ),
    Figure("throughput_msg_s", _attribute("throughput_msg_s"), "msg/s", per_second),
    Figure("throughput_bit_s", _attribute("throughput_bit_s"), "payload", bit_rate),
    Figure("deadline_s", _attribute("deadline_s")),
    Figure("deadline_miss_ratio", _attribute("deadline_miss_ratio"), "deadline miss", share, True),
    Figure("survival_time_s", _attribute("survival_time_s")),
    Figure("availability", _attribute("availability"), "availability", availability, True),
    *(
        Figure(
            f"completion_{s}_s",
            _completion(s),
            "ack p99 ms" if s == "p99" else None,
            milliseconds,
            shown=_acknowledged,
        )
        for s in COMPLETION_STATISTICS
    ),
    Figure("verdict", _attribute("verdict"), "verdict", _verdict_cell, True, _any("verdict")),
    Figure("verdict_detail", _verdict_detail),
    Figure("resumed", _attribute("resumed"), "resumed", count, shown=_any("resumed")),
    Figure("duplicates", _attribute("duplicates"), "dup", count, shown=_any("duplicates")),
    Figure("retained", _attribute("retained")),
    Figure("refused", _attribute("refused"), "refused", count, True, _any("refused")),
    Figure("forged", _attribute("forged"), "forged", count, True, _any("forged")),
    Figure("replications", _attribute("replications")),
)

COLUMNS: list[str] = [figure.column for figure in FIGURES]
BY_COLUMN: dict[str, Figure] = {figure.column: figure for figure in FIGURES}
MEASURED: tuple[Figure, ...] = tuple(f for f in FIGURES if f.column not in IDENTITY)

COMPACT_HEADERS = {"deadline_miss_ratio": "miss", "availability": "avail"}


def record(row: Any) -> dict[str, Any]:
    """The row as a flat mapping of column to raw value (a line of ``streams.csv``)."""
    return {figure.column: figure.value(row) for figure in FIGURES}


def table_figures(rows: Sequence[Any], compact: bool) -> list[Figure]:
    """The figures a table of ``rows`` shows, in order."""
    return [
        figure
        for figure in MEASURED
        if figure.header is not None
        and (figure.compact or not compact)
        and (figure.shown is None or figure.shown(rows))
    ]


def header(figure: Figure, compact: bool) -> str:
    assert figure.header is not None
    return COMPACT_HEADERS.get(figure.column, figure.header) if compact else figure.header


__all__ = [
    "BY_COLUMN",
    "COLUMNS",
    "FIGURES",
    "IDENTITY",
    "MEASURED",
    "Figure",
    "availability",
    "milliseconds",
    "record",
    "share",
    "table_figures",
]
