"""Results that last: what run and compare write is read back exactly (sim.load_results,
sim.load_comparison)."""

from __future__ import annotations

import pytest
import yaml
from helpers import factory5g, uniform_plant

import sim
from sim.outputs import json_text


def written(tmp_path, name: str, seed: int) -> str:
    data = uniform_plant("20ms", "30%", count=3, duration="4s", seed=seed)
    data["name"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def test_load_results_round_trips_summary_json_exactly(tmp_path) -> None:
    out = tmp_path / "out"
    assert factory5g("run", written(tmp_path, "a", 1), "--out", str(out)).returncode == 0
    text = (out / "summary.json").read_text(encoding="utf-8")
    results = sim.load_results(out)
    assert json_text(results.to_dict()) == text
    assert results.streams[0].verdict == "pass"
    assert results.to_dataframe().shape[0] == 1


def test_load_comparison_round_trips_comparison_json(tmp_path) -> None:
    out = tmp_path / "cmp"
    done = factory5g(
        "compare", written(tmp_path, "a", 1), written(tmp_path, "b", 2), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    text = (out / "comparison.json").read_text(encoding="utf-8")
    comparison = sim.load_comparison(out)
    assert json_text(comparison.to_dict()) == text
    assert [r["scenario"] for r in comparison.records()] == ["a", "b"]


def test_a_folder_without_results_says_so(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no summary\.json here"):
        sim.load_results(tmp_path)


def test_samples_parquet_reproduces_the_reported_percentiles_exactly(tmp_path) -> None:
    """--samples writes every delivered copy; the percentiles of its latency_s per row are the
    ones summary.json reports, to the last bit, and each latency is delivery minus publish."""
    import json

    import numpy as np
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    done = factory5g("run", written(tmp_path, "a", 1), "--out", str(out), "--samples")
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out / "samples.parquet").to_pandas()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for row in summary["streams"]:
        mine = table[
            (table.machine == row["machine"])
            & (table.stream == row["stream"])
            & (table.subscriber == row["subscriber"])
        ]
        latency = mine.latency_s.to_numpy()
        assert latency.size == row["delivered"]
        assert set(mine.replication) == {0, 1}
        np.testing.assert_array_equal(latency, (mine.delivered_s - mine.published_s).to_numpy())
        for name, q in (("p50", 50.0), ("p99", 99.0), ("p999", 99.9)):
            assert float(np.percentile(latency, q)) == row["latency_s"][name]
        assert float(latency.max()) == row["latency_s"]["max"]


def test_network_figures_are_a_dataframe_too(tmp_path) -> None:
    """Each network and direction one line, with what summary.json says of it."""
    import json

    out = tmp_path / "out"
    assert factory5g("run", written(tmp_path, "a", 1), "--out", str(out)).returncode == 0
    frame = sim.load_results(out).networks_dataframe()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert sorted(zip(frame.network, frame.direction, strict=True)) == sorted(
        (name, way) for name, ways in summary["networks"].items() for way in ways
    )
    up = frame[(frame.network == "net") & (frame.direction == "up")].iloc[0]
    assert up.mqtt_bit_s == summary["networks"]["net"]["up"]["mqtt_bit_s"]
