"""The results store: each replication's result kept on disk under the hash of what determines it.

A study (a sweep, a capacity search) is many tasks, one replication of one resolved scenario each.
Each task's result is saved as soon as it is computed, under ``DIR/store/<2 hex>/<key>.npz``, where
the key is the SHA-256 of everything that decides the result and nothing else:

- the resolved scenario (every default filled in, :meth:`Scenario.model_dump`), without its name,
  description, number of replications and sweep block: replication ``r`` is the same run whatever
  the scenario is called and however many replications are asked for;
- the content of every trace file it reads (its SHA-256, not its path);
- the replication's number and the seed, from which every draw of the replication derives
  (:func:`sim.models.draws.component_rng`);
- the package version, since a model change changes results, and the layout of the stored file
  (``FORMAT``).

So re-running a study, one interrupted half-way, or one asking for more replications, computes
only what is missing (as ns-3's SEM ``run_missing_simulations``). A result is a NumPy ``.npz``
file (no pickles: reading one runs no code) holding the replication's per-row records
(:class:`sim.metrics.summary.ReplicationRow`) and its network traffic, exactly: merging stored
replications gives the same bytes as running them in one go. The latency histograms are stored by
their occupied buckets; each delivered copy a row kept exactly costs 16 bytes (its publish and
delivery times; the latency is their difference, recomputed on reading).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from sim import __version__
from sim.metrics.histogram import LatencyHistogram
from sim.metrics.summary import ReplicationRow
from sim.scenario.schema import Scenario

Traffic = dict[str, dict[str, Any]]
Replication = tuple[list[ReplicationRow], Traffic]

_HISTOGRAMS = tuple(f.name for f in fields(ReplicationRow) if f.type == "LatencyHistogram")
_ARRAYS = tuple(f.name for f in fields(ReplicationRow) if str(f.type).startswith("np.ndarray"))
_SCALARS = tuple(
    f.name for f in fields(ReplicationRow) if f.name not in _ARRAYS and f.name not in _HISTOGRAMS
)
# a delivered copy's latency is its delivery time minus its publish time, computed so in
# sim.metrics.summary.replication_row: recomputed on reading, it is the same float, not stored
_STORED = tuple(name for name in _ARRAYS if name != "latencies")
_NOT_DECIDING = {"name", "description", "replications", "sweep", "extends", "benchmark"}
# the layout of a stored result: 2 adds the latency histograms and the engine that ran it (a
# result stored in another layout is not found, so it is computed again)
FORMAT = 2


@cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _traces_by_content(data: Any) -> Any:
    """``data`` with every trace law's file replaced by the SHA-256 of its content."""
    if isinstance(data, list):
        return [_traces_by_content(item) for item in data]
    if not isinstance(data, dict):
        return data
    if data.get("kind") == "trace" and isinstance(data.get("file"), str):
        stat = os.stat(data["file"])
        return {
            **data,
            "file": "sha256:" + _file_digest(data["file"], stat.st_size, stat.st_mtime_ns),
        }
    return {key: _traces_by_content(value) for key, value in data.items()}


def task_key(scenario: Scenario, replication: int, samples: bool = False) -> str:
    """The content hash under which replication ``replication`` of ``scenario`` is stored;
    ``samples``: the result that kept every delivered copy (``--samples``), stored apart."""
    deciding = scenario.model_dump(mode="json", by_alias=True, exclude=_NOT_DECIDING)
    text = json.dumps(
        {
            "scenario": _traces_by_content(deciding),
            "replication": replication,
            "seed": scenario.seed,
            "version": __version__,
            "format": FORMAT,
            **({"samples": True} if samples else {}),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------------ encoding


def encode(records: list[ReplicationRow], traffic: Traffic) -> bytes:
    """One replication's result as the bytes of an ``.npz`` file."""
    arrays: dict[str, np.ndarray] = {}
    scalars = []
    for i, record in enumerate(records):
        row = {name: getattr(record, name) for name in _SCALARS}
        for name in _HISTOGRAMS:
            figures, index, counts = getattr(record, name).to_parts()
            row[name] = figures
            arrays[f"{i}.{name}.index"] = index
            arrays[f"{i}.{name}.counts"] = counts
        for name in _STORED:
            value = getattr(record, name)
            if value is not None:  # (None: beyond the row's sample limit)
                arrays[f"{i}.{name}"] = np.asarray(value)
        scalars.append(row)
    meta = json.dumps({"records": scalars, "traffic": traffic, "version": __version__})
    arrays["meta"] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def decode(data: bytes) -> Replication:
    """:func:`encode`'s inverse."""
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        meta = json.loads(stored["meta"].tobytes().decode("utf-8"))
        records = []
        held = set(stored.files)
        for i, scalars in enumerate(meta["records"]):
            arrays = {
                name: stored[f"{i}.{name}"] if f"{i}.{name}" in held else None for name in _STORED
            }
            for name in _HISTOGRAMS:
                arrays[name] = LatencyHistogram.from_parts(
                    scalars.pop(name), stored[f"{i}.{name}.index"], stored[f"{i}.{name}.counts"]
                )
            exact = arrays["published_at"] is not None and arrays["delivered_at"] is not None
            latencies = arrays["delivered_at"] - arrays["published_at"] if exact else None
            records.append(ReplicationRow(**scalars, **arrays, latencies=latencies))
    return records, meta["traffic"]


# --------------------------------------------------------------------------------------- store


class Store:
    """The results of tasks by key, in a folder (created when the first result is saved)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npz"

    def __contains__(self, key: str) -> bool:
        """Whether a whole result is stored under ``key``. Writes are atomic, so a file is cut
        short only by damage from outside; its zip directory, at the end, is then missing."""
        try:
            with zipfile.ZipFile(self.path(key)) as stored:
                return "meta.npy" in stored.namelist()
        except (OSError, zipfile.BadZipFile):
            return False

    def load(self, key: str) -> Replication:
        """The replication stored under ``key`` (one :func:`__contains__` said is there)."""
        return decode(self.path(key).read_bytes())

    def put(self, key: str, data: bytes) -> Path:
        """Save ``data`` under ``key``, atomically: a reader sees the whole file or none."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*/*.npz")) if self.folder.is_dir() else 0


__all__ = ["Store", "decode", "encode", "task_key"]
