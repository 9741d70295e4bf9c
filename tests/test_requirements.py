"""Requirements where they belong: per stream, overridden or removed per subscriber.

The line's SCADA needs the robots' joints within 10 ms; the site historian, behind the WAN, needs
them within a second or not at all. A subscriber's ``requirement`` replaces the streams' for every
stream it takes, ``requirements: {machine.stream: ...}`` for one stream, and ``none`` removes it.
"""

from __future__ import annotations

import yaml
from helpers import factory5g, plant, run_plant

from sim.engine import run_scenario
from sim.scenario.schema import Scenario


def two_subscribers(**historian: object) -> Scenario:
    """Robot joints every 4 ms with a 10 ms deadline over a 1 ms network; SCADA next to the broker,
    the historian behind a 20 ms WAN (so it always misses 10 ms)."""
    data = plant(
        network={"kind": "parametric", "latency": "1ms"},
        networks={"wan": {"kind": "parametric", "latency": "20ms"}},
        machine="robot",
        streams={
            "joints": {
                "topic": "j/{id}",
                "every": "4ms",
                "payload": "100B",
                "requirement": {"deadline": "10ms", "survival_time": "12ms"},
            },
            "temp": {"topic": "t/{id}", "every": "100ms", "payload": "10B"},
        },
        subscribers={
            "scada": {"broker": "b", "topics": ["#"]},
            "historian": {"broker": "b", "topics": ["#"], "network": "wan", **historian},
        },
        duration="3s",
    )
    return Scenario.model_validate(data)


def deadlines(scenario: Scenario) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    plant = run_plant(scenario)
    return {
        (stream, subscriber): (row.deadline, row.survival_time)
        for (_, stream, subscriber), row in plant.rows.items()
    }


def test_every_subscriber_inherits_the_streams_requirement() -> None:
    seen = deadlines(two_subscribers())
    assert seen[("joints", "scada")] == (0.010, 0.012)
    assert seen[("joints", "historian")] == (0.010, 0.012)
    assert seen[("temp", "historian")] == (None, None)


def test_a_subscribers_own_requirement_overrides_the_streams() -> None:
    """The historian needs everything within 1 s: its rows are judged against that, SCADA's are
    not touched, and a stream without a requirement of its own gets the historian's too."""
    scenario = two_subscribers(requirement={"deadline": "1s"})
    seen = deadlines(scenario)
    assert seen[("joints", "historian")] == (1.0, None)
    assert seen[("temp", "historian")] == (1.0, None)
    assert seen[("joints", "scada")] == (0.010, 0.012)
    # judged against its own second, the historian's 21 ms never misses; against 10 ms, always
    own = run_scenario(scenario).stream("robot", "joints", "historian")
    inherited = run_scenario(two_subscribers()).stream("robot", "joints", "historian")
    assert own.deadline_miss_ratio == 0.0
    assert inherited.deadline_miss_ratio == 1.0


def test_none_removes_it_and_a_stream_entry_wins() -> None:
    seen = deadlines(two_subscribers(requirement="none"))
    assert seen[("joints", "historian")] == (None, None)
    seen = deadlines(
        two_subscribers(requirement="none", requirements={"robot.temp": {"deadline": "2s"}})
    )
    assert seen[("joints", "historian")] == (None, None)
    assert seen[("temp", "historian")] == (2.0, None)
    seen = deadlines(two_subscribers(requirements={"robot.joints": "none"}))
    assert seen[("joints", "historian")] == (None, None)
    assert seen[("joints", "scada")] == (0.010, 0.012)


def test_a_requirement_for_a_stream_that_is_not_there_is_refused(tmp_path) -> None:
    raw = plant(
        network={"kind": "parametric"},
        machine="robot",
        streams={"joints": {"topic": "j", "every": "4ms", "payload": "1B"}},
        subscribers={"sink": {"broker": "b", "topics": ["#"],
                              "requirements": {"robot.joint": {"deadline": "10ms"}}}},
    )  # fmt: skip
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    done = factory5g("validate", str(path))
    assert done.returncode == 2
    assert "subscribers.sink.requirements.robot.joint" in done.stderr
    assert "did you mean 'joints'" in done.stderr
