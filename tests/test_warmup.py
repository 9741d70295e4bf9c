"""Warm-up warnings (sim.metrics.warmup): a run without a warm-up is said to be biased, and a row
whose first stretch of the window is unlike the rest is named."""

from __future__ import annotations

import numpy as np
from helpers import FIXTURES

from sim.engine import run_scenario
from sim.metrics.tally import Tally
from sim.metrics.warmup import initial_bias
from sim.scenario.loader import load_scenario


def test_a_zero_warm_up_mm1_is_warned_about_and_a_long_one_is_not() -> None:
    """The M/M/1 at load 0.8 starts empty: with no warm-up the warning says so; after 20 s of
    warm-up (some 200 relaxation times of the queue) neither check fires."""
    bare = run_scenario(load_scenario(FIXTURES / "mm1.yaml", {"warmup": "0s", "duration": "5s"}))
    assert any(w.startswith("no warm-up") for w in bare.warnings)
    settled = run_scenario(
        load_scenario(
            FIXTURES / "mm1.yaml", {"warmup": "20s", "duration": "40s", "replications": 3}
        )
    )
    assert settled.warnings == []


def test_a_first_stretch_unlike_the_rest_is_found() -> None:
    """Three replications of 100 s, 50 messages a second: latencies exponential with mean 5 ms,
    except 1 ms in the first 10 s: found, with both means; the same without the transient: not."""
    rng = np.random.default_rng(3)
    published, latencies, steady = [], [], []
    for _ in range(3):
        times = np.sort(rng.uniform(0, 100, 5000))
        values = rng.exponential(0.005, times.size)
        steady.append(values.copy())
        values[times < 10] *= 0.2
        published.append(times)
        latencies.append(values)
    first, rest = initial_bias(_batches(published, latencies))
    assert abs(first - 0.001) < 0.0003 and abs(rest - 0.005) < 0.0003
    assert initial_bias(_batches(published, steady)) is None


def _batches(published: list[np.ndarray], latencies: list[np.ndarray]) -> list[np.ndarray]:
    """Each replication's stretches, as a row's tally folds them from its deliveries (handed
    over in two chunks, as a flush mid-run would)."""
    out = []
    for times, values in zip(published, latencies, strict=True):
        tally = Tally(0.0, 100.0, None, None, 1)
        for part in np.array_split(np.arange(times.size), 2):
            t = times[part]
            tally.deliver(t, t + values[part], np.ones(t.size), np.zeros(t.size, dtype=int))
        out.append(tally.batches)
    return out
