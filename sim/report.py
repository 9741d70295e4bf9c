"""What ``factory5g run`` and ``factory5g compare`` print and write.

``run`` prints one table row per (machine class, stream, subscriber) and writes ``summary.json`` and
``streams.csv``; ``compare`` runs a baseline and its upgrades and prints them side by side with the
change per row, writing ``comparison.json``, each scenario's own results, and ``latency.png``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.compare import Comparison, relative_change
from sim.engine import run_scenario
from sim.plots import save_latency_cdf
from sim.results import Results, StreamResult
from sim.scenario.schema import Scenario
from sim.scenario.units import format_rate, format_time


def make_console() -> Console:
    """A console for the tables: the terminal's width, or a wide page when writing to a file or pipe."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    return console


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return f"{value * 100:.3g} %"


def _published_messages(results: Results) -> int:
    """Messages the machines published in the window (each counted once, whatever its subscribers)."""
    seen: dict[tuple[str, str], int] = {}
    for row in results.streams:
        key = (row.machine, row.stream)
        seen[key] = max(seen.get(key, 0), row.published)
    return sum(seen.values())


@contextmanager
def _progress(
    console: Console, quiet: bool, label: str, total: int
) -> Iterator[Callable[[int, float], None]]:
    if quiet:
        yield lambda _r, _f: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(replication: int, fraction: float) -> None:
            bar.update(task, completed=replication + fraction)

        yield advance


def run_with_progress(scenario: Scenario, console: Console, quiet: bool) -> tuple[Results, float]:
    """Run a scenario with a progress bar; the results and the wall time in seconds."""
    label = f"{scenario.name} ({scenario.replications} x {format_time(scenario.duration)})"
    with _progress(console, quiet, label, scenario.replications) as advance:
        start = time.perf_counter()
        results = run_scenario(scenario, progress=advance)
        wall = time.perf_counter() - start
    return results, wall


def stream_table(results: Results) -> Table:
    """One line per (machine class, stream, subscriber); the QoS 1/2 completion and the copies
    that waited for a reconnection only when some row has them."""
    table = Table(title=f"{results.scenario}: per-stream results", title_justify="left")
    acknowledged = any(row.completion_s is not None for row in results.streams)
    reconnected = any(row.resumed or row.duplicates for row in results.streams)
    columns = [
        ("machine", "left"),
        ("stream", "left"),
        ("subscriber", "left"),
        ("published", "right"),
        ("delivered", "right"),
        ("dropped", "right"),
        ("in flight", "right"),
        ("p50 ms", "right"),
        ("p99 ms", "right"),
        ("max ms", "right"),
    ]
    if acknowledged:
        columns.append(("ack p99 ms", "right"))
    if reconnected:
        columns += [("resumed", "right"), ("dup", "right")]
    columns += [
        ("msg/s", "right"),
        ("payload", "right"),
        ("deadline miss", "right"),
        ("availability", "right"),
    ]
    for header, justify in columns:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for row in results.streams:
        cells = [
            row.machine,
            row.stream,
            row.subscriber,
            str(row.published),
            str(row.delivered),
            str(row.dropped),
            str(row.in_flight),
            _ms(row.latency("p50")),
            _ms(row.latency("p99")),
            _ms(row.latency("max")),
        ]
        if acknowledged:
            cells.append(_ms(row.completion("p99")))
        if reconnected:
            cells += [str(row.resumed), str(row.duplicates)]
        cells += [
            f"{row.throughput_msg_s:.1f}",
            format_rate(row.throughput_bit_s),
            _ratio(row.deadline_miss_ratio),
            _availability(row),
        ]
        table.add_row(*cells)
    return table


def _availability(row: StreamResult) -> str:
    if row.availability is None:
        return "-"
    return f"{row.availability * 100:.4g} %"


def run_command(scenario: Scenario, source: Path, out: Path, quiet: bool) -> int:
    """``factory5g run``: run, print the table, write ``summary.json`` and ``streams.csv``."""
    console = make_console()
    if not quiet:
        console.print(
            f"[bold]{scenario.name}[/bold] from {source}: {scenario.description or ''}\n"
            f"  {format_time(scenario.duration)} simulated ({format_time(scenario.warmup)} warm-up), "
            f"{scenario.replications} replication(s), seed {scenario.seed}"
        )
    results, wall = run_with_progress(scenario, console, quiet)
    written = results.write(out)
    if quiet:
        return 0
    console.print(stream_table(results))
    messages = _published_messages(results)
    console.print(
        f"wrote {', '.join(str(p) for p in written)}\n"
        f"wall time {wall:.2f} s for {scenario.replications} replication(s); "
        f"{messages} messages published in the measurement windows"
    )
    return 0


def _change(before: float | None, after: float | None) -> str:
    change = relative_change(before, after)
    if change is None:
        return ""
    style = "green" if change < 0 else "red" if change > 0 else ""
    text = f"{change * 100:+.0f} %"
    return f"[{style}]{text}[/{style}]" if style else text


def comparison_table(comparison: Comparison) -> Table:
    """Baseline and upgrades side by side, with the change of each upgrade."""
    names = [comparison.baseline.scenario] + [u.scenario for u in comparison.upgrades]
    table = Table(title=f"upgrade comparison against {names[0]}", title_justify="left")
    table.add_column("machine / stream -> subscriber")
    table.add_column("scenario")
    for header in ("p50 ms", "p99 ms", "max ms", "msg/s", "loss", "deadline miss", "availability"):
        table.add_column(header, justify="right")
    for key in comparison.keys:
        base = Comparison._find(comparison.baseline, key)
        label = f"{key[0]}/{key[1]} -> {key[2]}"
        for i, results in enumerate([comparison.baseline, *comparison.upgrades]):
            row = Comparison._find(results, key)
            if row is None:
                table.add_row(label if i == 0 else "", results.scenario, *(["-"] * 7))
                continue
            cells = []
            for statistic in ("p50", "p99", "max"):
                cell = _ms(row.latency(statistic))
                if i and base is not None:
                    cell += " " + _change(base.latency(statistic), row.latency(statistic))
                cells.append(cell)
            cells += [
                f"{row.throughput_msg_s:.1f}",
                _ratio(row.loss_ratio),
                _ratio(row.deadline_miss_ratio),
                _availability(row),
            ]
            table.add_row(
                label if i == 0 else "", results.scenario, *cells, end_section=i == len(names) - 1
            )
    return table


def compare_command(scenarios: list[tuple[Scenario, Path]], out: Path, quiet: bool) -> int:
    """``factory5g compare``: run a baseline and its upgrades, print and write the comparison."""
    console = make_console()
    runs: list[Results] = []
    for scenario, source in scenarios:
        if not quiet:
            console.print(f"running [bold]{scenario.name}[/bold] ({source})")
        results, wall = run_with_progress(scenario, console, quiet)
        results.write(out / scenario.name)
        if not quiet:
            console.print(f"  done in {wall:.2f} s")
        runs.append(results)
    comparison = Comparison(runs[0], runs[1:])
    path = comparison.write(out)
    plot = save_latency_cdf(runs, out / "latency.png")
    if quiet:
        return 0
    console.print(comparison_table(comparison))
    console.print(f"wrote {path}, {plot} and per-scenario results in {out}/<scenario>/")
    return 0
