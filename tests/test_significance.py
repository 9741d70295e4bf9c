"""Changes with their uncertainty (sim.compare): Welch intervals of the change from the
replications, changes within noise marked, runs without intervals warned about."""

from __future__ import annotations

import math

import pytest
import yaml
from helpers import factory5g, plant

from sim.compare import Comparison, change_interval, significance
from sim.engine import run_scenario
from sim.scenario.schema import Scenario


def test_the_change_interval_is_welchs() -> None:
    """Before 1, 2, 3 and after 2, 3, 4: means 2 and 3, variances 1, so the difference's standard
    error is sqrt(2/3), Welch's degrees of freedom 4, t = 2.776: 1 +- 2.267, over the baseline's
    mean 2: [-0.633, 1.633], which holds 0."""
    low, high = change_interval([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    half = 2.7764451051977987 * math.sqrt(2 / 3)
    assert low == pytest.approx((1 - half) / 2)
    assert high == pytest.approx((1 + half) / 2)
    assert change_interval([1.0], [2.0, 3.0]) is None


def network_plant(latency: str, seed: int, replications: int = 4) -> dict:
    return plant(
        network={"kind": "parametric", "latency": {"exponential": latency}},
        streams={"s": {"topic": "t/{id}", "poisson": "200/s", "payload": "10B"}},
        count=2,
        duration="6s",
        warmup="1s",
        seed=seed,
        replications=replications,
    )


def compared(before: dict, after: dict) -> tuple[Comparison, dict]:
    base = run_scenario(Scenario.model_validate(before))
    upgrade = run_scenario(Scenario.model_validate(after))
    comparison = Comparison(base, [upgrade])
    return comparison, significance(base.streams[0], upgrade.streams[0])


def test_the_same_network_on_other_seeds_is_no_significant_change() -> None:
    _, noise = compared(network_plant("1ms", seed=1), network_plant("1ms", seed=2))
    for statistic in ("mean", "p50", "p99"):
        assert noise[f"latency_{statistic}_s"]["significant"] is False


def test_a_doubled_delay_is_a_significant_change() -> None:
    """Exponential delays of mean 1 ms and 2 ms: the median at least doubles (in-order delivery
    makes a message wait for a late predecessor, more so with longer delays), well outside the
    noise of four replications of 2000 messages."""
    comparison, noise = compared(network_plant("1ms", seed=1), network_plant("2ms", seed=1))
    assert noise["latency_p50_s"]["significant"] is True
    low, high = noise["latency_p50_s"]["ci95"]
    assert 0.9 < low < high
    record = comparison.records()[1]
    assert record["change_latency_p50_s_significant"] is True


def test_the_table_marks_noise_and_warns_about_single_runs(tmp_path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    data = network_plant("1ms", seed=1, replications=1)
    first.write_text(yaml.safe_dump(data), encoding="utf-8")
    data = {**data, "name": "other", "seed": 2}
    second.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = factory5g("compare", str(first), str(second), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    notes = " ".join(done.stderr.split())
    assert "warning: test has 1 replication: its changes have no interval" in notes
    assert "~ within noise" in notes
