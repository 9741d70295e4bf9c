"""The bounded latency histogram (sim.metrics.histogram): quantiles within its stated relative
error of the exact ones, merging equal to counting everything at once, size independent of the
number of values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim.metrics.histogram import LatencyHistogram

QUANTILES = (0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0)


def exact(values: np.ndarray, q: float) -> float:
    """The value of rank ceil(q n) (at least 1) of the sorted sample."""
    ordered = np.sort(values)
    return float(ordered[max(1, math.ceil(q * ordered.size - 1e-9)) - 1])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 5000),
    median=st.floats(1e-7, 10.0),
    spread=st.floats(0.01, 4.0),
    bits=st.integers(3, 10),
)
@example(seed=0, size=13, median=1e-7, spread=4.0, bits=3)  # a minimum of 9 ps, below 1 ns
def test_quantiles_are_within_the_stated_relative_error(
    seed: int, size: int, median: float, spread: float, bits: int
) -> None:
    """Lognormal latencies over up to many orders of magnitude: each quantile of the histogram
    is within 2^-(bits+1) of the exact value of its rank (plus the 1 ns floor)."""
    values = np.random.default_rng(seed).lognormal(math.log(median), spread, size)
    values = np.minimum(values, 1e4)
    histogram = LatencyHistogram(bits=bits)
    histogram.add(values)
    for q in QUANTILES:
        truth = exact(values, q)
        assert abs(histogram.quantile(q) - truth) <= histogram.relative_error * truth + 1e-9
    assert histogram.total == size
    assert histogram.mean == pytest.approx(values.mean(), rel=1e-12)
    assert histogram.maximum == values.max() and histogram.minimum == values.min()


def test_merging_equals_counting_everything_at_once() -> None:
    rng = np.random.default_rng(3)
    parts = [rng.exponential(0.005, n) for n in (10, 1000, 333)]
    merged = LatencyHistogram()
    for part in parts:
        one = LatencyHistogram()
        one.add(part)
        merged.merge(one)
    whole = LatencyHistogram()
    whole.add(np.concatenate(parts))
    assert np.array_equal(merged.counts, whole.counts)
    assert [merged.quantile(q) for q in QUANTILES] == [whole.quantile(q) for q in QUANTILES]
    with pytest.raises(ValueError, match="different layouts"):
        merged.merge(LatencyHistogram(bits=5))


def test_size_does_not_grow_with_the_values() -> None:
    histogram = LatencyHistogram()
    size = histogram.nbytes
    histogram.add(np.random.default_rng(1).exponential(0.01, 1_000_000))
    assert histogram.nbytes == size < 64 * 1024  # 48 octaves x 128 buckets x 8 B


def test_zero_and_out_of_range() -> None:
    histogram = LatencyHistogram()
    histogram.add(np.array([0.0, 0.0, 2e-3]))
    assert histogram.quantile(0.5) <= 1e-9 * (1 + histogram.relative_error) + 1e-9
    with pytest.raises(ValueError, match="must lie in"):
        histogram.add(np.array([-1e-3]))
    with pytest.raises(ValueError, match="must lie in"):
        histogram.add(np.array([1e6]))
    assert math.isnan(LatencyHistogram().quantile(0.5))
