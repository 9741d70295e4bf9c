"""The cost estimate (sim.cost) against what the engine really does.

The estimate counts from the scenario alone what the engine will schedule; here each shipped
scenario (and the M/M/1 plant) is run for 12 simulated seconds, one replication, and the SimPy events
it scheduled (``env._eid``, SimPy's own event counter) must lie within a factor of two of the
estimate, either way; the messages estimated are the publications the sources made, to within a
Poisson stream's spread.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers import FIXTURES, SCENARIOS

from sim.cost import EVENTS_PER_SECOND, estimate
from sim.engine import Plant
from sim.scenario.loader import load_scenario

# the shipped examples; the benchmark plants (scenarios/benchmarks/) are estimated less well (see
# docs/studies.md) and run by tests/test_bench.py
PLANTS = [*sorted(SCENARIOS.glob("*.yaml")), FIXTURES / "mm1.yaml"]


@pytest.mark.parametrize("path", PLANTS, ids=lambda p: p.stem)
def test_the_estimate_is_within_a_factor_of_two_of_the_real_run(path: Path) -> None:
    scenario = load_scenario(path, {"duration": "12s", "replications": 1})
    cost = estimate(scenario)
    plant = Plant(scenario)
    plant.run()
    scheduled = next(plant.env._eid)
    assert 0.5 <= cost.events / scheduled <= 2.0, (cost.events, scheduled)
    assert cost.seconds == pytest.approx(cost.events / EVENTS_PER_SECOND)
    # publications after the warm-up: each stream's count is that of any of its rows
    by_stream: dict[tuple[str, str], int] = {}
    for row in plant.rows.values():
        by_stream[(row.machine, row.stream)] = row.published
    published = sum(by_stream.values())
    expected = cost.messages * scenario.window / scenario.duration
    machines = sum(m.count for m in scenario.machines.values())
    assert abs(published - expected) <= 5 * math.sqrt(expected) + machines, (published, expected)


def test_messages_are_the_streams_rates_times_the_run() -> None:
    """Line 3: 4,820 messages a second (24 x 100 + 8 x 250 + 2 x 10 + 200 x 2) for 30 s, three
    replications; each reaches two subscribers and crosses one bridge."""
    scenario = load_scenario(FIXTURES / "line3-intranet.yaml")
    cost = estimate(scenario)
    assert cost.messages == pytest.approx(4820 * 30 * 3)
    assert cost.copies == pytest.approx(3 * cost.messages)


def test_the_estimate_grows_with_the_plant() -> None:
    """Ten times the machines, ten times the events and memory (within what machines add)."""
    small = load_scenario(FIXTURES / "mm1.yaml")
    big = small.model_copy(
        update={"machines": {"source": small.machines["source"].model_copy(update={"count": 10})}}
    )
    ratio = estimate(big).events / estimate(small).events
    assert math.isclose(ratio, 10.0, rel_tol=1e-9)
