"""Mutated scenarios never crash, hang or escape (property-based, hypothesis).

Each example takes a shipped or contract scenario and mutates it as people and tools break files:
values replaced by other types, bad units, extreme or non-finite numbers and hostile strings; keys
misspelt, removed, duplicated; subtrees copied; numbers scaled by a thousand; and the YAML text
itself cut, spliced with aliases, tags, tabs and NUL bytes. Then:

- ``factory5g validate`` exits 0 or 2 (never an unexpected error: the command runs with
  ``--debug``, so an exception would surface with its traceback), printing one summary line or
  lines that start with the file's name;
- what validation accepts is run for a quarter of a simulated second past its warm-up, and either
  completes (exit 0, conservation checked by the engine) or is refused up front by the cost
  estimate (exit 2);
- nothing is written outside the run's output folder.

``FACTORY5G_FUZZ_EXAMPLES`` sets how many examples run (300 by default, as in CI);
``FACTORY5G_FUZZ_REPORT=FILE`` writes the outcome counts there.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import FIXTURES, SCENARIOS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.scenario.loader import load_scenario

EXAMPLES = int(os.environ.get("FACTORY5G_FUZZ_EXAMPLES", "300"))
SOURCES = [p for p in sorted(SCENARIOS.rglob("*.yaml")) if "extends" not in p.read_text()] + [
    FIXTURES / "mm1.yaml",
    FIXTURES / "line3-intranet.yaml",
]
UPGRADES = [p for p in sorted(SCENARIOS.rglob("*.yaml")) if "extends" in p.read_text()]
OUTCOMES: Counter[str] = Counter()

VALUES = [
    "10ms", "5 parsecs", "-1s", "1e99s", "1e999s", "0", "banana", "", "\x00", "../../x", "/etc",
    "100 mbps", "40%", "150%", "-5%", "2/s", "1ns", "1h", "100000h", "1e-99s", "+0.0ms", "DDDDD",
    "FDD", "yes", "{id}", "a/{id}/#", "plant/+", "\t", "x" * 300, "0x1f", "1:30",
    0, -1, 1, 2, 7, 255, 65536, 10**6, 10**12, 10**40, -(10**40), 0.5, -0.5, 1e-300, 1e300,
    float("inf"), float("-inf"), float("nan"), True, False, None, [], ["x"], {}, {"a": 1},
    {"uniform": ["1ms", "2ms"]}, {"lognormal": {"median": "1ms", "p99": "1h"}},
    {"exponential": "1GB"}, {"trace": "/dev/zero"}, {"trace": "missing.csv"},
    {"kind": "constant", "value": 1e308},
]  # fmt: skip
TEXT_SPLICES = [
    "&a [1, 2]\n", "*a", "!!python/name:os.system", "\t", "\x00", "{", "}", ":", "- ", "<<: *a\n",
    "? ", "%YAML 1.1\n", "---\n", "\ufeff", "\u2028", "'", '"', "#", "&b", "!!binary aGk=",
]  # fmt: skip


def paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in a tree of mappings and lists."""
    found = [prefix] if prefix else []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            found += paths(value, (*prefix, i))
    return found


def parent_of(tree: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        tree = tree[part]
    return tree


def mutate(tree: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """One to four structural mutations of ``tree`` (a copy)."""
    tree = copy.deepcopy(tree)
    for _ in range(data.draw(st.sampled_from([1, 1, 1, 2, 3, 4]), label="mutations")):
        where = paths(tree)
        if not where:
            break
        path = data.draw(st.sampled_from(where), label="path")
        parent, key = parent_of(tree, path), path[-1]
        op = data.draw(
            st.sampled_from(["replace", "rename", "delete", "copy", "scale"]), label="op"
        )
        if op == "replace":
            parent[key] = copy.deepcopy(data.draw(st.sampled_from(VALUES), label="value"))
        elif op == "rename" and isinstance(parent, dict):
            name = str(key)
            cut = data.draw(st.integers(0, max(len(name) - 1, 0)), label="cut")
            new = data.draw(
                st.sampled_from(
                    [
                        name[:cut] + name[cut + 1 :],
                        name + name[-1:],
                        name.upper(),
                        f"{name}/x",
                        "..",
                        "",
                    ]
                ),
                label="new key",
            )
            parent[new] = parent.pop(key)
        elif op == "delete":
            if isinstance(parent, dict):
                parent.pop(key)
            else:
                parent.pop(key)
        elif op == "copy" and isinstance(parent, dict):
            parent[f"{key}-copy"] = copy.deepcopy(parent[key])
        elif op == "scale":
            value = parent[key]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                parent[key] = value * data.draw(st.sampled_from([1000, 0.001, -1]), label="scale")
            elif isinstance(value, str) and value[:1].isdigit():
                parent[key] = data.draw(st.sampled_from(["1000", "0.001"])) + value.lstrip(
                    "0123456789."
                )
    return tree


def splice(text: str, data: st.DataObject) -> str:
    """The YAML text with a few pieces cut or spliced in."""
    for _ in range(data.draw(st.sampled_from([0, 0, 0, 0, 1, 2, 3]), label="splices")):
        at = data.draw(st.integers(0, len(text)), label="at")
        if data.draw(st.booleans(), label="cut"):
            text = text[:at] + text[at + data.draw(st.integers(1, 40), label="length") :]
        else:
            text = text[:at] + data.draw(st.sampled_from(TEXT_SPLICES), label="piece") + text[at:]
    return text


def quietly(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--debug", *argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    target = os.environ.get("FACTORY5G_FUZZ_REPORT")
    if target:
        Path(target).write_text(json.dumps(dict(OUTCOMES), indent=2) + "\n", encoding="utf-8")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(data=st.data())
def test_a_mutated_scenario_is_refused_or_runs(data: st.DataObject) -> None:
    extending = data.draw(st.booleans(), label="mutate an upgrade file")
    source = data.draw(st.sampled_from(UPGRADES if extending else SOURCES), label="source")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        work = root / "work"
        work.mkdir()
        for base in (SCENARIOS / "line3-intranet.yaml", SCENARIOS / "brownfield-plant.yaml",
                     SCENARIOS / "line3-5g.yaml"):  # fmt: skip
            (work / base.name).write_text(base.read_text(encoding="utf-8"), encoding="utf-8")
        tree = yaml.safe_load(source.read_text(encoding="utf-8"))
        text = yaml.safe_dump(mutate(tree, data), sort_keys=False, allow_unicode=True)
        path = work / "case.yaml"
        path.write_text(splice(text, data), encoding="utf-8")

        status, out, err = quietly(["validate", str(path)])
        assert status in (0, 2), err
        if status == 2:
            OUTCOMES["refused by validate"] += 1
            assert out == ""
            assert all(line.startswith(str(path)) for line in err.splitlines()), err
            return
        assert out.startswith(f"OK  {path}: ")
        scenario = load_scenario(path)
        duration = f"{scenario.warmup + 0.25!r}s"
        out_dir = root / "out"
        status, _, err = quietly(
            [
                "run",
                str(path),
                "--duration",
                duration,
                "--replications",
                "1",
                "--quiet",
                "--max-events",
                "2000000",
                "--out",
                str(out_dir),
            ]
        )
        assert status in (0, 2), err
        if status == 2:
            OUTCOMES["refused by the cost estimate"] += 1
            assert "would take" in err or "would need" in err, err
            assert not out_dir.exists()
        else:
            OUTCOMES["ran"] += 1
            assert (out_dir / "summary.json").is_file()
        written = {p.relative_to(root).parts[0] for p in root.rglob("*")}
        assert written <= {"work", "out"}
