"""End hosts (sim.scenario.hosts): each packet crosses the sender's and the receiver's stack.

The timelines are exact with constant host delays: a message from a machine to a subscriber
across two parametric networks takes machine out + network + broker in + broker out + network +
subscriber in, and its acknowledgement crosses the same stacks back.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from helpers import FREE_BROKER, factory5g, in_publish_order, plant, quantile_interval, run_plant

from sim.engine import StreamInfo
from sim.scenario.hosts import HOST_CLASSES, host_law
from sim.scenario.schema import Scenario

US = 1e-6


def hosts_plant(
    machine: object, broker: object, sink: object, qos: int = 0, every: str = "10ms"
) -> Scenario:
    """One machine on ``net`` (1 ms each way), broker ``b``, subscriber ``sink`` across ``far``
    (2 ms), with the given ``host:`` values."""
    data = plant(
        name="hosts",
        duration="2s",
        network={"kind": "parametric", "latency": "1ms"},
        networks={"far": {"kind": "parametric", "latency": "2ms"}},
        streams={"s": {"topic": "t/{id}", "every": every, "payload": "100B", "qos": qos}},
        broker={**FREE_BROKER, "host": broker},
        subscribers={"sink": {"broker": "b", "topics": ["#"], "network": "far", "host": sink}},
    )
    data["machines"]["m"]["host"] = machine
    return Scenario.model_validate(data)


def latencies(scenario: Scenario) -> np.ndarray:
    row = run_plant(scenario).rows[("m", "s", "sink")]
    published, delivered = in_publish_order(row)
    return delivered - published


def test_constant_host_delays_add_exactly_once_per_stack_each_way() -> None:
    """Machine 100 us + 1 ms + broker in 30 us + broker out 30 us + 2 ms + subscriber 50 us:
    every message takes 3.21 ms; with host: none everywhere, the networks' 3 ms."""
    timed = latencies(hosts_plant("100us", "30us", "50us"))
    assert timed.size > 100
    np.testing.assert_allclose(timed, 3210 * US, rtol=0, atol=1e-12)
    bare = latencies(hosts_plant("none", "none", "none"))
    np.testing.assert_allclose(bare, 3000 * US, rtol=0, atol=1e-12)


def test_an_acknowledgement_crosses_both_stacks_back() -> None:
    """QoS 1: the PUBACK leaves the broker's stack (30 us), crosses 1 ms and the machine's stack
    (100 us): the exchange completes 100 + 1000 + 30 + 30 + 1000 + 100 us after publishing."""
    built = run_plant(hosts_plant("100us", "30us", "50us", qos=1))
    completion = built.completions[StreamInfo("m", "s")]
    taken = np.asarray(completion.completed_at) - np.asarray(completion.published_at)
    assert taken.size > 100
    np.testing.assert_allclose(taken, 2260 * US, rtol=0, atol=1e-12)


def test_a_random_host_keeps_its_packets_in_order() -> None:
    """A lognormal stack delay on messages 20 us apart: the stack is FIFO (as a kernel's socket
    queue is), so deliveries stay in publish order and none comes sooner than the networks."""
    timed = run_plant(hosts_plant("industrial-pc", "server", "server", every="20us"))
    published, delivered = in_publish_order(timed.rows[("m", "s", "sink")])
    assert np.all(np.diff(delivered) >= 0)
    assert np.all(delivered - published >= 3000 * US)


@pytest.mark.parametrize("host", sorted(HOST_CLASSES))
def test_a_host_class_draws_its_law(host: str) -> None:
    """With only the machine's stack in the way (sparse messages, so the FIFO never holds one
    back), the latency beyond the networks is a draw of the class's lognormal: the law's median
    and p99 lie inside the distribution-free intervals of the sample quantiles."""
    extra = latencies(hosts_plant(host, "none", "none", every="1ms")) - 3000 * US
    law = host_law(host)
    assert extra.size > 1500
    for q, theory in ((0.5, law.median), (0.99, law.p99)):
        low, high = quantile_interval(extra, q)
        assert low <= theory <= high, (q, low, theory, high)


def test_default_hosts_are_an_industrial_pc_and_servers() -> None:
    """A machine left to its default is an industrial PC, the broker and subscribers servers."""
    data = plant(
        network={"kind": "parametric"},
        streams={"s": {"topic": "t", "every": "1s", "payload": "1B"}},
    )
    for spec in (data["machines"]["m"], data["brokers"]["b"], data["subscribers"]["sink"]):
        del spec["host"]
    scenario = Scenario.model_validate(data)
    assert scenario.machines["m"].host == "industrial-pc"
    assert scenario.brokers["b"].host == "server"
    assert scenario.subscribers["sink"].host == "server"
    assert math.isclose(host_law("server").median, 30 * US)


def test_an_unknown_host_class_is_refused_in_one_line(tmp_path) -> None:
    data = plant(
        network={"kind": "parametric"},
        streams={"s": {"topic": "t", "every": "1s", "payload": "1B"}},
    )
    data["machines"]["m"]["host"] = "mainframe"
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = factory5g("validate", str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "machines.m.host" in line]
    for allowed in ("none", "server", "industrial-pc", "embedded"):
        assert allowed in line
