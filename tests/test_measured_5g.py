"""Each 5G profile against the measurement it cites (DETERMINISTIC6G sets 2a, 3a, 4a).

Run with that measurement's traffic (100 B every 10 ms; 32 B every 7 ms for 3a), port to port, a
profile's one-way uplink and downlink p50 and p99 lie within 15 % of the measured ones: the whole
distribution-free 99.7 % interval of each simulated percentile inside the band, so that the check
holds for the model, not for one lucky sample.
"""

from __future__ import annotations

import pytest
from helpers import quantile_interval
from measured import SETS, measured, one_way

from sim.scenario.laws import read_trace


def test_the_published_percentiles_are_the_histograms() -> None:
    """docs/references.md's table: 2a UL p50 6.41 / p99 9.95 ms, 3a DL 0.76 / 1.08, 4a UL 2.49 /
    2.87 (read from the files here, to 1 %)."""
    folder, up, down, _, _ = SETS["sa-midband"]
    assert measured(folder, up, 0.5) == pytest.approx(6.41, rel=0.01)
    assert measured(folder, up, 0.99) == pytest.approx(9.95, rel=0.01)
    folder, up, down, _, _ = SETS["urllc"]
    assert measured(folder, down, 0.5) == pytest.approx(0.76, rel=0.01)
    assert measured(folder, down, 0.99) == pytest.approx(1.08, rel=0.01)
    folder, up, down, _, _ = SETS["sa-mmwave"]
    assert measured(folder, up, 0.5) == pytest.approx(2.49, rel=0.01)
    assert measured(folder, up, 0.99) == pytest.approx(2.87, rel=0.01)


def test_a_trace_quantile_inverts_the_histogram(tmp_path) -> None:
    """Two bins, [1, 2) ms with 0.25 and [2, 4) ms with 0.75: the median is 2 + 2 x (0.25/0.75)."""
    path = tmp_path / "h.csv"
    path.write_text("1\t0.25\n2\t0.75\n4\t0\n", encoding="utf-8")
    data = read_trace(path)
    assert data.quantile(0.25) == pytest.approx(2.0)
    assert data.quantile(0.5) == pytest.approx(2 + 2 / 3)
    assert data.quantile(1.0) == pytest.approx(4.0)


@pytest.mark.parametrize("profile", sorted(SETS))
def test_a_profile_reproduces_its_measurement(profile: str) -> None:
    """60 devices (their phases to the TDD frame spread at random) for 10 s, each way."""
    folder, up, down, _, _ = SETS[profile]
    delays = one_way(profile, seconds=10, devices=60)
    for way, name in (("up", up), ("down", down)):
        for q in (0.5, 0.99):
            target = measured(folder, name, q)
            low, high = quantile_interval(delays[way], q)
            assert 0.85 * target <= low and high <= 1.15 * target, (way, q, low, high, target)
