"""Where results go: the output folder (``--out``), paths inside it, and files that are always valid.

Every file a command writes lies inside its output folder: a scenario's results go to a sub-folder
named after it (:func:`inside`), and scenario names are identifiers (no ``/``, no ``..``), checked
again here so that no name, however it was made, leads out. JSON is strict: a figure that is not a
finite number (an infinite mean, say) is written as ``null`` and listed under ``non_finite`` with
what it was, since ``Infinity`` and ``NaN`` are not JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

# How a command prints its result (``--format``): a table, the rows as JSON or CSV, or markdown.
Format = Literal["table", "json", "csv", "markdown"]
FORMATS: tuple[str, ...] = get_args(Format)


class OutputError(Exception):
    """The output folder cannot be used; the message names it and says why."""


def prepare(out: Path) -> Path:
    """``out`` made ready to write into (created if missing), before anything runs."""
    if "\x00" in str(out):
        raise OutputError("--out: the folder name contains a NUL byte")
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out: {out} is a file, not a folder; name a folder for the results")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"--out: cannot make the folder {out}: {error.strerror or error}"
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"--out: cannot write into {out}: permission denied")
    return out


def inside(out: Path, name: str) -> Path:
    """The sub-folder of ``out`` for ``name``; an OutputError if ``name`` would lead elsewhere."""
    candidate = out / name
    # '', '.', '..', 'a/b' and '/abs' all resolve elsewhere than to a child of ``out``; a NUL
    # cannot be resolved, and a backslash separates folders on Windows
    if "\x00" in name or "\\" in name or candidate.resolve().parent != out.resolve():
        raise OutputError(f"the name {name!r} cannot name a folder inside {out}")
    return candidate


def finite(data: Any) -> tuple[Any, dict[str, str]]:
    """``data`` with every non-finite float replaced by None, and what each one was, by its path
    (``streams.3.latency_s.max``)."""
    found: dict[str, str] = {}

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            found[path] = repr(value)  # 'inf', '-inf' or 'nan'
            return None
        if isinstance(value, dict):
            return {
                key: walk(item, f"{path}.{key}" if path else str(key))
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [walk(item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(value)]
        return value

    return walk(data, ""), found


def json_text(data: Any) -> str:
    """``data`` as strict JSON (indented, a newline at the end); a mapping whose figures were not
    all finite says which under ``non_finite``."""
    clean, found = finite(data)
    if found and isinstance(clean, dict):
        clean = {**clean, "non_finite": found}
    return json.dumps(clean, indent=2, allow_nan=False) + "\n"


def csv_text(records: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """``records`` as CSV (a header of ``columns``, by default the first record's keys), a figure
    that is not finite as an empty cell."""
    buffer = io.StringIO()
    fields = list(columns) if columns is not None else list(records[0]) if records else []
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(finite(list(records))[0])
    return buffer.getvalue()


__all__ = [
    "FORMATS",
    "Format",
    "OutputError",
    "csv_text",
    "finite",
    "inside",
    "json_text",
    "prepare",
]
