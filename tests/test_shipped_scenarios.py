"""Every scenario shipped in ``scenarios/``, and every contract scenario, validates and runs, and
accounts for every message.

The contract scenarios are the tests' fixed copies in ``tests/scenarios/`` and, in the developers'
workspace only, the originals in ``../shared/contract/`` (skipped, saying so, in a user's clone).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import FIXTURES, SCENARIOS, SHARED_CONTRACT

from sim.engine import Plant
from sim.metrics.summary import ATTACK_PREFIX
from sim.scenario.loader import load_scenario

SHIPPED = sorted(SCENARIOS.rglob("*.yaml"))


def contract_files() -> list[object]:
    copies = [
        pytest.param(path, id=f"tests/{path.stem}") for path in sorted(FIXTURES.glob("*.yaml"))
    ]
    if not SHARED_CONTRACT.is_dir():
        absent = pytest.mark.skip(
            reason="../shared/contract is only in the developers' workspace; the copies in "
            "tests/scenarios are checked instead"
        )
        return [*copies, pytest.param(None, id="shared", marks=absent)]
    shared = [
        pytest.param(path, id=f"shared/{path.stem}")
        for path in sorted(SHARED_CONTRACT.glob("*.yaml"))
    ]
    return [*copies, *shared]


def test_the_project_ships_scenarios() -> None:
    """The README's examples exist: a baseline, its upgrades, and the outage study."""
    names = {path.stem for path in SHIPPED}
    assert {"line3-intranet", "line3-5g", "line3-5g-outage", "brownfield-plant"} <= names


def runs_and_conserves(path: Path) -> None:
    """One replication of the first 12 s (long enough for line3-5g-outage's first outage at 10 s):
    every published copy is delivered, dropped, or in flight at the end (records() raises
    ConservationError otherwise), and something is delivered on every row (an attacker's row:
    delivered, or refused by the defences the file sets)."""
    scenario = load_scenario(path, {"duration": "12s", "replications": 1})
    plant = Plant(scenario)
    plant.run()
    records = plant.records()
    assert records
    for record in records:
        assert record.published > 0, record.key
        if record.machine.startswith(ATTACK_PREFIX):
            assert record.delivered + record.refused > 0, record.key
        else:
            assert record.delivered > 0, record.key
        assert record.delivered + record.dropped + record.in_flight == record.published


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_shipped_scenario_runs_and_conserves_messages(path: Path) -> None:
    runs_and_conserves(path)


@pytest.mark.parametrize("path", contract_files())
def test_contract_scenario_runs_and_conserves_messages(path: Path) -> None:
    runs_and_conserves(path)
