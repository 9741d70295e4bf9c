"""``factory5g report DIR``: one self-contained HTML page an engineer can mail.

It reads what ``compare`` (``comparison.json``) or ``run`` (``summary.json``) wrote into ``DIR``
and shows what was simulated (scenarios, their configurations' differences, durations,
replications, seeds, the factory5g version), the verdict of every requirement target with its
estimate, 95 % interval and margin, the latency changes with their intervals, the latency CCDFs
(``latency.png``, embedded), the networks' traffic and radio utilisation, and the warnings. The
page has no external resources: images are inlined, styles embedded.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from sim.compare import Comparison, load_comparison, significance
from sim.metrics.figures import milliseconds
from sim.report import comparison_notes, network_cells, target_text, verdict_notes
from sim.results import Results, load_results
from sim.studies.capacity import figure_text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.name { text-align: left; }
.pass { color: #176e2c; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
.inconclusive { color: #8a6d00; font-weight: bold; } .note { color: #555; font-size: 0.9em; }
img { max-width: 100%; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="name">{cell}</td>' if i < left else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _verdicts(runs: list[Results]) -> str:
    rows = []
    for results in runs:
        for row in results.streams:
            for v in row.verdicts:
                ci = v["ci95"]
                interval = (
                    f"[{target_text(v['target'], ci[0])}, {target_text(v['target'], ci[1])}]"
                    if ci
                    else "-"
                )
                rows.append(
                    [
                        _e(results.scenario),
                        _e(f"{row.machine}/{row.stream} -> {row.subscriber}"),
                        _e(v["target"]),
                        _e(target_text(v["target"], v["required"])),
                        _e(target_text(v["target"], v["estimate"])),
                        _e(interval),
                        _verdict_cell(v["verdict"]),
                        _e(v["reason"] or ""),
                    ]
                )
    if not rows:
        return '<p class="note">No row has a requirement with targets.</p>'
    headers = ["scenario", "row", "target", "required", "estimate", "95 % interval", "verdict",
               "to decide"]  # fmt: skip
    return _table(headers, rows, left=3)


def _changes(comparison: Comparison) -> str:
    rows = []
    for key in comparison.keys:
        base = Comparison._find(comparison.baseline, key)
        for upgrade in comparison.upgrades:
            row = Comparison._find(upgrade, key)
            if base is None or row is None:
                continue
            noise = significance(base, row)
            cells = [_e(f"{key[0]}/{key[1]} -> {key[2]}"), _e(upgrade.scenario)]
            for statistic in ("p50", "p99"):
                before, after = base.latency(statistic), row.latency(statistic)
                found = noise[f"latency_{statistic}_s"]
                ci = found["ci95"]
                change = "-"
                if before and after is not None:
                    change = f"{(after - before) / before * 100:+.0f} %"
                    if ci:
                        change += f" [{ci[0] * 100:+.0f}, {ci[1] * 100:+.0f}]"
                    if found["significant"] is False:
                        change += " (within noise)"
                cells += [_e(milliseconds(before)), _e(milliseconds(after)), _e(change)]
            rows.append(cells)
    headers = ["row", "upgrade", "p50 before ms", "p50 after ms", "p50 change [95 %]",
               "p99 before ms", "p99 after ms", "p99 change [95 %]"]  # fmt: skip
    return _table(headers, rows, left=2)


def _networks(runs: list[Results]) -> str:
    rows = [[_e(cell) for cell in cells] for cells in network_cells(runs)]
    return _table(["scenario", "network", "way", "PUBLISH/s", "MQTT", "radio used"], rows, left=3)


TABLES = ("networks", "brokers", "bridges", "machines", "subscribers")


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def _differences(folder: Path, runs: list[Results]) -> str:
    """Where each upgrade's resolved configuration differs from the baseline's: a block one side
    lacks (a new network) once, with its kind and profile; every other field that differs."""
    configs = {}
    for results in runs:
        path = folder / results.scenario / "scenario.json"
        if path.is_file():
            configs[results.scenario] = json.loads(path.read_text(encoding="utf-8"))
    if len(runs) < 2 or runs[0].scenario not in configs:
        return ""
    base = configs[runs[0].scenario]
    rows = []
    for results in runs[1:]:
        other = configs.get(results.scenario)
        if other is None:
            continue
        for table in TABLES:
            mine, theirs = base.get(table) or {}, other.get(table) or {}
            for name in sorted(set(mine) ^ set(theirs)):
                block = theirs.get(name) or mine.get(name)
                what = ", ".join(
                    f"{k} {block[k]}"
                    for k in ("kind", "profile")
                    if isinstance(block, dict) and k in block
                )
                change = "added" if name in theirs else "removed"
                rows.append([_e(results.scenario), _e(f"{table}.{name}"), _e(change), _e(what)])
        flat_base, flat_other = _flatten(base), _flatten(other)
        for key in sorted(set(flat_base) | set(flat_other)):
            parts = key.split(".")
            if parts[0] in ("name", "description", "extends"):
                continue
            if parts[0] in TABLES and len(parts) > 1 and not _in_both(parts, base, other):
                continue  # the whole block is new or gone: said once above
            if flat_base.get(key) != flat_other.get(key):
                rows.append(
                    [
                        _e(results.scenario),
                        _e(key),
                        _e(_shown(flat_base.get(key))),
                        _e(_shown(flat_other.get(key))),
                    ]
                )
    if not rows:
        return ""
    return "<h3>What the upgrades change</h3>" + _table(
        ["upgrade", "field", "baseline", "upgrade"], rows, left=2
    )


def _in_both(parts: list[str], *configs: dict[str, Any]) -> bool:
    return all(parts[1] in (config.get(parts[0]) or {}) for config in configs)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def _page(title: str, parts: list[str]) -> str:
    """A whole self-contained page: title, version line, ``parts``."""
    from sim import __version__

    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>factory5g report: {_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>factory5g report: {_e(title)}</h1>",
        f'<p class="note">factory5g {_e(__version__)}; the same scenarios and seeds give the same '
        "numbers, byte for byte.</p>",
        *parts,
        "<script>document.body.dataset.rendered = 'yes';</script>",
        "</body></html>",
    ]
    return "\n".join(part for part in page if part) + "\n"


def _image(path: Path, alt: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _verdict_cell(verdict: str | None) -> str:
    if not verdict:
        return "-"
    return f'<span class="{_e(verdict)}">{_e(verdict)}</span>'


def _sweep_html(folder: Path) -> str:
    """A sweep's page: what was swept, each point's rows with their figures, the plot."""
    import csv

    index = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    fields = index["fields"]
    swept = _table(
        ["field", "values"],
        [[_e(name), _e(", ".join(map(str, values)))] for name, values in fields.items()],
    )
    with (folder / "sweep.csv").open(newline="", encoding="utf-8") as file:
        records = list(csv.DictReader(file))

    def ms(text: str) -> str:
        return milliseconds(float(text)) if text else "-"

    def share(text: str) -> str:
        return target_text("reliability", float(text)) if text else "-"

    rows = [
        [
            *(_e(r[name]) for name in fields),
            _e(f"{r['machine']}/{r['stream']} -> {r['subscriber']}"),
            ms(r["latency_p50_s"]),
            ms(r["latency_p99_s"]),
            share(r["deadline_miss_ratio"]),
            share(r["availability"]),
            _verdict_cell(r["verdict"]),
        ]
        for r in records
    ]
    table = _table(
        [*fields, "machine/stream -> subscriber", "p50 ms", "p99 ms", "deadline miss",
         "availability", "verdict"],
        rows,
        left=len(fields) + 1,
    )  # fmt: skip
    how = "zipped" if index["zip"] else "every combination"
    return _page(
        f"sweep of {index['sweep']}",
        [
            "<h2>What was swept</h2>",
            f"<p>{len(index['points'])} points ({how}); each point's results are in "
            "<code>points/</code>.</p>",
            swept,
            "<h2>Figures against the swept field</h2>",
            _image(folder / "sweep.png", "sweep plot"),
            "<h2>Every point and row</h2>",
            table,
        ],
    )


def _capacity_html(folder: Path) -> str:
    """A capacity search's page: the finding, every probe, the verdicts either side."""
    found = json.loads((folder / "capacity.json").read_text(encoding="utf-8"))
    rows = []
    for probe in found["probes"]:
        failing = [r for r in probe["rows"] if r["verdict"] != "pass"] or probe["rows"]
        first = failing[0] if failing else None
        what = first["what"] if first else ""
        low, high = first["ci95"] if first and first["ci95"] else (None, None)
        interval = (
            f"[{_e(figure_text(what, low))}, {_e(figure_text(what, high))}]"
            if low is not None
            else "-"
        )
        rows.append(
            [
                _e(probe["value"]),
                _verdict_cell(probe["verdict"]),
                _e(probe["replications"]),
                _e(probe["refused"] or (first["row"] + " " + first["what"] if first else "-")),
                _e(figure_text(what, first["estimate"]) if first else "-"),
                interval,
                _e(figure_text(what, first["required"]) if first else "-"),
            ]
        )
    probes = _table(
        ["value", "verdict", "replications", "deciding row", "estimate", "95 % interval",
         "required"],
        rows,
        left=1,
    )  # fmt: skip
    either = [
        load_results(folder / name)
        for name in ("largest-pass", "smallest-fail")
        if (folder / name / "summary.json").is_file()
    ]
    return _page(
        f"capacity of {found['capacity']}",
        [
            f"<p><strong>{_e(found['sentence'])}</strong></p>",
            f'<p class="note">grown: {_e(found["grow"])}; until {_e(found["until"])} (rows '
            f"{_e(found['rows'])}); step {_e(found['step'])}. Probes in the order run: doubling "
            "while the condition holds, then bisection; an inconclusive probe runs again with "
            "more replications.</p>",
            "<h2>Probes</h2>",
            probes,
            "<h2>Verdicts at the largest passing and the smallest failing value</h2>",
            _verdicts(either) if either else "",
        ],
    )


def _bench_html(folder: Path) -> str:
    """A benchmark suite's page: the scorecard matrix, every judged target, the tool's cost."""
    from sim.bench_commands import cell_lines, tool_lines
    from sim.studies.bench import Scorecard

    card = Scorecard.from_dict(json.loads((folder / "scorecard.json").read_text(encoding="utf-8")))
    matrix = []
    for plant, cells in card.grid():
        row = [_e(plant)]
        for c in cells:
            if c is None:
                row.append("")
                continue
            first, *rest = cell_lines(c)
            row.append(  # each line of a cell kept whole: "p99 6.33 ms" is one figure
                f'<span class="{_e(c.verdict)}">{_e(first).replace(" ", "&nbsp;")}</span><br>'
                + "<br>".join(_e(line).replace(" ", "&nbsp;") for line in rest)
            )
        matrix.append(row)
    targets = [
        [
            _e(c.plant),
            _e(c.option),
            _e(t["row"]),
            _e(t["target"]),
            _verdict_cell(t["verdict"]),
            _e(figure_text(t["target"], t["estimate"])),
            _e(figure_text(t["target"], t["required"])),
            _e(t["reason"] or ""),
        ]
        for c in card.cells
        for t in c.targets
    ]
    tool_headers, tool = tool_lines(card)
    mode = "quick" if card.quick else "full"
    return _page(
        f"benchmark suite {card.suite} ({mode})",
        [
            f'<p class="note">{len(card.cells)} plant x option runs on {card.workers} worker(s) '
            f"in {card.wall_s:.1f} s wall. Each cell: the verdict over the plant's targets "
            "(how many failed or are undecided), the worst p99 and availability of its judged "
            "rows, the busiest network's utilisation.</p>",
            "<h2>Scorecard</h2>",
            _table(["plant", *card.options], matrix, left=len(card.options) + 1),
            "<h2>Requirement targets</h2>",
            _table(
                ["plant", "option", "row", "target", "verdict", "estimate", "required", "note"],
                targets,
                left=4,
            ),
            "<h2>The tool: what each plant cost to simulate</h2>",
            _table(tool_headers, [[_e(cell) for cell in line] for line in tool], left=3),
        ],
    )


def report_html(folder: Path) -> str:
    """The report of the results in ``folder`` (a comparison, one run, a sweep, a capacity
    search or a benchmark suite's scorecard)."""
    if (folder / "scorecard.json").is_file():
        return _bench_html(folder)
    if (folder / "sweep.json").is_file():
        return _sweep_html(folder)
    if (folder / "capacity.json").is_file():
        return _capacity_html(folder)
    if (folder / "comparison.json").is_file():
        comparison: Comparison | None = load_comparison(folder)
        runs = [comparison.baseline, *comparison.upgrades]
        notes = comparison_notes(comparison)
    else:
        comparison = None
        runs = [load_results(folder)]
        notes = [*(f"warning: {w}" for w in runs[0].warnings), *verdict_notes(runs[0])]
    what = _table(
        ["scenario", "description", "simulated", "warm-up", "replications", "seed"],
        [
            [
                _e(r.scenario),
                _e(r.description),
                _e(f"{r.duration_s:g} s"),
                _e(f"{r.warmup_s:g} s"),
                _e(r.replications),
                _e(r.seed),
            ]
            for r in runs
        ],
        left=2,
    )
    plot = _image(folder / "latency.png", "latency CCDFs")
    plot = f"<h2>Latency tails</h2>{plot}" if plot else ""
    title = (
        f"{runs[0].scenario} against {', '.join(r.scenario for r in runs[1:])}"
        if comparison
        else runs[0].scenario
    )
    parts = [
        "<h2>What was simulated</h2>",
        what,
        _differences(folder, runs),
        "<h2>Requirements: verdicts</h2>",
        _verdicts(runs),
    ]
    if comparison:
        parts += ["<h2>Latency changes, with their 95 % intervals</h2>", _changes(comparison)]
    parts += [plot, "<h2>Networks</h2>", _networks(runs), "<h2>Notes and warnings</h2>", "<ul>"]
    parts += [f"<li>{_e(line)}</li>" for line in notes]
    parts.append("</ul>")
    return _page(title, parts)


def write_report(folder: Path, out: Path | None = None) -> Path:
    """Write the report of ``folder`` as ``out`` (default ``folder/report.html``)."""
    path = out or folder / "report.html"
    path.write_text(report_html(folder), encoding="utf-8")
    return path
