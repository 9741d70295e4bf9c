"""What ``factory5g bench`` prints and writes: the scorecard of a benchmark suite.

It prints the scorecard as a matrix (a row per plant, a column per network option; each cell the
plant's overall verdict, its worst p99 and availability, the busiest network's utilisation), then
every judged target with its margin, and the tool's own figures per plant (CPU seconds, messages
per CPU second). It writes ``scorecard.json``, ``scorecard.csv`` (one line per plant, option and
target), ``report.html``, ``catalogue.md`` (the catalogue page, :mod:`sim.studies.catalogue`) and
each entry's results under ``plants/<plant>/<option>/``; every replication is kept in
``DIR/store``, so running the suite again computes only what changed.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from sim.metrics.figures import milliseconds, percent
from sim.outputs import csv_text, json_text
from sim.report import Printer, markdown, task_progress, titled_table
from sim.scenario.units import format_time
from sim.studies.bench import CSV_COLUMNS, Cell, Entry, Scorecard, score
from sim.studies.capacity import figure_text
from sim.studies.executor import Executor
from sim.studies.runner import Runner
from sim.studies.store import Store

_WORD = {"pass": "pass", "fail": "FAIL", "inconclusive": "undecided", "none": "no targets"}
_STYLE = {"pass": "green", "fail": "red", "inconclusive": "yellow", "none": "dim"}


def cell_lines(c: Cell) -> list[str]:
    """A scorecard cell as short lines: the verdict (with how many targets failed or are
    undecided), the worst p99, the worst availability, the busiest network's utilisation."""
    counted = sum(1 for t in c.targets if t["verdict"] == c.verdict)
    word = _WORD[c.verdict]
    if c.verdict in ("fail", "inconclusive"):
        word += f" {counted}/{len(c.targets)}"
    lines = [word, f"p99 {milliseconds(c.p99_s)} ms"]
    if c.availability is not None:
        lines.append(f"avail {percent(c.availability)}")
    if c.utilisation is not None:
        lines.append(f"{c.busiest} {percent(c.utilisation)}")
    return lines


def scorecard_table(card: Scorecard) -> Table:
    """The matrix: a row per plant, a column per option."""
    mode = "quick" if card.quick else "full"
    table = titled_table(f"scorecard of {card.suite} ({mode})", compact=False)
    table.add_column("plant", justify="left", no_wrap=True)
    for option in card.options:
        table.add_column(option, justify="left", no_wrap=True)
    for plant, cells in card.grid():
        shown = []
        for c in cells:
            if c is None:
                shown.append("")
                continue
            first, *rest = cell_lines(c)
            shown.append("\n".join([f"[{_STYLE[c.verdict]}]{first}[/]", *rest]))
        table.add_row(plant, *shown)
    return table


def matrix_markdown(card: Scorecard) -> str:
    """The matrix as a markdown table, a cell's lines parted by ``<br>``."""
    rows = [
        [plant, *("<br>".join(cell_lines(c)) if c else "" for c in cells)]
        for plant, cells in card.grid()
    ]
    return markdown(["plant", *card.options], rows, 1 + len(card.options))


def scorecard_lines(card: Scorecard) -> Table:
    """The same cells for a narrow terminal: a line per (plant, option)."""
    mode = "quick" if card.quick else "full"
    table = titled_table(f"scorecard of {card.suite} ({mode})", compact=True)
    for name in ("plant", "option", "verdict", "p99 ms", "availability", "busiest network"):
        table.add_column(name, justify="right" if name == "p99 ms" else "left", overflow="fold")
    for plant, cells in card.grid():
        for option, c in zip(card.options, cells, strict=True):
            if c is None:
                continue
            word = cell_lines(c)[0]
            busiest = f"{c.busiest} {percent(c.utilisation)}" if c.busiest else "-"
            table.add_row(
                plant,
                option,
                f"[{_STYLE[c.verdict]}]{word}[/]",
                milliseconds(c.p99_s),
                percent(c.availability) if c.availability is not None else "-",
                busiest,
            )
    return table


def _target_lines(card: Scorecard) -> tuple[list[str], list[list[str]]]:
    headers = ["plant", "option", "row", "target", "verdict", "estimate", "required", "margin",
               "to decide"]  # fmt: skip
    lines = []
    for c in card.cells:
        for t in c.targets:
            what = t["target"]
            needed = ""
            if t["verdict"] == "inconclusive":
                needed = _to_decide(t)
            lines.append(
                [
                    c.plant,
                    c.option,
                    t["row"],
                    what,
                    _WORD[t["verdict"]],
                    figure_text(what, t["estimate"]),
                    figure_text(what, t["required"]),
                    "-"
                    if t["margin"] is None
                    else f"{t['margin'] * 100:+.4g} pts"
                    if what != "min_throughput"
                    else figure_text(what, t["margin"]),
                    needed,
                ]
            )
    return headers, lines


def _to_decide(target: dict[str, object]) -> str:
    """What an undecided target needs, in a few words."""
    needed, seconds = target["needed"], target["needed_s"]
    if isinstance(needed, int):
        when = f" ({format_time(seconds)})" if isinstance(seconds, float) else ""
        return f"{needed:,} msgs{when}"
    reason = str(target["reason"])
    return "more replications" if "replications" in reason else reason


def tool_lines(card: Scorecard) -> tuple[list[str], list[list[str]]]:
    """The tool's own figures, a line per cell: engine, simulated time (and the file's, if run
    longer), messages, CPU seconds, messages per CPU second."""
    headers = ["plant", "option", "engine", "simulated", "messages", "CPU s", "msg per CPU s"]
    lines = [
        [
            c.plant,
            c.option,
            c.engine,
            f"{c.replications} x {c.duration_s:g} s"
            + (f" (file: {c.lengthened_from_s:g} s)" if c.lengthened_from_s else ""),
            f"{c.messages:,}",
            "stored" if c.cpu_s is None else f"{c.cpu_s:.2f}",
            "-" if c.messages_per_cpu_s is None else f"{c.messages_per_cpu_s:,.0f}",
        ]
        for c in card.cells
    ]
    return headers, lines


def _plain_table(
    title: str, headers: list[str], lines: list[list[str]], left: int, compact: bool
) -> Table:
    table = titled_table(title, compact)
    for i, name in enumerate(headers):
        table.add_column(name, justify="left" if i < left else "right", overflow="fold")
    for line in lines:
        table.add_row(*line)
    return table


def print_scorecard(card: Scorecard, printer: Printer) -> None:
    """The scorecard in the printer's format."""
    if printer.format == "json":
        printer.text(json_text(card.to_dict()))
        return
    if printer.format == "csv":
        printer.text(csv_text(card.records(), CSV_COLUMNS))
        return
    targets = _target_lines(card)
    tool = tool_lines(card)
    if printer.format == "markdown":
        printer.text(matrix_markdown(card) + "\n")
        printer.text(markdown(*targets, 5) + "\n")
        printer.text(markdown(*tool, 4))
        return
    printer.table(scorecard_table(card), scorecard_lines(card))
    for title, (headers, lines), left in (
        ("requirement targets", targets, 5),
        ("the tool: what each plant cost to simulate", tool, 4),
    ):
        wide = _plain_table(title, headers, lines, left, compact=False)
        printer.table(wide, _plain_table(title, headers, lines, left, compact=True))


def bench_command(
    entries: list[Entry],
    suite: str,
    quick: bool,
    out: Path,
    printer: Printer,
    executor: Executor,
    decide_within: float | None = None,
    overrides: dict[str, object] | None = None,
) -> int:
    """``factory5g bench``: run what is missing from ``out/store``, print the scorecard and write
    its files. With ``decide_within`` (the full run), each plant whose targets are undecided runs
    again, once, long enough to decide the most demanding of them that an estimated
    ``decide_within`` seconds of compute can."""
    from sim.html_report import write_report
    from sim.results import write_scenario
    from sim.studies.catalogue import catalogue_markdown

    replications = sum(entry.scenario.replications for entry in entries)
    plants = len({entry.plant for entry in entries})
    printer.note(
        f"[bold]bench[/bold] {suite}{' --quick' if quick else ''}: {plants} plant(s), "
        f"{len(entries)} plant x option run(s), {replications} tasks, on {executor.describe()}"
    )
    store = Store(out / "store")
    start = time.perf_counter()

    def lengthening(again: list[Entry]) -> None:
        printer.note(
            f"{len(again)} run(s) again, longer, to decide their targets: "
            + ", ".join(f"{e.label} {format_time(e.scenario.duration)}" for e in again)
        )

    with task_progress(printer, "bench") as advance:
        runner = Runner(executor, store, advance)
        done, cells = score(entries, runner, decide_within, overrides, lengthening)
    card = Scorecard(suite, quick, executor.workers, wall_s=time.perf_counter() - start)
    for (entry, results, _), found in zip(done, cells, strict=True):
        card.cells.append(found)
        folder = out / "plants" / entry.plant / entry.option
        results.write(folder)
        write_scenario(entry.scenario, folder)
    (out / "scorecard.json").write_text(json_text(card.to_dict()), encoding="utf-8")
    (out / "scorecard.csv").write_text(
        csv_text(card.records(), CSV_COLUMNS), encoding="utf-8", newline=""
    )
    (out / "catalogue.md").write_text(catalogue_markdown(entries, card), encoding="utf-8")
    report = write_report(out)
    print_scorecard(card, printer)
    printer.note(
        f"wrote {out}/scorecard.json, scorecard.csv, catalogue.md, {report.name} and each run's "
        f"results in {out}/plants/\ncomputed {runner.computed} task(s) in {card.wall_s:.1f} s "
        f"wall, {executor.describe()}"
        + (f", found {runner.reused} in {store.folder}" if runner.reused else "")
    )
    return 0


__all__ = [
    "bench_command",
    "cell_lines",
    "matrix_markdown",
    "print_scorecard",
    "scorecard_lines",
    "scorecard_table",
    "tool_lines",
]
