"""Sweeps and the results store: values and ranges as written, points validated before anything
runs, a sweep's rows equal to separate runs of its points byte for byte, the same bytes on a Dask
LocalCluster as in this process, and a sweep stopped half-way computing only what is missing."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import factory5g, plant, scenario_file

from sim.results import CSV_COLUMNS
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.sweeps import SweepValueError, points, values_of
from sim.studies.executor import DaskExecutor, InProcess
from sim.studies.runner import Job, Runner
from sim.studies.store import Store, decode, encode, task_key
from sim.studies.sweep import plan

# ------------------------------------------------------------------------------------ values


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("4..64x2", [4, 8, 16, 32, 64]),
        ("10..100+10", [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
        ("3..10x2", [3, 6]),  # the last value is not above the end
        ("0.1..0.5+0.1", [0.1, 0.2, 0.3, 0.4, 0.5]),  # decimal steps, no 0.30000000000000004
        ("0.5ms..2ms+0.5ms", ["0.5ms", "1ms", "1.5ms", "2ms"]),
        ("10Mbps..40Mbps x2", ["10Mbps", "20Mbps", "40Mbps"]),
        ("DDDSU,DSUUU", ["DDDSU", "DSUUU"]),
        ("1, 2..4+1, 10", [1, 2, 3, 4, 10]),
        ("[true, false]", [True, False]),
        ("4", [4]),
        (["1ms", "2..4x2"], ["1ms", 2, 4]),
    ],
)
def test_values_as_written(written: object, expected: list[object]) -> None:
    """Lists, ranges (x multiplies, + adds, ends with units) and single values, each value typed as
    the same text in a scenario file would be."""
    values = values_of(written)
    assert values == expected
    assert [type(v) for v in values] == [type(v) for v in expected]


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("64..4x2", "goes up"),
        ("1..8x1", "above 1"),
        ("0..8x2", "start above 0"),
        ("1..5+0", "above 0"),
        ("1ms..5s+1ms", "same unit"),
        ("1..3x2ms", "plain number"),
        ("1,,2", "empty value"),
        ("1..100000+1", "more than"),
    ],
)
def test_unreadable_values_say_why(written: str, said: str) -> None:
    with pytest.raises(SweepValueError, match=said):
        values_of(written)


def test_grid_varies_the_first_field_slowest_and_zip_pairs() -> None:
    fields = {"a": [1, 2], "b": ["x", "y", "z"]}
    assert [tuple(p.values()) for p in points(fields)] == [
        (1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z"),
    ]  # fmt: skip
    assert [tuple(p.values()) for p in points({"a": [1, 2], "b": [3, 4]}, True)] == [(1, 3), (2, 4)]
    with pytest.raises(SweepValueError, match="a has 2, b has 3"):
        points(fields, zipped=True)


# ----------------------------------------------------------------------------- the scenario


def _base(folder: Path, **top: object) -> Path:
    """Two machine classes on a shared 10 Mbit/s parametric link, QoS 1 for one, a deadline."""
    data = plant(
        network={"kind": "parametric", "latency": {"uniform": ["1ms", "3ms"]}, "rate": "10Mbps"},
        streams={
            "s": {
                "topic": "m/{id}/s",
                "every": "20ms",
                "payload": {"uniform": ["100B", "400B"]},
                "qos": 1,
                "requirement": {"deadline": "4ms", "reliability": "99%"},
            }
        },
        count=2,
        machines={
            "p": {
                "count": 1,
                "network": "net",
                "broker": "b",
                "streams": {"q": {"topic": "p/q", "poisson": "30/s", "payload": "1kB"}},
            }
        },
        **{"duration": "3s", "warmup": "0.5s", "replications": 2, **top},
    )
    path = scenario_file(folder, "base", data)
    return path


VARY = ["--vary", "machines.m.count=1,3", "--vary", "networks.net.rate=5Mbps,20Mbps"]


def test_every_point_is_validated_before_anything_runs(tmp_path: Path) -> None:
    """A bad value at one point, and a path that names nothing, are refused up front, each problem
    naming the file, the field and the point, and nothing is written."""
    base = _base(tmp_path)
    out = tmp_path / "out"
    result = factory5g(
        "sweep", base, "--vary", "machines.m.count=2,0,-1", "--vary", "machines.mm.count=1",
        "--out", out,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert any("machines.mm.count" in line and "did you mean 'm'" in line for line in lines), lines
    assert "Traceback" not in result.stderr
    with pytest.raises(ScenarioError) as error:
        plan(base, {"machines.m.count": "2,0,-1"})
    said = [str(p) for p in error.value.problems]
    assert len(said) == 2, said
    assert all(f"{base}: machines.m.count: " in line for line in said)
    assert "(swept: machines.m.count=0)" in said[0] and "machines.m.count=-1" in said[1]
    assert not (out / "store").exists() and not (out / "sweep.csv").exists()


def test_a_sweep_block_in_a_study_file(tmp_path: Path) -> None:
    """``sweep:`` next to ``extends:`` gives the fields; run ignores it, validate checks it."""
    _base(tmp_path)
    study = tmp_path / "study.yaml"
    study.write_text(
        "extends: base.yaml\nsweep:\n  vary:\n    machines.m.count: 1..4x2\n"
        "    networks.net.rate: [5Mbps, 10Mbps, 20Mbps]\n  zip: true\n",
        encoding="utf-8",
    )
    sweep = plan(study)
    assert sweep.zipped and [p.values for p in sweep.points] == [
        {"machines.m.count": 1, "networks.net.rate": "5Mbps"},
        {"machines.m.count": 2, "networks.net.rate": "10Mbps"},
        {"machines.m.count": 4, "networks.net.rate": "20Mbps"},
    ]
    assert [p.scenario.networks["net"].rate for p in sweep.points] == [5e6, 10e6, 20e6]
    assert all(p.scenario.sweep is None for p in sweep.points)
    ok = factory5g("validate", study)
    assert ok.returncode == 0 and "a sweep of 3 points" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: base.yaml\nsweep:\n  vary:\n    machines.m.count: 8..2x2\n")
    result = factory5g("validate", bad)
    assert result.returncode == 2
    assert "sweep.vary" in result.stderr and "goes up" in result.stderr
    unequal = tmp_path / "unequal.yaml"
    unequal.write_text(
        "extends: base.yaml\nsweep:\n  vary:\n    machines.m.count: [1, 2]\n"
        "    networks.net.rate: [5Mbps]\n  zip: true\n"
    )
    result = factory5g("validate", unequal)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "zipped fields need as many values each" in result.stderr


def test_sweep_rows_equal_separate_runs_byte_for_byte(tmp_path: Path) -> None:
    """Each point of a 2 x 2 grid writes the same summary.json and streams.csv as ``run`` of a
    file that extends the base and sets the point's values; the tidy table's rows are those
    rows with the swept values in front."""
    base = _base(tmp_path)
    out = tmp_path / "sweep"
    result = factory5g("sweep", base, *VARY, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    index = json.loads((out / "sweep.json").read_text())
    assert len(index["points"]) == 4
    with (out / "sweep.csv").open(newline="") as file:
        reader = csv.DictReader(file)
        assert reader.fieldnames[:3] == ["machines.m.count", "networks.net.rate", "point"]
        table = list(reader)
    for entry in index["points"]:
        count, rate = entry["values"]["machines.m.count"], entry["values"]["networks.net.rate"]
        point = tmp_path / f"point-{entry['point']}.yaml"
        point.write_text(
            f"extends: base.yaml\nmachines:\n  m:\n    count: {count}\n"
            f"networks:\n  net:\n    rate: {rate}\n",
            encoding="utf-8",
        )
        alone = tmp_path / f"run-{entry['point']}"
        ran = factory5g("run", point, "--out", alone, "--quiet")
        assert ran.returncode == 0, ran.stderr
        for name in ("summary.json", "streams.csv"):
            assert (out / entry["folder"] / name).read_bytes() == (alone / name).read_bytes()
        with (alone / "streams.csv").open(newline="") as file:
            rows = list(csv.DictReader(file))
        mine = [r for r in table if r["point"] == str(entry["point"])]
        assert [(r["machines.m.count"], r["networks.net.rate"]) for r in mine] == [
            (str(count), rate)
        ] * len(rows)
        assert [{k: r[k] for k in CSV_COLUMNS} for r in mine] == rows


def test_store_keys_follow_what_decides_a_replication(tmp_path: Path) -> None:
    """The key ignores the name, the description and the number of replications, and changes
    with the replication, the seed and any field."""
    scenario = load_scenario(_base(tmp_path))
    key = task_key(scenario, 0)
    same = scenario.model_copy(update={"name": "other", "description": "x", "replications": 9})
    assert task_key(same, 0) == key
    assert task_key(scenario, 1) != key
    assert task_key(scenario.model_copy(update={"seed": 2}), 0) != key
    other = load_scenario(tmp_path / "base.yaml", point={"networks.net.rate": "11Mbps"})
    assert task_key(other, 0) != key


def test_a_stored_replication_reads_back_exactly(tmp_path: Path) -> None:
    from sim.engine import replicate

    scenario = load_scenario(_base(tmp_path))
    records, traffic = replicate(scenario, 0)
    back, back_traffic = decode(encode(records, traffic))
    assert back_traffic == traffic
    for a, b in zip(records, back, strict=True):
        for name, value in vars(a).items():
            other = getattr(b, name)
            if isinstance(value, np.ndarray):
                assert other.dtype == value.dtype and np.array_equal(other, value)
            else:
                assert other == value and type(other) is type(value)
    store = Store(tmp_path / "store")
    store.put("ab" * 32, encode(records, traffic))
    store.path("cd" * 32).parent.mkdir(parents=True)
    store.path("cd" * 32).write_bytes(b"PK\x03\x04 cut short")
    assert "ab" * 32 in store and "cd" * 32 not in store


# ------------------------------------------------------------------------------------- Dask


def test_a_local_cluster_gives_the_same_bytes(tmp_path: Path) -> None:
    """The same sweep in this process and on a 2-process LocalCluster writes identical files,
    and ``run --workers 2`` the same summary as ``run``."""
    base = _base(tmp_path)
    here, there = tmp_path / "here", tmp_path / "there"
    assert factory5g("sweep", base, *VARY, "--out", here, "--quiet").returncode == 0
    result = factory5g("sweep", base, *VARY, "--out", there, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "2 workers on a local Dask cluster" in " ".join(result.stderr.split())
    for name in ["sweep.csv", "sweep.json", "sweep.parquet"] + [
        f"points/point-00{i}/summary.json" for i in range(4)
    ]:
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    one, two = tmp_path / "one", tmp_path / "two"
    assert factory5g("run", base, "--out", one, "--quiet").returncode == 0
    assert factory5g("run", base, "--out", two, "--quiet", "--workers", "2").returncode == 0
    assert (one / "summary.json").read_bytes() == (two / "summary.json").read_bytes()


def test_runner_on_a_cluster_merges_in_replication_order(tmp_path: Path) -> None:
    """Results through a real LocalCluster equal those computed here, task by task."""
    scenario = load_scenario(_base(tmp_path)).model_copy(update={"replications": 4})
    here = Runner(InProcess()).run([Job(scenario, "here")])[0]
    cluster = DaskExecutor(workers=2)
    try:
        runner = Runner(cluster)
        there = runner.run([Job(scenario, "there")])[0]
    finally:
        cluster.close()
    assert runner.computed == 4
    assert there.to_dict() == here.to_dict()


# ------------------------------------------------------------------------------- resuming


def test_a_sweep_stopped_half_way_computes_only_what_is_missing(tmp_path: Path) -> None:
    """Ctrl-C after some tasks: exit status 130 and a message saying what was kept; the same
    sweep again runs only the missing tasks (counted) and writes what an unbroken sweep does."""
    base = _base(tmp_path, duration="8s")
    out = tmp_path / "broken"
    vary = ["--vary", "machines.m.count=1..6+1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "sweep", str(base), *vary, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while len(Store(out / "store")) < 3 and time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    kept = len(Store(out / "store"))
    total = 6 * 2
    assert process.returncode == 130, stderr
    assert 3 <= kept < total, (kept, stderr)
    said = " ".join(stderr.split())
    assert f"interrupted after {kept} of {total} tasks" in said
    assert f"computes only the other {total - kept}" in said

    sweep = plan(base, {"machines.m.count": "1..6+1"})
    runner = Runner(InProcess(), Store(out / "store"))
    sweep.run(runner)
    assert (runner.computed, runner.reused) == (total - kept, kept)
    sweep.write(out)
    whole = tmp_path / "whole"
    assert factory5g("sweep", base, *vary, "--out", whole, "--quiet").returncode == 0
    assert (out / "sweep.csv").read_bytes() == (whole / "sweep.csv").read_bytes()
    again = factory5g("sweep", base, *vary, "--out", whole)
    assert "computed 0 tasks" in again.stderr and f"found {total}" in again.stderr


def test_an_existing_scheduler_takes_the_tasks(tmp_path: Path) -> None:
    """``--scheduler`` submits to a cluster that is already running (here a LocalCluster started
    by the test, reached by its TCP address like any other): the same bytes as in this process."""
    from distributed import LocalCluster

    base = _base(tmp_path)
    here, there = tmp_path / "here", tmp_path / "there"
    assert factory5g("run", base, "--out", here, "--quiet").returncode == 0
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        result = factory5g("run", base, "--scheduler", address, "--out", there)
    assert result.returncode == 0, result.stderr
    assert f"the Dask cluster at {address}" in " ".join(result.stderr.split())
    assert (here / "summary.json").read_bytes() == (there / "summary.json").read_bytes()


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    base = _base(tmp_path)
    result = factory5g("run", base, "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "o")
    assert result.returncode == 2
    assert result.stderr.startswith("--scheduler: cannot reach the Dask scheduler at tcp://")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_the_python_api_gives_the_long_table(tmp_path: Path) -> None:
    """``sim.sweep`` returns one row per point x row, the swept fields first; with ``out`` it
    writes the files, and ``sim.load_sweep`` reads the same table back."""
    import sim

    base = _base(tmp_path)
    out = tmp_path / "api"
    frame = sim.sweep(
        base, vary={"machines.m.count": [1, 2], "networks.net.rate": "5Mbps"}, out=out
    )
    assert list(frame.columns[:3]) == ["machines.m.count", "networks.net.rate", "point"]
    assert len(frame) == 2 * 2  # two points x (m/s/sink, p/q/sink)
    assert frame.groupby("point").size().tolist() == [2, 2]
    assert set(frame["networks.net.rate"]) == {"5Mbps"}
    back = sim.load_sweep(out)
    assert back[["point", "machine", "latency_p99_s"]].equals(
        frame[["point", "machine", "latency_p99_s"]]
    )
    assert (out / "store").is_dir() and len(Store(out / "store")) == 2 * 2  # points x replications


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--vary", "machines.m.count"], "write PATH=VALUES"),
        ([], "nothing to sweep: give --vary PATH=VALUES or write a sweep: block"),
        (["--vary", "machines.m.count=1,2", "--vary", "networks.net.rate=5Mbps", "--zip"],
         "zipped fields need as many values each (machines.m.count has 2, networks.net.rate has 1)"),
        (["--vary", "machines.m.count=5..1+1"], "machines.m.count: '5..1+1': a range goes up"),
        (["--vary", "networks.net.rate=fast"], "networks.net.rate"),
    ],
)  # fmt: skip
def test_bad_sweep_options_say_what_is_allowed(
    tmp_path: Path, options: list[str], said: str
) -> None:
    """One line per problem naming the option or field, exit status 2, nothing written."""
    base = _base(tmp_path)
    out = tmp_path / "out"
    result = factory5g("sweep", base, *options, "--out", out)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert not (out / "sweep.csv").exists() and not (out / "store").exists()
