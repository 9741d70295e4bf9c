"""The catalogue page of a benchmark suite (``docs/benchmarks.md``), generated from its files.

For each plant: its card (the published use case, the service area, the sources), a sketch of
what it holds (each machine class with its count, streams, transfer interval or rate, message
size and requirement; the subscribers), and its network options (each file's card sentence and
networks). Then the scorecard of the run that wrote it. The part before the scorecard depends
on the files only, so a test regenerates it and compares it with the page in docs/.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sim.scenario.schema import Nr5gNetwork, Scenario, Stream
from sim.scenario.units import format_time

if TYPE_CHECKING:
    from sim.studies.bench import Entry, Scorecard

SCORECARD_HEADING = "## Scorecard"


def _size(value: object) -> str:
    if isinstance(value, int | float):
        return f"{value:g} B" if value < 1000 else f"{value / 1000:g} kB"
    kind = getattr(value, "kind", "law")
    if kind == "constant":
        return _size(value.value)  # type: ignore[attr-defined]
    if kind == "uniform":
        return f"{_size(value.low)} to {_size(value.high)}"  # type: ignore[attr-defined]
    return f"{kind}, mean {_size(value.mean)}"  # type: ignore[attr-defined]


def _cadence(stream: Stream) -> str:
    if stream.every is not None:
        jitter = f" (jitter {format_time(stream.jitter)})" if stream.jitter else ""
        return f"every {format_time(stream.every)}{jitter}"
    return f"Poisson, {stream.poisson:g}/s"


def _share(value: float) -> str:
    return f"{value * 100:.10g} %"


# how the catalogue writes each field of a requirement
_TARGETS = (
    ("deadline", "deadline", format_time),
    ("reliability", "reliability", _share),
    ("survival time", "survival_time", format_time),
    ("availability", "availability", _share),
    ("loss at most", "max_loss", _share),
    ("at least", "min_throughput", lambda bits: f"{bits / 1e6:g} Mbit/s"),
)


def _requirement(scenario: Scenario, machine: str, name: str, stream: Stream) -> str:
    found = []
    for subscriber, sub in scenario.subscribers.items():
        req = sub.requirement_for(machine, name, stream.requirement)
        if req is None:
            continue
        parts = [
            f"{label} {text(value)}"
            for label, field, text in _TARGETS
            if (value := getattr(req, field)) is not None
        ]
        found.append(f"{subscriber}: {', '.join(parts) or 'none'}")
    return "; ".join(found) or "-"


def _network(scenario: Scenario, name: str) -> str:
    config = scenario.networks[name]
    kind = config.kind
    if isinstance(config, Nr5gNetwork):
        access = config.uplink_access.replace("_", "-")
        slices = f", slices {', '.join(config.slices)}" if config.slices else ""
        return f"{name} ({kind}, {config.profile}, {access}{slices})"
    rate = getattr(config, "rate", None) or getattr(config, "phy_rate", None)
    return f"{name} ({kind}{f', {rate / 1e6:g} Mbit/s' if rate else ''})"


def plant_sketch(entries: Sequence[Entry]) -> str:
    """One plant's section: its card, devices and streams, subscribers and options."""
    base = entries[0].scenario
    card = base.benchmark
    assert card is not None
    lines = [f"### {entries[0].plant}: {card.plant}", ""]
    lines.append(f"**Use case.** {card.use_case}")
    if card.service_area:
        lines += ["", f"**Service area.** {card.service_area}."]
    lines += ["", "**Devices and streams** (as in every option):", ""]
    lines += ["| machines | count | stream | cadence | message | QoS | requirement |"]
    lines += ["|---|---:|---|---|---|---:|---|"]
    for machine, config in base.machines.items():
        for name, stream in config.streams.items():
            lines.append(
                f"| {machine} | {config.count} | {name} | {_cadence(stream)} | "
                f"{_size(stream.payload)} | {stream.qos} | "
                f"{_requirement(base, machine, name, stream)} |"
            )
    subscribers = ", ".join(f"{name} (on {s.broker})" for name, s in base.subscribers.items())
    lines += ["", f"**Subscribers.** {subscribers}.", "", "**Network options:**", ""]
    for entry in entries:
        option = entry.scenario.benchmark.option if entry.scenario.benchmark else ""
        used = sorted({m.network for m in entry.scenario.machines.values()})
        networks = ", ".join(_network(entry.scenario, n) for n in used)
        lines.append(f"- `{entry.option}` ({entry.path.name}): {option}. Networks: {networks}.")
    lines += ["", "**Sources.**", ""]
    lines += [f"- {source}" for source in card.sources]
    return "\n".join(lines) + "\n"


def catalogue_markdown(entries: Sequence[Entry], card: Scorecard | None) -> str:
    """The whole page: every plant's section, then ``card`` (if given) as a table."""
    plants: dict[str, list[Entry]] = {}
    for entry in entries:
        plants.setdefault(entry.plant, []).append(entry)
    parts = [
        "# Benchmark networks: the reference plants",
        "",
        "Generated by `factory5g bench` from the files in `scenarios/benchmarks/` (one folder per "
        "plant, one file per network option); do not edit by hand. What the options, the "
        "scorecard and its figures mean: [studies.md](studies.md#benchmark-suite).",
        "",
        "## Plants",
        "",
    ]
    parts += [plant_sketch(group) for group in plants.values()]
    text = "\n".join(parts)
    if card is not None:
        from sim.bench_commands import matrix_markdown

        mode = "quick" if card.quick else "full"
        text += f"\n{SCORECARD_HEADING}\n\n"
        text += (
            f"The {mode} run of {card.suite}: {len(card.cells)} plant x option runs on "
            f"{card.workers} worker(s), {card.wall_s:.0f} s wall. Each cell: the verdict over the "
            "plant's targets (how many failed or are undecided), the worst p99 latency and "
            "availability of its judged rows, and the busiest network's utilisation.\n\n"
        )
        text += matrix_markdown(card)
    return text


__all__ = ["SCORECARD_HEADING", "catalogue_markdown", "plant_sketch"]
