"""Latency CCDFs (sim.plots.latency_ccdf): the tail as far as the run resolves it, the targets."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from helpers import uniform_plant

from sim.engine import run_scenario
from sim.plots import ccdf, latency_ccdf
from sim.scenario.schema import Scenario


def test_the_ccdf_ends_at_one_message_of_the_sample() -> None:
    """Four latencies: the share later than the i-th smallest is 1, 3/4, 1/2, 1/4 (1/n last)."""
    x, y = ccdf(np.array([0.004, 0.001, 0.003, 0.002]))
    np.testing.assert_allclose(x, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(y, [1.0, 0.75, 0.5, 0.25])


def test_the_figure_marks_deadline_and_target_with_one_legend() -> None:
    data = uniform_plant("20ms", "99%")
    results = run_scenario(Scenario.model_validate(data))
    fig = latency_ccdf([results])
    (panel,) = [axis for axis in fig.axes if axis.get_visible()]
    assert panel.get_xscale() == "log" and panel.get_yscale() == "log"
    lines = {line.get_label(): line for line in panel.get_lines()}
    n = results.samples[results.streams[0].key].size
    assert lines["test"].get_ydata()[-1] == pytest.approx(1 / n)
    assert lines["deadline"].get_xdata()[0] == pytest.approx(10.0)
    assert lines["late share allowed"].get_ydata()[0] == pytest.approx(0.01)
    assert len(fig.legends) == 1 and panel.get_legend() is None
    assert "2 s x 2" in fig._suptitle.get_text()


def test_bars_carry_the_replications_intervals() -> None:
    """Three replications: each bar's error bar spans the Student-t 95 % interval of the row's
    per-replication p99, around the pooled p99 the bar shows."""
    from sim.metrics.verdicts import replication_interval
    from sim.plots import latency_bars

    data = uniform_plant("20ms", replications=3)
    results = run_scenario(Scenario.model_validate(data))
    fig = latency_bars([results], "p99")
    (axis,) = fig.axes
    (bar,) = axis.patches
    row = results.streams[0]
    assert bar.get_height() == pytest.approx(row.latency("p99") * 1e3)
    low, high = replication_interval(row.per_replication["p99"])
    (segments,) = [c for c in axis.collections if len(c.get_segments()) == 1]
    (segment,) = segments.get_segments()
    assert segment[0][1] == pytest.approx(low * 1e3) and segment[1][1] == pytest.approx(high * 1e3)
