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


def test_a_sweep_plot_draws_each_group_its_band_and_the_target() -> None:
    """A sweep table of two rows x two TDD patterns x three counts: one panel per row that has
    the figure, one line per pattern through its points in ms in count order (quantities and text
    placed as numbers or evenly), the replications' interval as the band, the deadline marked."""
    import pandas as pd

    from sim.plots import sweep_plot

    records = []
    for pattern, base in (("DDDSU", 0.004), ("DSUUU", 0.003)):
        for count in (16, 4, 8):  # out of order: the line follows the counts
            for subscriber, deadline in (("scada", 0.010), ("historian", None)):
                p99 = base + count * 1e-4
                records.append(
                    {
                        "machines.robot.count": count,
                        "networks.cell.tdd_pattern": pattern,
                        "point": 0,
                        "machine": "robot",
                        "stream": "joints",
                        "subscriber": subscriber,
                        "latency_p99_s": p99 if deadline else None,
                        "latency_p99_ci95_low_s": p99 - 5e-4,
                        "latency_p99_ci95_high_s": p99 + 5e-4,
                        "deadline_s": deadline,
                    }
                )
    fig = sweep_plot(pd.DataFrame(records), "latency_p99_s")
    (panel,) = [axis for axis in fig.axes if axis.get_visible()]  # historian has no p99 here
    assert panel.get_title() == "robot/joints -> scada"
    lines = {line.get_label(): line for line in panel.get_lines()}
    assert set(lines) == {"tdd_pattern=DDDSU", "tdd_pattern=DSUUU", "deadline"}
    np.testing.assert_allclose(lines["tdd_pattern=DDDSU"].get_xdata(), [4, 8, 16])
    np.testing.assert_allclose(lines["tdd_pattern=DDDSU"].get_ydata(), [4.4, 4.8, 5.6])
    np.testing.assert_allclose(lines["tdd_pattern=DSUUU"].get_ydata(), [3.4, 3.8, 4.6])
    np.testing.assert_allclose(lines["deadline"].get_ydata(), [10.0, 10.0])
    (band, _) = panel.collections
    vertices = band.get_paths()[0].vertices
    assert vertices[:, 1].min() == pytest.approx(4.4 - 0.5) and vertices[
        :, 1
    ].max() == pytest.approx(5.6 + 0.5)
    fig = sweep_plot(pd.DataFrame(records), "latency_p99_s", x="networks.cell.tdd_pattern")
    (panel,) = [axis for axis in fig.axes if axis.get_visible()]
    assert [t.get_text() for t in panel.get_xticklabels()] == ["DDDSU", "DSUUU"]
