"""Properties of the engine that hold whatever the scenario: reproducibility, conservation, what the
metrics mean (throughput, warm-up, deadline misses), TCP's in-order delivery and retransmissions,
topic routing across a bridge, and per-frame store-and-forward on Ethernet.

Expected figures are derived by hand in each docstring from the scenario the test builds.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import simpy
from helpers import FIXTURES, in_publish_order, no_hosts, plant_scenario

from sim.engine import Plant, run_scenario
from sim.models.draws import Draws, component_rng
from sim.models.links import build_link
from sim.models.message import Message, Packet
from sim.results import Results
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario, Tcp

LINE3 = FIXTURES / "line3-intranet.yaml"


def assert_conserved(results: Results) -> None:
    """published = delivered + dropped + in flight on every row."""
    assert results.streams
    for row in results.streams:
        assert row.published == row.delivered + row.dropped + row.in_flight, row.key


# ---------------------------------------------------------------------------- reproducibility


def line3(seed: int | None = None) -> Results:
    """The line-3 intranet (the contract copy) shortened to 5 s and one replication."""
    overrides: dict[str, Any] = {"duration": "5s", "replications": 1}
    if seed is not None:
        overrides["seed"] = seed
    return run_scenario(load_scenario(LINE3, overrides=overrides), keep_samples=False)


def streams_json(results: Results) -> str:
    return json.dumps(results.to_dict()["streams"], sort_keys=True)


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    """Two runs of line3-intranet with the same seed give byte-identical ``streams`` in summary.json;
    another seed changes the numbers (same rows, different latencies), and every row conserves."""
    first, second, other = line3(), line3(), line3(seed=8)
    assert streams_json(first) == streams_json(second)
    assert streams_json(first) != streams_json(other)
    assert [r.key for r in first.streams] == [r.key for r in other.streams]
    assert any(
        a.latency("mean") != b.latency("mean")
        for a, b in zip(first.streams, other.streams, strict=True)
    )
    for results in (first, other):
        assert_conserved(results)
        # 24 CNCs every 10 ms over the 3 s window, each copy for scada and for the historian
        assert results.stream("cnc", "spindle", "scada").published == 24 * 300


# ---------------------------------------------------------------------------- losses and drops


def test_slow_subscriber_drops_half_and_takes_one_per_service_time() -> None:
    """A subscriber that needs 10 ms per message, fed 200 msg/s, with a broker queue of 10.

    A saturated consumer takes exactly one message per service time, 100/s, so in the 10 s window
    it takes 1000 (+/- 1) of the 2000 published copies and the queue drops the rest: loss ratio
    1/2 (to 1/2000), throughput 100 msg/s (to 1 delivery per window). Once the queue is full a copy
    is accepted just after a consumption left 9 waiting, so it starts 90 to 100 ms after publication
    (delivery here is the start of consumption). At the end 9 or 10 accepted copies still wait.
    """
    scenario = plant_scenario(
        streams={"s": {"topic": "t", "every": "5ms", "payload": "100B"}},
        network={"kind": "parametric", "latency": "0s"},
        broker={"service_time": "0s", "fanout_time": "0s", "per_byte_time": "0s", "max_queued": 10},
        subscribers={"sink": {"broker": "b", "topics": ["#"], "service_time": "10ms"}},
        duration="11s",
        warmup="1s",
    )
    results = run_scenario(scenario)
    assert_conserved(results)
    row = results.stream("m", "s", "sink")
    assert row.published == 2000
    assert row.dropped == pytest.approx(1000, abs=1)
    assert row.loss_ratio == pytest.approx(0.5, abs=1e-3)
    assert 9 <= row.in_flight <= 10
    assert row.throughput_msg_s == pytest.approx(100.0, abs=0.1 + 1e-9)
    latencies = results.samples[row.key]
    assert latencies.min() > 0.090 - 1e-9
    assert latencies.max() <= 0.100 + 1e-9


def test_saturated_link_shows_its_capacity_and_a_growing_queue() -> None:
    """A 1 Mbit/s parametric link offered 2 Mbit/s (1000 B every 4 ms, no overhead, no latency).

    Each message takes 8 ms; the link is busy from the first message on, so message n leaves at
    phase + 8 ms (n + 1) and its latency grows by exactly 4 ms per message. Deliveries in the window
    [1 s, 4 s] are one per 8 ms, i.e. the capacity: 1e6 payload bit/s and 125 msg/s (to one message
    per window). The copies published in the window and delivered by the end are those published
    before about 2 s, with latency from about 1 s to 2 s (mean about 1.5 s); the rest (about 500 of
    750) are in flight.
    """
    scenario = plant_scenario(
        streams={"s": {"topic": "t", "every": "4ms", "payload": "1000B"}},
        network={"kind": "parametric", "latency": "0s", "rate": "1Mbps", "overhead": "0B"},
        duration="4s",
        warmup="1s",
    )
    row = run_scenario(scenario, keep_samples=False).stream("m", "s", "sink")
    assert row.published == 750
    assert row.throughput_bit_s == pytest.approx(1e6, abs=8000 / 3 + 1e-6)
    assert row.throughput_msg_s == pytest.approx(125, abs=1 / 3 + 1e-9)
    assert row.latency("mean") == pytest.approx(1.5, abs=0.02)
    assert row.in_flight == pytest.approx(500, abs=3)
    assert row.published == row.delivered + row.in_flight

    plant = Plant(scenario)
    plant.run()
    published, delivered = in_publish_order(plant.rows[("m", "s", "sink")])
    np.testing.assert_allclose(np.diff(delivered), 0.008, atol=1e-9)
    np.testing.assert_allclose(np.diff(delivered - published), 0.004, atol=1e-9)


def test_unsaturated_link_shows_the_offered_load() -> None:
    """The same 1 Mbit/s link offered 0.5 Mbit/s (1000 B every 16 ms): throughput is the offered
    load, 5e5 bit/s and 62.5 msg/s (to one message per 3 s window), and no message ever waits: every
    latency is the 8 ms serialisation."""
    scenario = plant_scenario(
        streams={"s": {"topic": "t", "every": "16ms", "payload": "1000B"}},
        network={"kind": "parametric", "latency": "0s", "rate": "1Mbps", "overhead": "0B"},
        duration="4s",
        warmup="1s",
    )
    results = run_scenario(scenario)
    row = results.stream("m", "s", "sink")
    assert row.throughput_bit_s == pytest.approx(5e5, abs=8000 / 3 + 1e-6)
    assert row.throughput_msg_s == pytest.approx(62.5, abs=1 / 3 + 1e-9)
    np.testing.assert_allclose(results.samples[row.key], 0.008, atol=1e-9)
    assert row.in_flight <= 1


# ---------------------------------------------------------------------------- the window


@pytest.mark.parametrize(("warmup", "expected"), [("1s", 1000), ("0s", 1500)])
def test_warmup_is_excluded_from_the_counts(warmup: str, expected: int) -> None:
    """5 machines publishing every 10 ms for 3 s: with 1 s of warm-up the window [1 s, 3 s) holds
    exactly 200 releases of each machine (whatever its random phase, a half-open interval of 200
    periods contains 200 points of a periodic sequence), so 1000 copies per subscriber row; with no
    warm-up, 300 each, 1500. Both subscribers' rows count the same, and the throughput is the
    500 msg/s offered (to the few copies still on their 1 ms way at the end)."""
    scenario = Scenario.model_validate(
        {
            "name": "warmup",
            "duration": "3s",
            "warmup": warmup,
            "networks": {"net": {"kind": "parametric", "latency": "1ms"}},
            "brokers": {"b": {}},
            "machines": {
                "m": {
                    "count": 5,
                    "network": "net",
                    "broker": "b",
                    "streams": {"s": {"topic": "a/{id}", "every": "10ms", "payload": "50B"}},
                }
            },
            "subscribers": {
                "one": {"broker": "b", "topics": ["a/#"]},
                "two": {"broker": "b", "topics": ["a/+"]},
            },
        }
    )
    results = run_scenario(scenario, keep_samples=False)
    assert_conserved(results)
    assert [r.published for r in results.streams] == [expected, expected]
    for row in results.streams:
        assert row.delivered + row.in_flight == expected
        assert row.throughput_msg_s == pytest.approx(500.0, abs=5 / 2)


# ---------------------------------------------------------------------------- TCP behaviour


def in_order_mean_latency(low: float, high: float, period: float) -> float:
    """Mean latency behind TCP's in-order delivery of a periodic stream with i.i.d. uniform delays.

    Message n is released at max over k <= n of (t_k + L_k), so its latency is max_j (L_{n-j} - j T)
    with P(latency <= x) = prod_j F(x + j T), F the uniform CDF on [low, high]. The mean is the
    integral of 1 - that product.
    """
    xs = np.linspace(0.0, high, 200_001)
    cdf = np.ones_like(xs)
    for j in range(math.ceil(high / period) + 1):
        cdf *= np.clip((xs + j * period - low) / (high - low), 0.0, 1.0)
    tail = 1.0 - cdf
    return float(np.sum((tail[1:] + tail[:-1]) / 2 * np.diff(xs)))


def test_tcp_delivers_in_publish_order_despite_random_latency() -> None:
    """A parametric link with latency uniform on [1 ms, 50 ms] and a machine publishing every 1 ms.

    The draws alone would reorder almost every message; TCP must deliver them in publish order
    (delivery times non-decreasing in publish order), which holds messages back: the mean latency is
    no longer the 25.5 ms of the law but that of a running maximum (about 45 ms, derived in
    :func:`in_order_mean_latency`), checked within three batch-means standard errors (20 batches of
    500 ms, much longer than the 50 ms over which latencies are correlated).
    """
    scenario = plant_scenario(
        streams={"s": {"topic": "t", "every": "1ms", "payload": "100B"}},
        network={"kind": "parametric", "latency": {"uniform": ["1ms", "50ms"]}},
        duration="11s",
        warmup="1s",
    )
    plant = Plant(scenario)
    plant.run()
    published, delivered = in_publish_order(plant.rows[("m", "s", "sink")])
    assert published.size > 10_000
    assert np.all(np.diff(delivered) >= 0.0)
    latency = delivered - published
    assert latency.min() >= 0.001 - 1e-12
    assert latency.max() <= 0.050 + 1e-12

    theory = in_order_mean_latency(0.001, 0.050, 0.001)
    assert 0.040 < theory < 0.050
    window = (published >= 1.0) & (published < 11.0)
    batches = np.array_split(latency[window], 20)
    means = np.array([b.mean() for b in batches])
    half = 3 * means.std(ddof=1) / math.sqrt(means.size)
    assert half < 0.02 * theory
    assert abs(means.mean() - theory) <= half, (means.mean(), theory, half)


def test_parametric_connection_itself_releases_in_order() -> None:
    """The same law seen at the link alone: a connection of a parametric link hands its packets to
    its sink in the order they were sent, at non-decreasing times, and never before the send time plus
    the law's minimum. (Through a whole plant the broker's FIFO would also hide a reordering; its
    ``offer`` relies on being called in time order, which is this property.)"""
    scenario = plant_scenario(
        streams={"s": {"topic": "t", "every": "1ms", "payload": "100B"}},
        network={"kind": "parametric", "latency": {"uniform": ["1ms", "50ms"]}},
        warmup="1s",
    )
    env = simpy.Environment()
    link = build_link(env, "net", scenario.networks["net"], lambda c: Draws(component_rng(5, 0, c)))
    received: list[tuple[int, float]] = []
    send = link.connect("m[0]", "up", lambda p, when: received.append((p.msg.instance, when)), 1)
    sent_at = [0.001 * n for n in range(5000)]
    for n, t in enumerate(sent_at):
        send(Packet(Message(None, n, "t", 100, 0, t, None), ()), t)  # type: ignore[arg-type]
    env.run()
    assert [n for n, _ in received] == list(range(5000))
    when = np.array([w for _, w in received])
    assert np.all(np.diff(when) >= 0.0)
    assert np.all(when - np.array(sent_at) >= 0.001 - 1e-12)
    assert np.all(when - np.array(sent_at) <= 0.050 + 1e-12)
    # held back: the mean is the running maximum's (about 42 ms), not the law's 25.5 ms
    assert (when - np.array(sent_at)).mean() > 0.035


def test_lost_frames_become_delay_not_loss() -> None:
    """A parametric link losing 1 % of frames, 2 ms latency, one message every 10 ms for 400 s.

    TCP retransmits: nothing is dropped (delivered + in flight = published). A lost message waits at
    least one retransmission timeout (Linux floor 200 ms), so the maximum latency is at least
    202 ms; since the timeout here (200 ms + one 4 ms round trip) spans 20 periods, a loss holds back
    the 21 messages from it on; with doubling timeouts for repeated losses, a message is on time with
    probability prod_j P(extra delay of message n - j <= 10 ms j) = about 0.806, so the median stays
    exactly the base latency and the fraction of late messages is about 0.194 (checked within three
    batch-means standard errors). Recovery by timeout only: a duplicate-ACK threshold of 100 takes
    1 s of later messages, longer than the timeout (fast retransmit: tests/test_tcp.py).
    """
    base = 0.002
    scenario = plant_scenario(
        streams={"s": {"topic": "t", "every": "10ms", "payload": "100B"}},
        network={"kind": "parametric", "latency": "2ms", "loss": "1%", "overhead": "0B"},
        duration="401s",
        warmup="1s",
    )
    scenario = scenario.model_copy(update={"tcp": Tcp(dupack_threshold=100)})
    results = run_scenario(scenario)
    row = results.stream("m", "s", "sink")
    assert row.dropped == 0
    assert row.delivered + row.in_flight == row.published == 40_000
    assert row.latency("max") >= 0.200 + base
    assert row.latency("p50") == pytest.approx(base, abs=1e-12)

    rto = 0.200 + 2 * base
    loss = 0.01

    def p_extra_at_most(limit: float) -> float:
        # extra delay is rto (2^m - 1) after m losses in a row: probability loss^m (1 - loss)
        total, m = 1.0 - loss, 1
        while rto * (2**m - 1) <= limit:
            total += loss**m * (1.0 - loss)
            m += 1
        return total

    on_time = math.prod(p_extra_at_most(0.010 * j) for j in range(200))
    assert on_time == pytest.approx(0.806, abs=0.002)
    samples = results.samples[row.key]
    batches = np.array_split(samples > base + 1e-9, 20)
    fractions = np.array([b.mean() for b in batches])
    half = 3 * fractions.std(ddof=1) / math.sqrt(fractions.size)
    assert half < 0.25 * (1 - on_time)
    assert abs(fractions.mean() - (1 - on_time)) <= half, (fractions.mean(), 1 - on_time, half)


# ---------------------------------------------------------------------------- topic routing


def routing_scenario() -> Scenario:
    """Robots and CNCs publish under plant/..., a lab bench publishes where nobody listens."""

    def machine(topic: str) -> dict[str, Any]:
        return {
            "count": 2,
            "network": "lan",
            "broker": "edge",
            "streams": {"s": {"topic": topic, "every": "10ms", "payload": "100B"}},
        }

    return Scenario.model_validate(
        no_hosts(
            {
                "name": "routing",
                "duration": "5s",
                "warmup": "0.5s",
                "seed": 3,
                "networks": {
                    "lan": {"kind": "parametric", "latency": "1ms"},
                    "wan": {"kind": "parametric", "latency": "8ms"},
                },
                "brokers": {
                    "edge": {"service_time": "20us", "fanout_time": "10us", "per_byte_time": "0s"},
                    "central": {
                        "service_time": "20us",
                        "fanout_time": "10us",
                        "per_byte_time": "0s",
                    },
                },
                "bridges": {
                    "up": {"from": "edge", "to": "central", "network": "wan", "topics": ["plant/#"]}
                },
                "machines": {
                    "robot": machine("plant/line3/robot/{id}/joints"),
                    "cnc": machine("plant/line3/cnc/{id}/spindle"),
                    "lab": machine("lab/bench/{id}/temp"),
                },
                "subscribers": {
                    "robots": {"broker": "edge", "topics": ["plant/line3/robot/+/joints"]},
                    "scada": {"broker": "edge", "topics": ["plant/#"]},
                    "historian": {"broker": "central", "topics": ["plant/#"]},
                },
            }
        )
    )


def test_topic_filters_and_bridge_decide_the_rows() -> None:
    """``plant/line3/robot/+/joints`` gets only robots; ``plant/#`` at the edge gets robots and CNCs;
    the bridge forwards ``plant/#`` so the central historian gets both too; the lab's ``lab/...``
    topic matches nothing and makes no row."""
    results = run_scenario(routing_scenario(), keep_samples=False)
    assert_conserved(results)
    assert {r.key for r in results.streams} == {
        ("robot", "s", "robots"),
        ("robot", "s", "scada"),
        ("robot", "s", "historian"),
        ("cnc", "s", "scada"),
        ("cnc", "s", "historian"),
    }
    for row in results.streams:
        assert row.published == 2 * 450  # 2 machines, every 10 ms, 4.5 s window
        assert row.dropped == 0


@pytest.mark.parametrize("machine", ["robot", "cnc"])
def test_bridged_copy_is_later_by_the_bridge_path(machine: str) -> None:
    """Each message reaches the central historian later than the edge scada by at least the WAN's
    8 ms. Exactly, when no broker queues: the edge broker sends the bridge's copy after the
    subscribers' copies (10 us fan-out each: the bridge copy is 10 us after scada's for both topics,
    as robots' copy, when there is one, precedes scada's), then 8 ms of WAN, then the central broker's
    20 us service and 10 us fan-out: 8.04 ms. Queueing at the central broker can only add to it."""
    plant = Plant(routing_scenario())
    plant.run()
    central = plant.rows[(machine, "s", "historian")]
    edge = plant.rows[(machine, "s", "scada")]
    at_edge = {
        (i, p): d
        for i, p, d in zip(
            edge.delivered_instance, edge.delivered_published_at, edge.delivered_at, strict=True
        )
    }
    diffs = np.array(
        [
            d - at_edge[(i, p)]
            for i, p, d in zip(
                central.delivered_instance,
                central.delivered_published_at,
                central.delivered_at,
                strict=True,
            )
        ]
    )
    assert diffs.size > 800
    assert diffs.min() >= 0.00804 - 1e-9
    assert np.median(diffs) == pytest.approx(0.00804, abs=1e-9)


# ---------------------------------------------------------------------------- Ethernet


@pytest.mark.parametrize(("switch_latency", "expected"), [("0s", 0.01224), ("5us", 0.01225)])
def test_ethernet_store_and_forward_is_per_frame(switch_latency: str, expected: float) -> None:
    """A 150 kB message over 3 hops of 100 Mbit/s, no overhead (1500 B frames: 100 of them).

    The access link serialises the message in 150000 * 8 / 1e8 = 12 ms; each later hop forwards a
    frame as soon as it has it, so only the last frame's 0.12 ms at each of the two switch hops adds
    up: 12.24 ms, plus one switch latency per switch (2 x 5 us). A per-message store-and-forward
    would take 36 ms.
    """
    scenario = plant_scenario(
        streams={"s": {"topic": "t", "every": "1s", "payload": "150kB"}},
        network={
            "kind": "ethernet",
            "hops": 3,
            "rate": "100Mbps",
            "switch_latency": switch_latency,
            "overhead": "0B",
        },
        duration="5s",
        warmup="0s",
    )
    results = run_scenario(scenario)
    row = results.stream("m", "s", "sink")
    assert row.delivered >= 4
    np.testing.assert_allclose(results.samples[row.key], expected, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------- deadlines


def test_deadline_miss_ratio() -> None:
    """A constant 5 ms link: every copy misses a 4 ms deadline (ratio 1.0), none misses 6 ms (0.0)."""
    streams = {
        name: {
            "topic": f"t/{name}",
            "every": "10ms",
            "payload": "100B",
            "requirement": {"deadline": deadline},
        }
        for name, deadline in (("tight", "4ms"), ("loose", "6ms"))
    }
    results = run_scenario(
        plant_scenario(
            streams=streams,
            network={"kind": "parametric", "latency": "5ms"},
            warmup="1s",
        ),
        keep_samples=False,
    )
    tight = results.stream("m", "tight", "sink")
    loose = results.stream("m", "loose", "sink")
    assert tight.deadline_miss_ratio == 1.0
    assert loose.deadline_miss_ratio == 0.0
    assert tight.latency("max") == pytest.approx(0.005, abs=1e-9)
    assert loose.latency("p50") == pytest.approx(0.005, abs=1e-9)
