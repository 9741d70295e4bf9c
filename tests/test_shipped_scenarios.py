"""Every scenario shipped in ``scenarios/`` validates and runs, and accounts for every message."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.engine import Plant
from sim.scenario.loader import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


def test_the_project_ships_scenarios() -> None:
    """The README's examples exist: a baseline, its upgrades, and the outage study."""
    names = {path.stem for path in SCENARIOS}
    assert {"line3-intranet", "line3-5g", "line3-5g-outage", "brownfield-plant"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_runs_and_conserves_messages(path: Path) -> None:
    """One replication of the first 12 s of each scenario (long enough for line3-5g-outage's first
    outage at 10 s): every published copy is delivered, dropped, or in flight at the end (records()
    raises ConservationError otherwise), and something is delivered on every row."""
    scenario = load_scenario(path, {"duration": "12s", "replications": 1})
    plant = Plant(scenario)
    plant.run()
    records = plant.records()
    assert records
    for record in records:
        assert record.published > 0, record.key
        assert record.delivered > 0, record.key
        assert record.delivered + record.dropped + record.in_flight == record.published
