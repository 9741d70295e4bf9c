"""What ``run`` and ``compare`` print: tables that fit the terminal, and the same rows as JSON, CSV
and markdown for scripts and reports (sim.report, sim.metrics.figures).

The commands run as a user runs them, in a subprocess whose output is a pipe; ``COLUMNS`` sets the
width as a terminal would. Every printed figure is checked against the files the same run wrote.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FIXTURES

from sim.metrics.figures import COLUMNS, availability, milliseconds, share

LINE3 = FIXTURES / "line3-intranet.yaml"
UPGRADE = FIXTURES / "line3-5g-parametric.yaml"
SHORT = ("--duration", "3s", "--replications", "1")


def factory5g(*args: object, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "sim", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


@pytest.fixture(scope="module")
def line3_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One short run of line 3, its results folder and what --format csv printed."""
    out = tmp_path_factory.mktemp("line3")
    done = factory5g("run", LINE3, *SHORT, "--out", out, "--format", "csv")
    assert done.returncode == 0, done.stderr
    return out, done.stdout


# --------------------------------------------------------------------------------- tables


def test_an_80_column_table_fits_and_keeps_every_name_whole(tmp_path: Path) -> None:
    """COLUMNS=80 through a pipe: no line is wider than 80, the headers are whole words, each
    machine/stream and subscriber is on one line, and the rows are the run's rows."""
    done = factory5g("run", LINE3, *SHORT, "--out", tmp_path, columns=80)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    (head,) = [line for line in lines if "published" in line]
    for word in ("stream", "subscriber", "published", "dropped", "p50 ms", "p99 ms"):
        assert word in head
    summary = json.loads((tmp_path / "summary.json").read_text())
    body = [line.split() for line in lines if line.split() and "/" in line.split()[0]]
    assert [(cells[0], cells[1]) for cells in body] == [
        (f"{row['machine']}/{row['stream']}", row["subscriber"]) for row in summary["streams"]
    ]
    for cells, row in zip(body, summary["streams"], strict=True):
        assert cells[2] == str(row["published"])
        assert cells[5] == milliseconds(row["latency_s"]["p99"])


def test_a_wide_terminal_shows_every_column(tmp_path: Path) -> None:
    done = factory5g("run", LINE3, *SHORT, "--out", tmp_path, columns=250)
    assert done.returncode == 0, done.stderr
    for header in (
        "machine/stream",
        "delivered",
        "in flight",
        "max ms",
        "msg/s",
        "payload",
        "deadline miss",
    ):
        assert header in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 250


def test_wide_asks_for_every_column_in_a_narrow_pipe(tmp_path: Path) -> None:
    """--wide through a pipe without COLUMNS: every column, nothing folded (a file has no width)."""
    done = factory5g("run", LINE3, *SHORT, "--out", tmp_path, "--wide")
    assert done.returncode == 0, done.stderr
    assert "in flight" in done.stdout and "availability" in done.stdout
    assert "sensors/env" in done.stdout and "historian" in done.stdout


def test_a_compact_comparison_fits_80_columns(tmp_path: Path) -> None:
    done = factory5g("compare", LINE3, UPGRADE, *SHORT, "--out", tmp_path, columns=80)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.strip() == "robot/joints -> scada" for line in lines)
    rows = lines[: next(i for i, line in enumerate(lines) if line.strip() == "networks")]
    assert sum(line.strip().startswith("line3-5g-parametric") for line in rows) == 8


def test_notes_and_progress_go_to_stderr(tmp_path: Path) -> None:
    done = factory5g("run", LINE3, *SHORT, "--out", tmp_path, "--format", "json")
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)  # nothing else on stdout
    assert "wrote" in done.stderr


# -------------------------------------------------------------------------------- formats


def test_csv_prints_the_lines_of_streams_csv(line3_csv: tuple[Path, str]) -> None:
    out, printed = line3_csv
    assert printed == (out / "streams.csv").read_text(encoding="utf-8")
    assert next(csv.reader(io.StringIO(printed))) == COLUMNS


def test_json_prints_the_rows_with_their_raw_figures(line3_csv: tuple[Path, str]) -> None:
    """--format json: one object per row, the CSV's columns, numbers as numbers, null for none."""
    out, _ = line3_csv
    done = factory5g("run", LINE3, *SHORT, "--out", out, "--format", "json")
    rows = json.loads(done.stdout)
    summary = json.loads((out / "summary.json").read_text())
    assert [list(row) for row in rows] == [COLUMNS] * len(summary["streams"])
    for row, expected in zip(rows, summary["streams"], strict=True):
        assert row["published"] == expected["published"]
        assert row["latency_p99_s"] == expected["latency_s"]["p99"]
        assert row["deadline_miss_ratio"] == expected["deadline_miss_ratio"]
        assert row["availability"] == expected["availability"]
    assert any(row["availability"] is None for row in rows)


def test_markdown_prints_a_table_of_every_row(line3_csv: tuple[Path, str]) -> None:
    out, _ = line3_csv
    done = factory5g("run", LINE3, *SHORT, "--out", out, "--format", "markdown")
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    summary = json.loads((out / "summary.json").read_text())
    assert len(table) == 2 + len(summary["streams"])
    widths = {line.count(" | ") for line in table}
    assert len(widths) == 1  # every line has the same cells
    assert set(table[1].replace("|", "").split()) <= {"---", "---:"}


def test_compare_json_and_csv_give_one_line_per_row_and_scenario(tmp_path: Path) -> None:
    """Long form: the baseline's line and each upgrade's with its changes; the figures are those
    of each scenario's own summary.json."""
    done = factory5g("compare", LINE3, UPGRADE, *SHORT, "--out", tmp_path, "--format", "json")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    base = json.loads((tmp_path / "line3-intranet" / "summary.json").read_text())["streams"]
    upgrade = json.loads((tmp_path / "line3-5g-parametric" / "summary.json").read_text())["streams"]
    assert len(records) == len(base) + len(upgrade)
    for record in records:
        rows = base if record["baseline"] else upgrade
        (row,) = [
            r
            for r in rows
            if (r["machine"], r["stream"], r["subscriber"])
            == (record["machine"], record["stream"], record["subscriber"])
        ]
        assert record["latency_p99_s"] == row["latency_s"]["p99"]
        if record["baseline"]:
            assert record["change_latency_p99_s"] is None
        else:
            (before,) = [
                r
                for r in base
                if r["machine"] == row["machine"]
                and r["stream"] == row["stream"]
                and r["subscriber"] == row["subscriber"]
            ]
            change = row["latency_s"]["p99"] / before["latency_s"]["p99"] - 1
            assert math.isclose(record["change_latency_p99_s"], change, rel_tol=1e-12)
    again = factory5g("compare", LINE3, UPGRADE, *SHORT, "--out", tmp_path, "--format", "csv")
    lines = list(csv.DictReader(io.StringIO(again.stdout)))
    assert len(lines) == len(records)
    assert lines[0]["scenario"] == "line3-intranet"


# ---------------------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (1.0, "100%"),
        (0.564, "56.4%"),
        (0.0108, "1.08%"),
        (0.00021, "0.021%"),
        (0.9997, "99.97%"),
        (0.999999, "99.9999%"),
        (0.99999999, "99.999999%"),
        (None, "-"),
    ],
)
def test_percentages_show_their_nines_and_never_round_to_all_or_none(value, text) -> None:
    """TS 22.104 targets are written in nines: 99.9999 % must not print as 100 %."""
    assert share(value) == text
    assert availability(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.000904, "0.904"), (0.00105, "1.05"), (0.0222, "22.2"), (0.4567, "457"), (2.5, "2500")],
)
def test_latencies_in_milliseconds_with_three_or_four_digits(seconds: float, text: str) -> None:
    assert milliseconds(seconds) == text
