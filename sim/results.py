"""Results of a run: one :class:`StreamResult` per (machine class, stream, subscriber), and files.

``summary.json`` carries the scenario's identity and a list ``streams``, one object per row; the
per-stream CSV has the same rows flattened. Both are written with a fixed key order and no wall-clock
times, so the same scenario and seed write the same bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.metrics.figures import COLUMNS, record
from sim.outputs import csv_text, json_text

CSV_COLUMNS = COLUMNS  # the figures of sim.metrics.figures, in their order


@dataclass
class StreamResult:
    """The figures of one (machine class, stream, subscriber) row, pooled over replications."""

    machine: str
    stream: str
    subscriber: str
    published: int
    delivered: int
    dropped: int
    in_flight: int
    loss_ratio: float | None
    latency_s: dict[str, float] | None
    throughput_msg_s: float
    throughput_bit_s: float
    deadline_s: float | None
    deadline_miss_ratio: float | None
    survival_time_s: float | None
    availability: float | None
    ci95: dict[str, list[float] | None]
    replications: int
    completion_s: dict[str, float] | None = None
    resumed: int = 0
    duplicates: int = 0
    retained: int = 0
    refused: int = 0  # copies a broker's defences refused (ACL, rate or size limit)
    forged: int = 0  # copies of a rogue publisher's imitation of this stream this subscriber got
    requirement: dict[str, Any] | None = None  # the targets the row is judged against
    verdicts: list[dict[str, Any]] = field(default_factory=list)  # one per target
    verdict: str | None = None  # pass, fail, inconclusive; None without targets
    # each replication's latency statistics (seconds), for intervals of changes between scenarios
    per_replication: dict[str, list[float]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.machine, self.stream, self.subscriber)

    @property
    def name(self) -> str:
        """``machine/stream/subscriber``, as ``--rows`` globs match it."""
        return f"{self.machine}/{self.stream}/{self.subscriber}"

    def matches(self, rows: str) -> bool:
        """Whether the glob ``rows`` (``robot/*/scada``, ``*``) takes this row."""
        import fnmatch

        return fnmatch.fnmatchcase(self.name, rows)

    def latency(self, statistic: str) -> float | None:
        """A latency statistic (``mean``, ``p50``, ``p95``, ``p99``, ``p999``, ``max``) or None."""
        return None if self.latency_s is None else self.latency_s[statistic]

    def completion(self, statistic: str) -> float | None:
        """A statistic of the publisher's QoS 1/2 completion latency, or None (QoS 0)."""
        return None if self.completion_s is None else self.completion_s[statistic]

    def csv_row(self) -> dict[str, Any]:
        """The row's figures by column (a line of ``streams.csv``), raw values in SI units."""
        return record(self)


@dataclass
class Results:
    """Everything a run produced. ``samples`` holds the pooled latencies per row where the run
    kept them exactly (all of them with ``--samples``), ``histograms`` their histogram, for plots."""

    scenario: str
    description: str
    seed: int
    replications: int
    duration_s: float
    warmup_s: float
    streams: list[StreamResult]
    samples: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict, repr=False)
    # per row, the pooled latency histogram (sim.metrics.histogram), whatever the run's length
    histograms: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)
    # per row, each delivered copy: replication, publish and delivery time, latency (seconds)
    messages: dict[tuple[str, str, str], dict[str, np.ndarray]] = field(
        default_factory=dict, repr=False
    )
    # per network and direction: MQTT packets and bits per second (see sim.metrics.summary)
    networks: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # about the run itself (sim.metrics.warmup)
    engine: dict[str, str] = field(default_factory=dict)  # which engine ran, and why

    def stream(self, machine: str, stream: str, subscriber: str) -> StreamResult:
        """The row of one (machine class, stream, subscriber)."""
        for row in self.streams:
            if row.key == (machine, stream, subscriber):
                return row
        raise KeyError(f"no row {machine}/{stream}/{subscriber} in {self.scenario}")

    def to_dict(self) -> dict[str, Any]:
        """The content of ``summary.json``."""
        return {
            "scenario": self.scenario,
            "description": self.description,
            "seed": self.seed,
            "replications": self.replications,
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "window_s": self.duration_s - self.warmup_s,
            "streams": [asdict(row) for row in self.streams],
            "networks": self.networks,
            "warnings": self.warnings,
            "engine": self.engine,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Results:
        """Results from the content of a ``summary.json`` (:meth:`to_dict`'s inverse; the pooled
        samples are not in the file)."""
        return cls(
            scenario=data["scenario"],
            description=data["description"],
            seed=data["seed"],
            replications=data["replications"],
            duration_s=data["duration_s"],
            warmup_s=data["warmup_s"],
            streams=[StreamResult(**row) for row in data["streams"]],
            networks=data.get("networks", {}),
            warnings=data.get("warnings", []),
            engine=data.get("engine", {}),
        )

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (the CSV's columns)."""
        import pandas as pd

        return pd.DataFrame([row.csv_row() for row in self.streams], columns=CSV_COLUMNS)

    def network_records(self) -> list[dict[str, Any]]:
        """One mapping per network and direction: MQTT PUBLISH and control packets per second,
        MQTT bit/s, and for a radio the share of its resources used."""
        return [
            {
                "scenario": self.scenario,
                "network": name,
                "direction": way,
                "publish_per_s": figures.get("publish_per_s"),
                "control_per_s": figures.get("control_per_s"),
                "mqtt_bit_s": figures.get("mqtt_bit_s"),
                "radio_utilisation": figures.get("radio_utilisation"),
            }
            for name, ways in sorted(self.networks.items())
            for way, figures in ways.items()
            if way != "link"
        ]

    def networks_dataframe(self) -> Any:
        """:meth:`network_records` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.network_records())

    def write_samples(self, path: Path) -> Path:
        """Every delivered copy in the measurement windows as a Parquet table (one line each:
        machine, stream, subscriber, replication, published_s, delivered_s, latency_s), from which
        the reported percentiles are recomputed exactly."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        keys = sorted(self.messages)
        sizes = [self.messages[key]["latency_s"].size for key in keys]

        def names(index: int) -> pa.Array:
            values = np.repeat(np.asarray([key[index] for key in keys], dtype=object), sizes)
            return pa.array(values, type=pa.string()).dictionary_encode()

        def column(name: str) -> np.ndarray:
            parts = [self.messages[key][name] for key in keys]
            return np.concatenate(parts) if parts else np.empty(0)

        table = pa.table(
            {
                "machine": names(0),
                "stream": names(1),
                "subscriber": names(2),
                "replication": pa.array(column("replication").astype(np.int32)),
                "published_s": pa.array(column("published_s").astype(float)),
                "delivered_s": pa.array(column("delivered_s").astype(float)),
                "latency_s": pa.array(column("latency_s").astype(float)),
            }
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        return path

    def write(self, out: Path) -> list[Path]:
        """Write ``summary.json`` and ``streams.csv`` into ``out``; the paths written."""
        out.mkdir(parents=True, exist_ok=True)
        summary = out / "summary.json"
        summary.write_text(json_text(self.to_dict()), encoding="utf-8")
        table = out / "streams.csv"
        rows = [row.csv_row() for row in self.streams]
        table.write_text(csv_text(rows, CSV_COLUMNS), encoding="utf-8", newline="")
        return [summary, table]


def write_scenario(scenario: Any, folder: Path) -> Path:
    """The resolved scenario (every default filled in) as ``scenario.json`` in ``folder``, beside
    its results, for the report and for diffs between runs."""
    path = folder / "scenario.json"
    path.write_text(json_text(scenario.model_dump(mode="json", by_alias=True)), encoding="utf-8")
    return path


def read_written(path: str | Path, name: str, command: str) -> dict[str, Any]:
    """The JSON file ``name`` that ``factory5g command --out`` wrote, in the folder ``path`` (or
    ``path`` itself)."""
    import json

    file = Path(path)
    if file.is_dir():
        file = file / name
    if not file.is_file():
        raise FileNotFoundError(
            f"{file}: no {name} here (write one with factory5g {command} --out)"
        )
    data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return data


def load_results(path: str | Path) -> Results:
    """What ``factory5g run`` wrote: ``summary.json`` in the folder ``path`` (or that file)."""
    return Results.from_dict(read_written(path, "summary.json", "run"))
