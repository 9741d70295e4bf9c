"""What ``factory5g run`` and ``factory5g compare`` print and write.

``run`` prints one row per (machine class, stream, subscriber) and writes ``summary.json`` and
``streams.csv``; ``compare`` runs a baseline and its upgrades and prints them side by side with the
change per row, writing ``comparison.json``, each scenario's own results, and ``latency.png``.

What is printed goes to standard output in one of four formats (``--format``): a table (the
default), JSON or CSV of the rows (SI units, the columns of ``streams.csv``; for a comparison one
line per row and scenario with the changes), or a markdown table for reports. Progress and notes go
to standard error, so that the printed result can be piped. A table fits the terminal: the whole
table when it is wide enough, otherwise a compact one with the main figures (``--wide`` asks for
every column whatever the width); the width is the terminal's, or ``COLUMNS`` when it is set.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sim.compare import Comparison, relative_change, significance
from sim.engine import run_scenario
from sim.metrics.figures import BY_COLUMN, Figure, header, percent, record, table_figures
from sim.outputs import Format, csv_text, inside, json_text
from sim.plots import save_latency_cdf
from sim.results import Results, write_scenario
from sim.scenario.schema import Scenario
from sim.scenario.units import format_rate, format_time

if TYPE_CHECKING:
    from sim.studies.executor import Executor

COMPARED_WIDE = (
    "latency_p50_s",
    "latency_p99_s",
    "latency_max_s",
    "throughput_msg_s",
    "loss_ratio",
    "deadline_miss_ratio",
    "availability",
    "verdict",
)
COMPARED_COMPACT = (
    "latency_p50_s",
    "latency_p99_s",
    "deadline_miss_ratio",
    "availability",
    "verdict",
)


SECURITY = ("refused", "forged")  # compared where some run has them (attacks and defences)


def compared_columns(runs: Sequence[Results], compact: bool = False) -> list[Figure]:
    """The figures a comparison of ``runs`` shows: the fixed ones, and the security counts when
    some row of some run has them."""
    names = [*(COMPARED_COMPACT if compact else COMPARED_WIDE)]
    names += [n for n in SECURITY if any(getattr(r, n) for run in runs for r in run.streams)]
    return [BY_COLUMN[c] for c in names]


@dataclass
class Printer:
    """Where a command's output goes: the result to stdout in ``format``, the rest to stderr."""

    format: Format = "table"
    wide: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        self.out = Console(soft_wrap=False)
        self.err = Console(stderr=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            self.err.print(text, highlight=False)

    def table(self, wide: Table, compact: Table) -> None:
        """The wide table if asked for or if it fits the width, else the compact one."""
        if self.quiet:
            return
        unlimited = self.out.options.update_width(1_000_000)
        natural = self.out.measure(wide, options=unlimited).maximum
        if self.wide:
            if not self.out.is_terminal and "COLUMNS" not in os.environ:
                self.out = Console(width=natural, soft_wrap=False)  # a file: no need to fold
            self.out.print(wide)
        else:
            self.out.print(wide if natural <= self.out.width else compact)

    def text(self, text: str) -> None:
        if not self.quiet:
            sys.stdout.write(text)
            sys.stdout.flush()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: how far it got (nothing is written for an interrupted run)."""


@contextmanager
def _interrupt_between_steps() -> Iterator[Callable[[], None]]:
    """Ctrl-C (SIGINT) noted rather than raised wherever the interpreter happens to be (inside a
    compiled kernel's loader, it could leave a lock held and hang the process); the function
    yielded raises KeyboardInterrupt if it came, and the run calls it between stretches of
    simulated time. A second Ctrl-C interrupts at once."""
    import signal
    import threading

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # e.g. `nohup ... &`
    ):
        yield lambda: None
        return
    came = threading.Event()

    def note(_signum: int, _frame: object) -> None:
        came.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def check() -> None:
        if came.is_set():
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, note)
    try:
        yield check
        check()
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def _progress(printer: Printer, scenario: Scenario) -> Iterator[Callable[[int, float], None]]:
    """A progress bar on stderr with the replication, the simulated time and the time left; on
    Ctrl-C an :class:`Interrupted` saying how far the run got."""
    total, duration = scenario.replications, scenario.duration
    done = [0, 0.0]  # replication, fraction of it

    def where() -> str:
        return (
            f"replication {done[0] + 1} of {total}, {done[1] * duration:.3g} s of "
            f"{format_time(duration)} simulated"
        )

    try:
        with _interrupt_between_steps() as check:
            if printer.quiet:

                def advance(replication: int, fraction: float) -> None:
                    done[:] = [replication, fraction]
                    check()

                yield advance
                return
            columns = (
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[where]}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=printer.err, transient=True) as bar:
                task = bar.add_task(scenario.name, total=total, where=where())

                def advance(replication: int, fraction: float) -> None:
                    done[:] = [replication, fraction]
                    bar.update(task, completed=replication + fraction, where=where())
                    check()

                yield advance
    except KeyboardInterrupt:
        raise Interrupted(
            f"{scenario.name} interrupted in {where()}; its results were not written"
        ) from None


@contextmanager
def task_progress(printer: Printer, title: str) -> Iterator[Callable[[int, int, float], None]]:
    """A progress bar on stderr over a study's tasks (replications of scenarios), with the time
    left; ``advance(finished, total, fraction of the running task)``."""
    if printer.quiet:
        yield lambda finished, total, fraction: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[tasks]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=printer.err, transient=True) as bar:
        task = bar.add_task(title, total=None, tasks="")

        def advance(finished: int, total: int, fraction: float) -> None:
            bar.update(
                task,
                total=max(total, 1),
                completed=min(finished + fraction, total),
                tasks=f"{finished}/{total} tasks",
            )

        yield advance


def run_with_progress(
    scenario: Scenario, printer: Printer, samples: bool = False
) -> tuple[Results, float]:
    """Run a scenario with a progress bar on stderr; the results and the wall time in seconds
    (``samples``: keeping every delivered copy)."""
    with _progress(printer, scenario) as advance:
        start = time.perf_counter()
        results = run_scenario(scenario, progress=advance, samples=samples)
        wall = time.perf_counter() - start
    return results, wall


def run_all(
    scenarios: Sequence[tuple[Scenario, Path]],
    printer: Printer,
    executor: Executor | None = None,
    samples: bool = False,
) -> tuple[list[Results], float]:
    """Run each scenario with all its replications: one after another in this process with a
    bar per scenario, or, on a Dask executor, every replication of every scenario at once with a
    bar over the tasks. The results, and the wall time in seconds (``samples``: keeping every
    delivered copy, for ``samples.parquet``)."""
    from sim.studies.executor import InProcess

    start = time.perf_counter()
    if executor is None or isinstance(executor, InProcess):
        runs = []
        for scenario, source in scenarios:
            if len(scenarios) > 1:
                printer.note(f"running [bold]{scenario.name}[/bold] ({source})")
            results, wall = run_with_progress(scenario, printer, samples)
            if len(scenarios) > 1:
                printer.note(f"  done in {wall:.2f} s")
            runs.append(results)
        return runs, time.perf_counter() - start
    from sim.studies.runner import Job, Runner

    printer.note(f"running {len(scenarios)} scenario(s) on {executor.describe()}")
    with task_progress(printer, ", ".join(s.name for s, _ in scenarios)) as advance:
        runner = Runner(executor, progress=advance, keep_samples=True, samples=samples)
        runs = runner.run([Job(scenario, scenario.name) for scenario, _ in scenarios])
    return runs, time.perf_counter() - start


def _published_messages(results: Results) -> int:
    """Messages the machines published in the window (each counted once, whatever its subscribers)."""
    seen: dict[tuple[str, str], int] = {}
    for row in results.streams:
        key = (row.machine, row.stream)
        seen[key] = max(seen.get(key, 0), row.published)
    return sum(seen.values())


# ----------------------------------------------------------------------------------- tables


def titled_table(title: str, compact: bool) -> Table:
    """An empty table with a title: boxed, or compact (no edges, no padding) for narrow terminals."""
    if compact:
        return Table(
            title=title,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            padding=(0, 0),
        )
    return Table(title=title, title_justify="left")


def _stream_lines(results: Results, figures: list[Figure]) -> list[list[str]]:
    return [
        [f"{row.machine}/{row.stream}", row.subscriber, *(f.text(row) for f in figures)]
        for row in results.streams
    ]


def stream_table(results: Results, compact: bool = False) -> Table:
    """One line per (machine class, stream, subscriber); ``compact``: the main figures only
    (the QoS 1/2 completion and the copies that waited for a reconnection appear in the wide
    table when some row has them)."""
    figures = table_figures(results.streams, compact)
    table = titled_table(f"{results.scenario}: per-stream results", compact)
    table.add_column("stream" if compact else "machine/stream", overflow="fold")
    table.add_column("subscriber", overflow="fold")
    for figure in figures:
        table.add_column(header(figure, compact), justify="right", no_wrap=True)
    for line in _stream_lines(results, figures):
        table.add_row(*line)
    return table


def network_table(runs: Sequence[Results], compact: bool = False) -> Table:
    """The networks' MQTT traffic per direction and, for a radio, the share of it used."""
    table = titled_table("networks", compact)
    for name in ("scenario", "network", "way"):
        table.add_column(name, overflow="fold")
    if not compact:
        table.add_column("PUBLISH/s", justify="right")
    table.add_column("MQTT", justify="right")
    table.add_column("radio used", justify="right")
    for cells in network_cells(runs, compact):
        table.add_row(*cells)
    return table


def network_cells(runs: Sequence[Results], compact: bool = False) -> list[list[str]]:
    """The networks' lines as table cells: scenario, network, way, (PUBLISH/s,) MQTT, radio used."""
    lines = []
    for results in runs:
        for r in results.network_records():
            use = r["radio_utilisation"]
            cells = [r["scenario"], r["network"], r["direction"]]
            if not compact:
                cells.append(f"{r['publish_per_s']:.1f}")
            cells += [format_rate(r["mqtt_bit_s"]), percent(use) if use is not None else "-"]
            lines.append(cells)
    return lines


def _coloured(change: float, significant: bool | None) -> str:
    """A change in per cent: green (faster) or red (slower) only when its 95 % interval excludes
    zero; ``~`` marks one within the noise; uncoloured without an interval."""
    text = f"{change * 100:+.0f}%"
    if significant is False:
        return f"~{text}"
    style = "green" if change < 0 else "red" if change > 0 else ""
    return f"[{style}]{text}[/{style}]" if style and significant else text


def _plain(change: float, significant: bool | None) -> str:
    return f"({'~' if significant is False else ''}{change * 100:+.0f}%)"


def _comparison_lines(
    comparison: Comparison, columns: list[Figure], change: Callable[[float, bool | None], str]
) -> Iterator[tuple[str, int, str, list[str]]]:
    """(row label, index of the scenario, scenario, cells) for each row of each scenario, the
    upgrades' latencies followed by their change against the baseline."""
    for key in comparison.keys:
        base = Comparison._find(comparison.baseline, key)
        label = f"{key[0]}/{key[1]} -> {key[2]}"
        for i, results in enumerate([comparison.baseline, *comparison.upgrades]):
            row = Comparison._find(results, key)
            noise = significance(base, row) if i else {}
            cells = []
            for figure in columns:
                if row is None:
                    cells.append("-")
                    continue
                cell = figure.text(row)
                if i and base is not None and figure.column.startswith("latency_"):
                    delta = relative_change(figure.value(base), figure.value(row))
                    known = noise.get(figure.column, {}).get("significant")
                    cell += "" if delta is None else " " + change(delta, known)
                cells.append(cell)
            yield label, i, results.scenario, cells


def comparison_table(comparison: Comparison, compact: bool = False) -> Table:
    """Baseline and upgrades side by side, with each upgrade's change of the latencies; compact:
    the row's name on a line of its own above its scenarios."""
    last = len(comparison.upgrades)
    table = titled_table(f"upgrade comparison against {comparison.baseline.scenario}", compact)
    columns = compared_columns([comparison.baseline, *comparison.upgrades], compact)
    if compact:
        table.add_column("machine/stream -> subscriber, scenario", overflow="fold")
    else:
        table.add_column("machine/stream -> subscriber", overflow="fold")
        table.add_column("scenario", overflow="fold")
    for figure in columns:
        table.add_column(header(figure, compact), justify="right", no_wrap=True)
    for label, i, scenario, cells in _comparison_lines(comparison, columns, _coloured):
        if compact:
            if i == 0:
                table.add_row(f"[bold]{label}[/bold]", *([""] * len(columns)))
            table.add_row(f"  {scenario}", *cells, end_section=i == last)
        else:
            table.add_row(label if i == 0 else "", scenario, *cells, end_section=i == last)
    return table


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> str:
    """A GitHub-flavoured markdown table; the first ``left`` columns align left, the rest right."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    align = ["---"] * left + ["---:"] * (len(headers) - left)
    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def comparison_notes(comparison: Comparison) -> list[str]:
    """What a reader of a comparison must know: how the changes are marked, runs too short for
    intervals, and each scenario's targets not passed."""
    runs = (comparison.baseline, *comparison.upgrades)
    lines = [
        "changes: green or red when the 95 % interval of the change excludes 0; ~ within noise"
    ]
    lines += [
        f"warning: {r.scenario} has {r.replications} replication: its changes have no interval "
        "(run 2 or more, --replications)"
        for r in runs
        if r.replications < 2
    ]
    lines += [f"warning: {r.scenario}: {warning}" for r in runs for warning in r.warnings]
    for results in runs:
        lines += verdict_notes(results)
    return lines


def verdict_notes(results: Results) -> list[str]:
    """One line per target that did not pass: what was required, what the run shows (with its
    95 % interval), and for an undecided one what would decide it."""
    lines = []
    for row in results.streams:
        for v in row.verdicts:
            if v["verdict"] == "pass":
                continue
            ci = v["ci95"]
            interval = (
                f" [{target_text(v['target'], ci[0])}, {target_text(v['target'], ci[1])}]"
                if ci
                else ""
            )
            word = "FAIL" if v["verdict"] == "fail" else "undecided"
            needed = f" ({v['reason']})" if v["reason"] else ""
            if v.get("needed_s"):
                needed = needed[:-1] + f", about {_duration(v['needed_s'])} of simulated time)"
            lines.append(
                f"{word}: {row.machine}/{row.stream} -> {row.subscriber} ({results.scenario}): "
                f"{v['target']} {target_text(v['target'], v['estimate'])}{interval}, required "
                f"{target_text(v['target'], v['required'])}{needed}"
            )
    return lines


def _duration(seconds: float) -> str:
    """A long simulated time in the unit that reads best: ``150 s``, ``75 min``, ``1.3 h``, ``4 d``."""
    for unit, size in (("d", 86_400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds:.3g} s"


def target_text(target: str, value: float | None) -> str:
    """A requirement target's value as tables and the report show it."""
    if value is None:
        return "-"
    return format_rate(value) if target == "min_throughput" else percent(value)


def print_results(results: Results, printer: Printer) -> None:
    """``results`` in the printer's format."""
    if printer.format == "table":
        printer.table(stream_table(results), stream_table(results, compact=True))
        if results.networks:
            printer.table(network_table([results]), network_table([results], compact=True))
        single = (
            [
                "warning: one replication: the verdicts' intervals are binomial only, blind to the "
                "correlation of one run's messages (run 2 or more, --replications)"
            ]
            if results.replications < 2 and any(row.verdicts for row in results.streams)
            else []
        )
        for line in [
            *single,
            *(f"warning: {w}" for w in results.warnings),
            *verdict_notes(results),
        ]:
            printer.note(line)
    elif printer.format == "markdown":
        figures = table_figures(results.streams, compact=False)
        headers = ["machine/stream", "subscriber", *(header(f, False) for f in figures)]
        title = f"### {results.scenario}: per-stream results\n\n"
        printer.text(title + markdown(headers, _stream_lines(results, figures), 2))
    else:
        records = [record(row) for row in results.streams]
        printer.text(json_text(records) if printer.format == "json" else csv_text(records))


def print_comparison(comparison: Comparison, printer: Printer) -> None:
    """``comparison`` in the printer's format."""
    if printer.format == "table":
        printer.table(comparison_table(comparison), comparison_table(comparison, compact=True))
        runs = [comparison.baseline, *comparison.upgrades]
        if any(r.networks for r in runs):
            printer.table(network_table(runs), network_table(runs, compact=True))
        for line in comparison_notes(comparison):
            printer.note(line)
    elif printer.format == "markdown":
        columns = compared_columns([comparison.baseline, *comparison.upgrades])
        headers = ["machine/stream -> subscriber", "scenario", *(header(f, False) for f in columns)]
        lines = [
            [label if i == 0 else "", scenario, *cells]
            for label, i, scenario, cells in _comparison_lines(comparison, columns, _plain)
        ]
        title = f"### upgrade comparison against {comparison.baseline.scenario}\n\n"
        printer.text(title + markdown(headers, lines, 2))
    else:
        records = comparison.records()
        printer.text(json_text(records) if printer.format == "json" else csv_text(records))


# --------------------------------------------------------------------------------- commands


def run_command(
    scenario: Scenario,
    source: Path,
    out: Path,
    printer: Printer,
    samples: bool = False,
    report: bool = False,
    executor: Executor | None = None,
) -> int:
    """``factory5g run``: run, print the rows, write ``summary.json`` and ``streams.csv`` (and
    with ``samples`` every delivered copy as ``samples.parquet``)."""
    printer.note(
        f"[bold]{scenario.name}[/bold] from {source}: {scenario.description or ''}\n"
        f"  {format_time(scenario.duration)} simulated ({format_time(scenario.warmup)} warm-up), "
        f"{scenario.replications} replication(s), seed {scenario.seed}"
    )
    [results], wall = run_all([(scenario, source)], printer, executor, samples)
    written = results.write(out)
    write_scenario(scenario, out)
    if samples:
        written.append(results.write_samples(out / "samples.parquet"))
    if report:
        from sim.html_report import write_report

        written.append(write_report(out))
    print_results(results, printer)
    in_flight = sum(row.in_flight for row in results.streams)
    printer.note(
        f"wrote {', '.join(str(p) for p in written)}\n"
        f"wall time {wall:.2f} s for {scenario.replications} replication(s) on the "
        f"{results.engine.get('name', 'event')} engine; "
        f"{_published_messages(results)} messages published in the measurement windows"
        + (f"; {in_flight} copies still in flight at the end" if in_flight else "")
    )
    return 0


def compare_command(
    scenarios: list[tuple[Scenario, Path]],
    out: Path,
    printer: Printer,
    samples: bool = False,
    report: bool = False,
    executor: Executor | None = None,
) -> int:
    """``factory5g compare``: run a baseline and its upgrades, print and write the comparison
    (with ``samples``, each scenario's ``samples.parquet`` in its folder)."""
    runs, _ = run_all(scenarios, printer, executor, samples)
    for (scenario, _source), results in zip(scenarios, runs, strict=True):
        results.write(inside(out, scenario.name))
        write_scenario(scenario, inside(out, scenario.name))
        if samples:
            results.write_samples(inside(out, scenario.name) / "samples.parquet")
    comparison = Comparison(runs[0], runs[1:])
    path = comparison.write(out)
    plot = save_latency_cdf(runs, out / "latency.png")
    print_comparison(comparison, printer)
    extra = ""
    if report:
        from sim.html_report import write_report

        extra = f", {write_report(out)}"
    printer.note(f"wrote {path}, {plot}{extra} and per-scenario results in {out}/<scenario>/")
    return 0


__all__ = [
    "Printer",
    "compare_command",
    "comparison_table",
    "markdown",
    "print_comparison",
    "print_results",
    "run_command",
    "stream_table",
]
