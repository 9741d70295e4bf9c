"""What ``factory5g sweep`` and ``factory5g capacity`` print and write.

``sweep`` prints one line per point and row with the main figures and writes the tidy table
(``sweep.csv``, ``sweep.parquet``), each point's results and ``sweep.png`` (:mod:`sim.studies.sweep`);
``capacity`` prints each probe as it is decided and the limit found, and writes ``capacity.json``
(:mod:`sim.studies.capacity`). Both keep every replication in ``DIR/store`` and say how many tasks
they computed and how many they found there.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from sim.metrics.figures import BY_COLUMN
from sim.outputs import csv_text, json_text
from sim.report import (
    COMPARED_COMPACT,
    COMPARED_WIDE,
    Printer,
    markdown,
    task_progress,
    titled_table,
)
from sim.studies.capacity import Plan, Probe, figure_text, search_plan
from sim.studies.executor import Executor
from sim.studies.runner import Runner
from sim.studies.store import Store
from sim.studies.sweep import Sweep


def _tasks(count: int) -> str:
    return f"{count} task{'s' if count != 1 else ''}"


def _lines(sweep: Sweep, compact: bool, rows: str = "*") -> tuple[list[str], list[list[str]]]:
    figures = [BY_COLUMN[c] for c in (COMPARED_COMPACT if compact else COMPARED_WIDE)]
    # the last parts of each path name it well enough in a column header (robot.count; compact:
    # count), the title says the whole paths
    keep = 1 if compact else 2
    headers = [".".join(p.split(".")[-keep:]) for p in sweep.parameters]
    headers.append("machine/stream -> subscriber")
    headers += [figure.header or figure.column for figure in figures]
    lines = [
        [
            *(str(point.values[p]) for p in sweep.parameters),
            f"{row.machine}/{row.stream} -> {row.subscriber}",
            *(figure.text(row) for figure in figures),
        ]
        for point, row in sweep.rows(rows)
    ]
    return headers, lines


def sweep_table(sweep: Sweep, compact: bool = False, rows: str = "*") -> Table:
    """The points and rows (those matching the glob ``rows``) of a sweep with their main
    figures."""
    table = titled_table(f"sweep of {sweep.source} over {', '.join(sweep.parameters)}", compact)
    headers, lines = _lines(sweep, compact, rows)
    label = len(sweep.parameters)
    for i, name in enumerate(headers):
        # every cell on one line but the row's name, which folds when the terminal is narrow
        table.add_column(
            name, justify="left" if i <= label else "right", no_wrap=i != label, overflow="fold"
        )
    for line in lines:
        table.add_row(*line)
    return table


def print_sweep(sweep: Sweep, printer: Printer, rows: str = "*") -> None:
    """The sweep's points and rows in the printer's format."""
    if printer.format == "table":
        printer.table(sweep_table(sweep, rows=rows), sweep_table(sweep, compact=True, rows=rows))
    elif printer.format == "markdown":
        headers, lines = _lines(sweep, False, rows)
        printer.text(markdown(headers, lines, len(sweep.parameters) + 1))
    elif printer.format == "json":
        printer.text(json_text(sweep.records(rows)))
    else:
        printer.text(csv_text(sweep.records(rows), sweep.columns))


def sweep_command(
    sweep: Sweep,
    out: Path,
    printer: Printer,
    executor: Executor,
    figure: str = "latency_p99_s",
    report: bool = False,
    samples: bool = False,
    rows: str = "*",
) -> int:
    """``factory5g sweep``: run the points missing from ``out/store``, print and write the table
    (all of it in the files; the rows matching ``rows`` printed and plotted)."""
    from sim.plots import save_sweep_plot

    replications = sum(point.scenario.replications for point in sweep.points)
    printer.note(
        f"[bold]sweep[/bold] of {sweep.source}: {len(sweep.points)} point(s) over "
        f"{', '.join(sweep.parameters)} ({'zipped' if sweep.zipped else 'grid'}), "
        f"{_tasks(replications)}, on {executor.describe()}"
    )
    store = Store(out / "store")
    start = time.perf_counter()
    with task_progress(printer, "sweep") as advance:
        runner = Runner(executor, store, advance, keep_samples=samples, samples=samples)
        sweep.run(runner)
    wall = time.perf_counter() - start
    if not sweep.records(rows):
        printer.note(f"no row matches --rows {rows}; showing every row")
        rows = "*"
    written = sweep.write(out)
    if samples:
        for point in sweep.points:
            if point.results is not None:
                point.results.write_samples(out / "points" / point.folder / "samples.parquet")
    written.append(save_sweep_plot(sweep.to_dataframe(rows), out / "sweep.png", figure))
    if report:
        from sim.html_report import write_report

        written.append(write_report(out))
    print_sweep(sweep, printer, rows)
    printer.note(
        f"wrote {', '.join(str(p) for p in written)} and each point's results in {out}/points/\n"
        f"computed {_tasks(runner.computed)} in {wall:.2f} s wall"
        + (f", found {runner.reused} in {store.folder}" if runner.reused else "")
    )
    return 0


def _probe_line(probe: Probe) -> str:
    word = {"pass": "[green]pass[/green]", "fail": "[red]FAIL[/red]"}.get(
        probe.verdict, "[yellow]inconclusive[/yellow]"
    )
    if probe.refused:
        return f"  {probe.value}: {word} (refused: {probe.refusal})"
    failing = probe.failing()
    shown = failing[0] if failing else probe.judged[0]
    interval = (
        f" [{figure_text(shown.what, shown.low)}, {figure_text(shown.what, shown.high)}]"
        if shown.low is not None
        else ""
    )
    more = f", and {len(failing) - 1} more rows" if len(failing) > 1 else ""
    return (
        f"  {probe.value}: {word} with {probe.replications} replication(s); {shown.row} "
        f"{shown.what} {figure_text(shown.what, shown.estimate)}{interval}, required "
        f"{figure_text(shown.what, shown.required)}{more}"
    )


def capacity_command(
    plan: Plan,
    start: str,
    stop: str,
    out: Path,
    printer: Printer,
    executor: Executor,
    replications: int | None,
    max_replications: int,
    report: bool = False,
) -> int:
    """``factory5g capacity``: probe, bracket and bisect as ``plan`` says (``start`` and
    ``stop`` as written); print each probe and the limit."""
    condition = plan.condition
    printer.note(
        f"[bold]capacity[/bold] of {plan.source}: {plan.path} from {start} to {stop} until "
        f"{condition.text} (rows {condition.rows}), on {executor.describe()}"
    )
    store = Store(out / "store")
    start_time = time.perf_counter()
    with task_progress(printer, "capacity") as advance:
        runner = Runner(executor, store, advance)

        def heard(probe: Probe) -> None:
            printer.note(_probe_line(probe))

        found = search_plan(plan, runner, replications, max_replications, on_probe=heard)
    wall = time.perf_counter() - start_time
    written = found.write(out)
    if report:
        from sim.html_report import write_report

        written.append(write_report(out))
    if printer.format == "json":
        printer.text(json_text(found.to_dict()))
    elif printer.format == "csv":
        rows = [
            {"value": p.value, "verdict": p.verdict, "replications": p.replications}
            for p in found.probes
        ]
        printer.text(csv_text(rows, ["value", "verdict", "replications"]))
    else:
        printer.text(found.sentence() + "\n")
    printer.note(
        f"wrote {', '.join(str(p) for p in written)}\n"
        f"{len(found.probes)} probes; computed {_tasks(runner.computed)} in {wall:.2f} s wall"
        + (f", found {runner.reused} in {store.folder}" if runner.reused else "")
    )
    return 0


__all__ = ["capacity_command", "print_sweep", "sweep_command", "sweep_table"]
