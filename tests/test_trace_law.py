"""The ``trace`` latency law: delays read from measured data (sim.scenario.laws, sim.models.laws).

A trace file is one delay per line, or a histogram of ``lower-bound weight`` lines in the format of
the DETERMINISTIC6G packet-delay sets (``tests/data/deterministic6g``, kept unmodified). Paths are relative to
the scenario file that writes them, also through ``extends``; a file that cannot be used is a
scenario error naming the scenario file, the field and the trace file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from helpers import DETERMINISTIC6G, plant, quantile_interval, run_plant

from sim.cli import main
from sim.models.draws import Draws, component_rng
from sim.models.laws import sampler
from sim.scenario.errors import ScenarioError
from sim.scenario.laws import Trace, read_trace
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

UPLINK_2A = DETERMINISTIC6G / "PD-Wireless-5G-2a" / "5G-midband-Uplink_PD-Wireless-5G-2a.csv"
PUBLISHED_2A_UL_MS = {50: 6.41, 95: 7.82, 99: 9.95}  # docs/references.md
STANDARD_ERRORS = 3.0


def scenario_data(latency: Any, *, every: str = "20ms", duration: str = "10s") -> dict[str, Any]:
    """One machine sending 100 B every ``every`` across parametric network ``net`` (no rate limit,
    so the latency law alone sets the delay) to a free broker and one subscriber."""
    return plant(
        name="trace",
        duration=duration,
        seed=5,
        network={"kind": "parametric", "latency": latency},
        streams={"s": {"topic": "t", "every": every, "payload": "100B"}},
    )


def latencies(scenario: Scenario) -> np.ndarray:
    row = run_plant(scenario).rows[("m", "s", "sink")]
    return np.asarray(row.delivered_at) - np.asarray(row.delivered_published_at)


def histogram_percentile(path: Path, q: float) -> float:
    """The ``q`` quantile (in the file's unit) of a histogram file, by hand: bin k spans from row k's
    lower bound to row k+1's, holds row k's weight, uniformly spread; the last row closes."""
    table = np.loadtxt(path)
    lows, weights = table[:, 0], table[:, 1]
    assert weights[-1] == 0  # the DETERMINISTIC6G files close their last bin with a weight of 0
    below = np.concatenate([[0.0], np.cumsum(weights[:-1])]) / weights[:-1].sum()
    return float(np.interp(q, below, lows))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_scenario(path: Path, data: dict[str, Any]) -> Path:
    return write(path, yaml.safe_dump(data, sort_keys=False))


# ------------------------------------------------------------------------- measured histogram


def test_reference_histogram_has_the_published_percentiles() -> None:
    """The 2a uplink histogram's own percentiles, interpolated within bins, are the published
    6.41 / 7.82 / 9.95 ms (to 0.1 %: the p99 computes to 9.945)."""
    for q, published in PUBLISHED_2A_UL_MS.items():
        assert histogram_percentile(UPLINK_2A, q / 100) == pytest.approx(published, rel=1e-3)


def test_a_parametric_network_with_a_measured_trace_delivers_its_percentiles() -> None:
    """A parametric network with ``latency: {trace: 2a uplink}`` and no rate limit, one machine
    sending 100 B every 20 ms for 400 s (20,000 messages): the histogram's p50, p95 and p99 (the
    published 6.41 / 7.82 / 9.95 ms) lie within the run's distribution-free confidence intervals of
    those percentiles (order statistics), and the histogram's mean (sum of weight x bin middle)
    within 3 standard errors of the run's mean.

    Every 20 ms, not the measurement's 10 ms: the histogram reaches 14 ms, so at 10 ms a message
    drawn late could still be on its way when the next one, drawn early, arrives, and TCP would
    hold that one back (a delay the histogram does not have). At 20 ms a message always arrives
    before the next one is sent, so every delivered latency is one independent draw of the law."""
    scenario = Scenario.model_validate(
        scenario_data({"trace": str(UPLINK_2A)}, every="20ms", duration="400s")
    )
    latency_ms = latencies(scenario) * 1e3
    assert latency_ms.size >= 19_900
    assert latency_ms.max() < 14.0 + 1e-9
    for q in PUBLISHED_2A_UL_MS:
        low, high = quantile_interval(latency_ms, q / 100)
        assert low <= histogram_percentile(UPLINK_2A, q / 100) <= high, (q, low, high)
        assert high - low < 0.1 * histogram_percentile(UPLINK_2A, q / 100)  # narrow enough to tell
    table = np.loadtxt(UPLINK_2A)
    middles = (table[:-1, 0] + table[1:, 0]) / 2
    mean = float(np.dot(table[:-1, 1], middles) / table[:-1, 1].sum())
    error = STANDARD_ERRORS * latency_ms.std(ddof=1) / math.sqrt(latency_ms.size)
    assert abs(latency_ms.mean() - mean) <= error


@pytest.fixture
def small_histogram(tmp_path: Path) -> Path:
    return write(tmp_path / "h.csv", "0 2\n1 6\n3 0\n")


def draw(law: Trace, n: int = 200_000, seed: int = 7) -> np.ndarray:
    take = sampler(law, Draws(component_rng(seed, 0, "trace")))
    return np.asarray([take() for _ in range(n)])


def test_histogram_bins_by_weight_uniform_within(small_histogram: Path) -> None:
    """Weights are counts, normalised; a bin is chosen by weight and the draw is uniform in it:
    bins [0, 1) ms of weight 2 and [1, 3) ms of weight 6 give P(< 1 ms) = 1/4, P(< 2 ms) =
    1/4 + 3/8 = 5/8, mean 1/4 x 0.5 + 3/4 x 2 = 1.625 ms (binomial and mean checks at 3 SE)."""
    values = draw(Trace(file=str(small_histogram))) * 1e3
    n = values.size
    assert values.min() >= 0 and values.max() < 3
    for edge, p in ((1.0, 0.25), (2.0, 0.625), (0.5, 0.125)):
        assert np.mean(values < edge) == pytest.approx(p, abs=3 * math.sqrt(p * (1 - p) / n))
    assert values.mean() == pytest.approx(1.625, abs=3 * values.std() / math.sqrt(n))
    assert Trace(file=str(small_histogram)).mean == pytest.approx(1.625e-3)


def test_a_last_row_with_weight_is_a_bin_as_wide_as_the_one_before(tmp_path: Path) -> None:
    """``1 1`` then ``2 1``: the last row does not close the histogram but is a bin of its own,
    [2, 3) ms, so draws are uniform on [1, 3) ms."""
    values = draw(Trace(file=str(write(tmp_path / "h.csv", "1 1\n2 1\n"))), n=50_000) * 1e3
    assert values.min() >= 1 and values.max() < 3
    assert np.mean(values >= 2) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("0\t2\n1\t6\n3\t0\n", id="tabs"),
        pytest.param("0,2\n1, 6\n3 ,0\n", id="commas"),
        pytest.param("  0   2\n1 6\n3 0\n", id="spaces"),
        pytest.param("# delay_ms weight\n\n0 2  # first\n1 6\n\n3 0\n", id="comments, blanks"),
        pytest.param("\ufeff0 2\n1 6\n3 0\n", id="byte-order mark"),
    ],
)
def test_histogram_separators_and_comments(tmp_path: Path, text: str) -> None:
    """Tabs, commas or spaces separate the columns; blank lines and # comments are skipped."""
    data = read_trace(write(tmp_path / "h.csv", text))
    np.testing.assert_array_equal(data.edges, [0, 1, 3])
    np.testing.assert_array_equal(data.weights, [0.25, 0.75])


# ------------------------------------------------------------------------------- one column


def test_one_delay_per_line_draws_among_the_samples(tmp_path: Path) -> None:
    """A one-column file is a list of measured delays: every delivered latency is one of them
    (here in microseconds, ``unit: us``), each about equally often."""
    write(tmp_path / "delays.txt", "# measured\n800\n1200\n\n5000 # a late one\n")
    scenario_file = write_scenario(
        tmp_path / "s.yaml",
        scenario_data({"trace": {"file": "delays.txt", "unit": "us"}}, duration="60s"),
    )
    values = latencies(load_scenario(scenario_file))
    seen, counts = np.unique(np.round(values, 12), return_counts=True)
    np.testing.assert_allclose(seen, [0.0008, 0.0012, 0.005])
    n = values.size
    for count in counts:
        assert count / n == pytest.approx(1 / 3, abs=3 * math.sqrt(2 / 9 / n))


def test_draws_come_from_the_generator_given() -> None:
    """Same generator seed, same draws; another seed, other draws."""
    law = Trace(file=str(UPLINK_2A))
    np.testing.assert_array_equal(draw(law, 100, seed=1), draw(law, 100, seed=1))
    assert not np.array_equal(draw(law, 100, seed=1), draw(law, 100, seed=2))


def test_a_trace_file_is_read_once_per_path_and_again_when_it_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "d.txt", "1\n2\n")
    first = read_trace(path)
    assert read_trace(str(path)) is first
    write(path, "1\n2\n3\n")
    os.utime(path, ns=(0, 10**9))  # a different modification time, whatever the clock resolution
    assert read_trace(path).samples.tolist() == [1, 2, 3]


# ----------------------------------------------------------------------- paths and extends


def test_trace_paths_are_relative_to_the_file_that_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base scenario in ``plant/`` names ``measured/ul.csv``; an upgrade in ``studies/`` extends it
    and adds its own ``dl.csv``: each path is taken from its own file's folder, whatever the working
    directory."""
    write(tmp_path / "plant" / "measured" / "ul.csv", "1 1\n2 0\n")
    write(tmp_path / "studies" / "dl.csv", "3\n4\n")
    base = scenario_data({"trace": "measured/ul.csv"})
    base["networks"]["wan"] = {"kind": "parametric", "latency": "1ms"}
    write_scenario(tmp_path / "plant" / "base.yaml", base)
    upgrade = {
        "extends": "../plant/base.yaml",
        "name": "upgrade",
        "networks": {"wan": {"latency": {"trace": {"file": "dl.csv", "unit": "ms"}}}},
    }
    upgrade_file = write_scenario(tmp_path / "studies" / "upgrade.yaml", upgrade)
    monkeypatch.chdir(tmp_path / "plant" / "measured")
    scenario = load_scenario(os.path.relpath(upgrade_file))
    net, wan = scenario.networks["net"].latency, scenario.networks["wan"].latency
    assert net == Trace(file=str(tmp_path / "plant" / "measured" / "ul.csv"), scale=1e-3)
    assert wan == Trace(file=str(tmp_path / "studies" / "dl.csv"), scale=1e-3)
    assert Path(net.file).is_absolute() and Path(wan.file).is_absolute()


def test_an_absolute_trace_path_is_kept(tmp_path: Path) -> None:
    scenario_file = write_scenario(tmp_path / "s.yaml", scenario_data({"trace": str(UPLINK_2A)}))
    assert load_scenario(scenario_file).networks["net"].latency.file == str(UPLINK_2A)


# ------------------------------------------------------------------------------ bad traces


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "not found", id="missing file"),
        pytest.param("", "holds no data", id="empty file"),
        pytest.param("# only a comment\n\n", "holds no data", id="only comments"),
        pytest.param("delay probability\n1 0.5\n", "line 1: expected a delay", id="a header"),
        pytest.param("1 0.5\n2 x\n", "line 2: expected a delay", id="not a number"),
        pytest.param("1 0.5 7\n", "line 1: expected a delay", id="three columns"),
        pytest.param("1 0.5\n2\n", "line 2: 1 column(s) where line 1 has 2", id="mixed columns"),
        pytest.param("1\n-2\n", "line 2: a delay cannot be negative", id="negative delay"),
        pytest.param(
            "1 0.5\n2 -0.5\n", "line 2: a weight cannot be negative", id="negative weight"
        ),
        pytest.param("1 nan\n2 0\n", "line 1: expected a delay", id="not finite"),
        pytest.param(
            "1 0.5\n3 0.5\n2 0\n", "line 3: the bins' lower bounds must increase", id="order"
        ),
        pytest.param("1 0\n2 0\n", "every bin has weight 0", id="no weight"),
        pytest.param("1 0.5\n", "at least two lines", id="one-row histogram"),
        pytest.param(b"\xff\xfe1\x00", "not a text file", id="binary"),
    ],
)
def test_an_unusable_trace_file_is_a_scenario_error(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    """The error names the scenario file, the field path and the trace file, and says what is wrong
    (with the line number for a bad line)."""
    trace = tmp_path / "traces" / "ul.csv"
    if isinstance(content, bytes):
        trace.parent.mkdir()
        trace.write_bytes(content)
    elif content is not None:
        write(trace, content)
    scenario_file = write_scenario(tmp_path / "s.yaml", scenario_data({"trace": "traces/ul.csv"}))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(scenario_file)
    (problem,) = excinfo.value.problems
    assert problem.file == str(scenario_file)
    assert problem.path == "networks.net.latency"
    assert str(trace) in problem.message
    assert message in problem.message


def test_a_bad_trace_in_a_base_file_says_where_it_was_set(tmp_path: Path) -> None:
    write_scenario(tmp_path / "base" / "base.yaml", scenario_data({"trace": "missing.csv"}))
    upgrade = write_scenario(
        tmp_path / "up.yaml", {"extends": "base/base.yaml", "name": "up", "duration": "5s"}
    )
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(upgrade)
    text = str(excinfo.value)
    assert text.startswith(f"{upgrade}: networks.net.latency: ")
    assert str(tmp_path / "base" / "missing.csv") in text
    assert "(set in " in text and "base.yaml" in text


def test_a_directory_is_not_a_trace(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    scenario_file = write_scenario(tmp_path / "s.yaml", scenario_data({"trace": "traces"}))
    with pytest.raises(ScenarioError, match="is a directory, not a trace file"):
        load_scenario(scenario_file)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        pytest.param(
            {"trace": {"file": "x.csv", "unit": "parsec"}}, "unknown unit 'parsec'", id="unit"
        ),
        pytest.param({"trace": {"file": "x.csv", "units": "ms"}}, "unknown key 'units'", id="key"),
        pytest.param({"trace": {"unit": "ms"}}, "'file' must be the name", id="no file"),
        pytest.param({"trace": ["a.csv"]}, "expected a file name", id="a list"),
    ],
)
def test_a_badly_written_trace_law_is_a_scenario_error(
    tmp_path: Path, written: dict[str, Any], message: str
) -> None:
    write(tmp_path / "x.csv", "1\n")
    scenario_file = write_scenario(tmp_path / "s.yaml", scenario_data(written))
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(scenario_file)
    (problem,) = excinfo.value.problems
    assert (problem.path, problem.message.startswith("trace: ")) == ("networks.net.latency", True)
    assert message in problem.message


def test_a_payload_cannot_be_a_trace(tmp_path: Path) -> None:
    """Traces are measured delays; a payload size written as a trace is refused with a reason."""
    write(tmp_path / "sizes.csv", "100\n200\n")
    data = scenario_data("5ms")
    data["machines"]["m"]["streams"]["s"]["payload"] = {"trace": "sizes.csv"}
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(write_scenario(tmp_path / "s.yaml", data))
    (problem,) = excinfo.value.problems
    assert problem.path == "machines.m.streams.s.payload"
    assert "a measured trace gives delays, not a size" in problem.message


def test_the_command_line_reports_a_bad_trace_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``factory5g validate`` and ``run`` print the problem, no traceback, and exit with 2."""
    scenario_file = write_scenario(tmp_path / "s.yaml", scenario_data({"trace": "nowhere.csv"}))
    for command in (["validate"], ["run", "--out", str(tmp_path / "out")]):
        assert main([*command, str(scenario_file)]) == 2
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert f"networks.net.latency: trace: file {tmp_path / 'nowhere.csv'} not found" in text
        assert "Traceback" not in text
