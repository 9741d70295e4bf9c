"""Bridges between brokers: topic remapping as Mosquitto's bridge ``topic`` lines, and no loops."""

from __future__ import annotations

from sim.engine import run_scenario
from sim.models.mqtt.routing import remap
from sim.scenario.schema import Bridge, Scenario


def bridged(bridges: dict, subscribers: dict) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "bridges",
            "duration": "3s",
            "warmup": "1s",
            "networks": {"wan": {"kind": "parametric", "latency": "8ms"}},
            "brokers": {"edge": {}, "central": {}},
            "bridges": bridges,
            "machines": {
                "robot": {
                    "count": 2,
                    "network": "wan",
                    "broker": "edge",
                    "streams": {
                        "j": {"topic": "plant/line3/robot/{id}", "every": "10ms", "payload": "100B"}
                    },
                }
            },
            "subscribers": subscribers,
        }
    )


def test_remap_follows_mosquitto_topic_lines() -> None:
    """`topic line3/# out 1 plant/ site/hall2/`: plant/line3/x is published as site/hall2/line3/x;
    a topic outside the local prefix, or not matching the pattern, is not forwarded."""
    bridge = Bridge.model_validate(
        {
            "from": "edge",
            "to": "central",
            "network": "wan",
            "topics": ["line3/#"],
            "local_prefix": "plant/",
            "remote_prefix": "site/hall2/",
        }
    )
    assert remap(bridge, "plant/line3/robot/0") == "site/hall2/line3/robot/0"
    assert remap(bridge, "plant/line4/robot/0") is None
    assert remap(bridge, "lab/line3/robot/0") is None


def test_remapped_topics_reach_only_subscribers_of_the_new_name() -> None:
    """On the central broker the messages carry the remote prefix: a subscriber to it gets every
    message, one to the original topic gets none (no row at all)."""
    results = run_scenario(
        bridged(
            {
                "up": {
                    "from": "edge",
                    "to": "central",
                    "network": "wan",
                    "topics": ["line3/#"],
                    "local_prefix": "plant/",
                    "remote_prefix": "site/hall2/",
                }
            },
            {
                "historian": {"broker": "central", "topics": ["site/hall2/line3/#"]},
                "old-name": {"broker": "central", "topics": ["plant/#"]},
            },
        )
    )
    assert [row.subscriber for row in results.streams] == ["historian"]
    row = results.streams[0]
    assert row.published == 2 * 200  # two robots, every 10 ms, 2 s window
    assert row.published == row.delivered + row.dropped + row.in_flight
    assert row.latency("p50") >= 0.008


def test_brokers_bridging_each_other_do_not_loop() -> None:
    """Edge and central bridge plant/# to each other: each subscriber gets each message once."""
    results = run_scenario(
        bridged(
            {
                "up": {"from": "edge", "to": "central", "network": "wan", "topics": ["plant/#"]},
                "down": {"from": "central", "to": "edge", "network": "wan", "topics": ["plant/#"]},
            },
            {
                "scada": {"broker": "edge", "topics": ["plant/#"]},
                "historian": {"broker": "central", "topics": ["plant/#"]},
            },
        )
    )
    for row in results.streams:
        assert row.published == 400
        assert row.delivered + row.in_flight == 400
