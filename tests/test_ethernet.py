"""Switched Ethernet: link rates, bursty cross traffic and 802.1p strict-priority output queues.

Statistical checks follow tests/test_queueing_theory.py: a scenario runs ``R`` independent
replications, each gives one estimate (the mean latency of its messages), and the theoretical value
must lie within three standard errors of the mean of the estimates; the interval must also be narrow
(a few per cent), so that a run too short to tell right from wrong cannot pass. Exact checks compare
an event log or a sample path with times derived by hand.

The shared-port scenario of the statistical checks: Ethernet, ``hops: 2``, 10 Mbit/s, no switch
latency, no framing overhead (the wire carries exactly the payload). Twenty machines each publish a
Poisson stream of 50 messages/s of 250 B (s = 0.2 ms per hop), so the shared port sees the
superposition of twenty lightly loaded (rho = 0.01) access ports: very nearly a Poisson stream of
lambda_1 = 1000/s, rho_1 = 0.2. Cross traffic of 1500 B frames (D = 1.2 ms) at load 0.5 joins at the
shared port: lambda_c = 416.7/s. A message's latency is its access-port wait (M/D/1, lambda 50/s:
50 s^2 / (2 (1 - 50 s)) = 1.01 us), its two frame times 2 s, and its wait W at the shared port.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
import yaml
from helpers import assert_within_ci, plant_scenario

from sim.engine import Plant, run_replication, run_scenario
from sim.models.links.base import CrossTraffic, Frame
from sim.models.links.ethernet import TRAFFIC_CLASSES, PriorityPort
from sim.models.message import Message, Packet
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

KEY = ("m", "s", "sink")

MBPS10 = 8.0 / 10e6  # seconds per byte at 10 Mbit/s
S = 250 * MBPS10  # telemetry frame time, 0.2 ms
D = 1500 * MBPS10  # cross-traffic frame time, 1.2 ms
LAMBDA_1 = 20 * 50.0  # telemetry frames per second at the shared port
LAMBDA_C = 0.5 / D  # cross-traffic frames per second at load 0.5
ACCESS_WAIT = 50.0 * S * S / (2 * (1 - 50.0 * S))  # M/D/1 wait at a machine's own port
RESIDUAL = (LAMBDA_1 * S * S + LAMBDA_C * D * D) / 2  # R = sum lambda_i E[S_i^2] / 2


def shared_port_scenario(
    *,
    queues: int,
    telemetry_priority: int = 7,
    cross_priority: int = 0,
    burst: str | None = None,
    replications: int = 10,
    duration: float = 21.0,
    seed: int = 3,
) -> Scenario:
    """The module's shared-port scenario with ``queues`` priority queues per port."""
    cross: dict[str, Any] = {"load": "50%", "size": "1500B", "priority": cross_priority}
    if burst is not None:
        cross["burst"] = burst
    return plant_scenario(
        name="shared-port",
        duration=f"{duration}s",
        warmup="1s",
        seed=seed,
        replications=replications,
        network={
            "kind": "ethernet",
            "hops": 2,
            "rate": "10Mbps",
            "switch_latency": "0s",
            "overhead": "0B",
            "priority_queues": queues,
            "cross_traffic": cross,
        },
        net="lan",
        count=20,
        streams={
            "s": {
                "topic": "t/{id}",
                "poisson": "50/s",
                "payload": "250B",
                "priority": telemetry_priority,
            }
        },
    )


def mean_latency_per_replication(scenario: Scenario) -> list[float]:
    out = []
    for replication in range(scenario.replications):
        (record,) = run_replication(scenario, replication)
        assert record.key == KEY
        assert record.dropped == 0
        out.append(float(record.latencies.mean()))
    return out


# ------------------------------------------------------------------------------ strict priority


@pytest.fixture(scope="module")
def fifo_poisson() -> list[float]:
    """The shared-port scenario with one FIFO per port (priority_queues 1)."""
    return mean_latency_per_replication(shared_port_scenario(queues=1))


def test_top_priority_telemetry_waits_the_cobham_time() -> None:
    """Non-preemptive strict priority, telemetry (PCP 7, the higher of 2 queues) over office traffic
    (PCP 0): Cobham's formula for the top class, W1 = R / (1 - rho_1), with
    R = (lambda_1 s^2 + lambda_c D^2) / 2 = (1000 (0.2 ms)^2 + 416.7 (1.2 ms)^2) / 2 = 0.32 ms, so
    W1 = 0.32 / 0.8 = 0.4 ms: a telemetry frame waits for the frame being sent and for earlier
    telemetry, never for queued office frames. Mean latency 1.01 us + 0.4 ms + 0.4 ms = 0.801 ms."""
    w1 = RESIDUAL / (1 - LAMBDA_1 * S)
    assert math.isclose(RESIDUAL, 0.32e-3)
    assert w1 == pytest.approx(0.4e-3)
    runs = mean_latency_per_replication(shared_port_scenario(queues=2))
    assert_within_ci(runs, ACCESS_WAIT + 2 * S + w1, "top class, Cobham", narrow=0.02)


def test_one_queue_gives_the_fifo_wait_clearly_larger(fifo_poisson: list[float]) -> None:
    """The same traffic through one FIFO per port waits the Pollaczek-Khinchine time of the mixed
    traffic, W = R / (1 - rho_1 - rho_c) = 0.32 / 0.3 = 1.067 ms, more than twice the priority
    wait: mean latency 1.468 ms against 0.801 ms."""
    w_fifo = RESIDUAL / (1 - LAMBDA_1 * S - 0.5)
    assert w_fifo == pytest.approx(1.0667e-3, rel=1e-4)
    assert_within_ci(fifo_poisson, ACCESS_WAIT + 2 * S + w_fifo, "FIFO, P-K", narrow=0.05)
    w1 = RESIDUAL / (1 - LAMBDA_1 * S)
    assert min(fifo_poisson) > ACCESS_WAIT + 2 * S + 2 * w1


def test_low_priority_telemetry_waits_the_cobham_time_of_the_lower_class() -> None:
    """Priorities the other way round (office traffic PCP 7 over telemetry PCP 0): for the lower
    class Cobham gives W2 = R / ((1 - rho_c)(1 - rho_c - rho_1)) = 0.32 / (0.5 x 0.3) = 2.133 ms,
    twice the FIFO wait. Every frame of the lower class is decided at a service completion, so this
    exercises the port's events while background frames keep arriving."""
    w2 = RESIDUAL / ((1 - 0.5) * (1 - 0.5 - LAMBDA_1 * S))
    assert w2 == pytest.approx(2.1333e-3, rel=1e-4)
    scenario = shared_port_scenario(
        queues=2, telemetry_priority=0, cross_priority=7, replications=16, seed=5
    )
    runs = mean_latency_per_replication(scenario)
    assert_within_ci(runs, ACCESS_WAIT + 2 * S + w2, "lower class, Cobham", narrow=0.06)


def test_one_class_of_a_priority_port_is_the_fifo_exactly() -> None:
    """Two queues, but telemetry and office traffic in the same class (PCP 0 both): the priority
    port, with its real queues and events, must give every message exactly the delivery time of the
    lazy FIFO recursion (same draws: the cross traffic is drawn the same way), to 1e-12 s."""
    runs = []
    for queues in (1, 2):
        plant = Plant(shared_port_scenario(queues=queues, telemetry_priority=0, duration=4.0), 0)
        plant.run()
        row = plant.rows[KEY]
        order = np.lexsort((row.delivered_instance, row.delivered_published_at))
        runs.append(np.asarray(row.delivered_at)[order])
    fifo, priority = runs
    assert fifo.size > 3000
    np.testing.assert_allclose(priority, fifo, rtol=0, atol=1e-12)


@pytest.mark.parametrize("queues", range(2, 9))
def test_recommended_mapping_puts_pcp7_on_top_and_background_lowest(queues: int) -> None:
    """IEEE 802.1Q Table 8-5 with N queues: PCP 7 (network control) gets the top class N - 1, PCP 1
    (background) the lowest class 0, every class 0 to N - 1 is used, and the classes follow the
    standard's order of priorities, lowest first 1 (background), 0 (best effort), 2, 3, ..., 7."""
    classes = TRAFFIC_CLASSES[queues]
    assert classes[7] == queues - 1
    assert classes[1] == 0
    assert sorted(set(classes)) == list(range(queues))
    by_rank = [classes[p] for p in (1, 0, 2, 3, 4, 5, 6, 7)]  # 802.1Q order, lowest first
    assert by_rank == sorted(by_rank)


def frame(size: float, priority: int, name: int) -> Frame:
    msg = Message(None, name, "t", size, 0, 0.0, None, priority)  # type: ignore[arg-type]
    return Frame(Packet(msg, ()), None, size, 1)  # type: ignore[arg-type]


class Steady:
    """Draws whose exponential is always 1: background frames exactly every mean gap."""

    def exponential(self) -> float:
        return 1.0


def test_priority_port_event_log_without_background() -> None:
    """A 2-queue port at 10 Mbit/s (0.8 us per byte). A: 1000 B, PCP 0, at 0 (sent at once, leaves at
    0.8 ms); B: 500 B, PCP 0, at 0.1 ms; C: 100 B, PCP 7, at 0.2 ms. Non-preemptive: A finishes; then
    C, the higher class, goes before B, although B came first: C leaves at 0.88 ms, B at 1.28 ms."""
    env = simpy.Environment()
    log: list[tuple[int, float]] = []
    port = PriorityPort(
        env,
        TRAFFIC_CLASSES[2],
        MBPS10,
        None,
        0,
        lambda f, t: log.append((f.packet.msg.instance, t)),
    )
    for name, size, priority, at in ((0, 1000, 0, 0.0), (1, 500, 0, 1e-4), (2, 100, 7, 2e-4)):
        env.process(_offer_at(env, port, frame(size, priority, name), at))
    env.run()
    assert [n for n, _ in log] == [0, 2, 1]
    np.testing.assert_allclose([t for _, t in log], [0.8e-3, 0.88e-3, 1.28e-3], rtol=0, atol=1e-15)


def _offer_at(env: simpy.Environment, port: PriorityPort, item: Frame, at: float):  # type: ignore[no-untyped-def]
    yield env.timeout(at)
    port.offer(item, env.now)


@pytest.mark.parametrize("burst", [1, 3])
def test_priority_port_event_log_with_background(burst: int) -> None:
    """Background frames of 1.2 ms (1500 B, PCP 0), ``burst`` at a time, arriving every
    1.5 ms x burst (load 0.8), generated lazily. High-priority frames T1 (100 B = 80 us) at 2.0 ms
    and T2 at 2.05 ms.

    One at a time: background frames run 1.5-2.7, 3.0-4.2, 4.5-5.7 ms. T1 arrives during the first
    and waits only for it: it leaves at 2.7 + 0.08 = 2.78 ms, T2 right after at 2.86 ms; the
    background frame due at 3.0 ms still starts at 3.0 ms.
    Bursts of 3 (every 4.5 ms): the first burst arrives at 4.5 ms, so at 2.0 ms the port is idle:
    T1 leaves at 2.08 ms, T2 (arriving during T1) at 2.16 ms.
    Either way a second pair, T3 at 4.6 ms and T4 at 4.61 ms, finds a background frame in service
    since 4.5 ms and waits for it only (to 5.7 ms): they leave at 5.78 and 5.86 ms, ahead of the
    burst's two other frames."""
    env = simpy.Environment()
    log: list[tuple[int, float]] = []
    cross = CrossTraffic(0.8 / D, D, Steady(), burst)  # type: ignore[arg-type]
    port = PriorityPort(
        env,
        TRAFFIC_CLASSES[2],
        MBPS10,
        cross,
        0,
        lambda f, t: log.append((f.packet.msg.instance, t)),
    )
    arrivals = [(1, 2.0e-3), (2, 2.05e-3), (3, 4.6e-3), (4, 4.61e-3)]
    for name, at in arrivals:
        env.process(_offer_at(env, port, frame(100, 7, name), at))
    env.run()
    if burst == 1:
        expected = [2.78e-3, 2.86e-3, 5.78e-3, 5.86e-3]
    else:
        expected = [2.08e-3, 2.16e-3, 5.78e-3, 5.86e-3]
    assert [n for n, _ in log] == [1, 2, 3, 4]
    np.testing.assert_allclose([t for _, t in log], expected, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------ bursty cross traffic


def test_bursty_cross_traffic_waits_the_batch_poisson_time(fifo_poisson: list[float]) -> None:
    """Office traffic in bursts of 15 kB (K = 10 back-to-back frames of 1500 B) at the same load 0.5:
    the bursts are a Poisson process of lambda_c / K = 41.67/s, each a block of work B = K D = 12 ms.
    A Poisson arrival waits the mean unfinished work (PASTA), which for Poisson batches is the
    M/G/1 workload with the batch as one customer (the M^X/D/1 virtual wait):
    W = (lambda_c / K (K D)^2 + lambda_1 s^2) / (2 (1 - rho_c - rho_1)) = (0.06 + 0.00004) / 0.6
    = 10.07 ms: about K times the wait with single Poisson frames (1.07 ms), at the same load."""
    k = 10
    w_burst = (LAMBDA_C / k * (k * D) ** 2 + LAMBDA_1 * S * S) / (2 * (1 - 0.5 - LAMBDA_1 * S))
    assert w_burst == pytest.approx(10.067e-3, rel=1e-3)
    scenario = shared_port_scenario(queues=1, burst="15000B", replications=30, seed=7)
    runs = mean_latency_per_replication(scenario)
    assert_within_ci(runs, ACCESS_WAIT + 2 * S + w_burst, "M^X/D/1 batch wait", narrow=0.06)
    assert min(runs) > 3 * max(fifo_poisson)


def test_priority_shields_telemetry_from_bursts() -> None:
    """With strict priority the bursts do not matter to the top class: its residual term counts
    frames, not bursts (lambda_c D^2 / 2 whatever the batch size), so W1 is the same 0.4 ms as with
    Poisson frames (Cobham), not 10 ms."""
    w1 = RESIDUAL / (1 - LAMBDA_1 * S)
    runs = mean_latency_per_replication(shared_port_scenario(queues=2, burst="15000B", seed=9))
    assert_within_ci(runs, ACCESS_WAIT + 2 * S + w1, "top class with bursts", narrow=0.03)


# ------------------------------------------------------------------------------ link rates


def single_message_scenario(rate: str, payload: str, overhead: str | None) -> Scenario:
    network: dict[str, Any] = {"kind": "ethernet", "hops": 2, "rate": rate, "switch_latency": "5us"}
    if overhead is not None:
        network["overhead"] = overhead
    return plant_scenario(
        name="rates",
        duration="5s",
        network=network,
        net="lan",
        streams={"s": {"topic": "t", "every": "1s", "payload": payload}},
    )


@pytest.mark.parametrize(
    ("rate", "bits_per_second"), [("10Mbps", 10e6), ("1Gbps", 1e9), ("10Gbps", 10e9)]
)
@pytest.mark.parametrize(
    ("payload", "overhead", "wire_bytes"),
    [
        ("1000B", "0B", 1000.0),
        # MQTT PUBLISH: 1 + 1 + 2 + 1 ("t") + 100 = 105 B, + 40 B TCP/IP + 38 B Ethernet = 183 B
        ("100B", None, 183.0),
        # 10 B payload: 15 B of MQTT + 40 B = a 55 B IP packet, a 73 B frame (above the 64 B
        # minimum), 93 B on the wire with preamble and gap
        ("10B", None, 93.0),
    ],
)
def test_frame_times_are_exact_from_10mbps_to_10gbps(
    rate: str, bits_per_second: float, payload: str, overhead: str | None, wire_bytes: float
) -> None:
    """One message a second over 2 idle hops: latency = 2 frame times + one 5 us switch, exactly
    (to 1e-12 s, the rounding of times near 1 s). At 10 Mbit/s a 1000 B frame takes 800 us; at
    10 Gbit/s 0.8 us."""
    results = run_scenario(single_message_scenario(rate, payload, overhead))
    row = results.stream(*KEY)
    assert row.delivered >= 4
    expected = 2 * wire_bytes * 8 / bits_per_second + 5e-6
    np.testing.assert_allclose(results.samples[row.key], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("9Mbps", "must be at least 10 Mbit/s, got '9Mbps'"),
        ("11Gbps", "must be at most 10 Gbit/s, got '11Gbps'"),
        ("40Gbps", "must be at most 10 Gbit/s, got '40Gbps'"),
    ],
)
def test_rates_outside_10mbps_to_10gbps_are_refused(
    tmp_path: Path, rate: str, message: str
) -> None:
    """Ethernet runs from 10 Mbit/s to 10 Gbit/s; other rates are refused at validation, with the
    field's path and the value as written."""
    data = yaml.safe_load(
        yaml.safe_dump(
            {
                "name": "bad-rate",
                "duration": "1s",
                "networks": {"lan": {"kind": "ethernet", "rate": rate}},
                "brokers": {"b": {}},
                "machines": {
                    "m": {
                        "network": "lan",
                        "broker": "b",
                        "streams": {"s": {"topic": "t", "every": "1s", "payload": "1B"}},
                    }
                },
            }
        )
    )
    path = tmp_path / "bad-rate.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.path == "networks.lan.rate"
    assert caught.value.message == f"{message} (Ethernet from 10 Mbit/s to 10 Gbit/s is modelled)"


# ------------------------------------------------------------------------------ whole plants


def test_priority_plant_conserves_and_delivers_in_order() -> None:
    """A plant with every new path at once: 4 priority queues on 3 hops, bursty office traffic, 1 %
    frame loss, a 16 kB TCP window, cameras (150 kB), controllers (PCP 6) and sensors, a subscriber
    behind the LAN (downlink priority ports) and a bridge over a lossy WAN. Every row conserves
    (published = delivered + dropped + in flight, with messages held by TCP or in a port's queue
    counted in flight), nothing is dropped, and each machine's messages reach each subscriber in
    publish order."""
    scenario = Scenario.model_validate(
        {
            "name": "everything",
            "duration": "4s",
            "warmup": "0.5s",
            "seed": 2,
            "replications": 2,
            "tcp": {"window": "16kB"},
            "networks": {
                "lan": {
                    "kind": "ethernet",
                    "hops": 3,
                    "rate": "100Mbps",
                    "priority_queues": 4,
                    "loss": "1%",
                    "cross_traffic": {"load": "30%", "burst": "30kB", "priority": 1},
                },
                "wan": {"kind": "parametric", "latency": {"uniform": ["2ms", "9ms"]}, "loss": "1%"},
            },
            "brokers": {"edge": {}, "central": {}},
            "bridges": {"up": {"from": "edge", "to": "central", "network": "wan", "topics": ["#"]}},
            "machines": {
                "cam": {
                    "count": 2,
                    "network": "lan",
                    "broker": "edge",
                    "streams": {"f": {"topic": "c/{id}", "every": "100ms", "payload": "150kB"}},
                },
                "ctl": {
                    "count": 5,
                    "network": "lan",
                    "broker": "edge",
                    "streams": {
                        "j": {"topic": "j/{id}", "every": "2ms", "payload": "100B", "priority": 6}
                    },
                },
                "env": {
                    "count": 10,
                    "network": "lan",
                    "broker": "edge",
                    "streams": {
                        "t": {
                            "topic": "e/{id}",
                            "poisson": "20/s",
                            "payload": {"uniform": ["20B", "3000B"]},
                        }
                    },
                },
            },
            "subscribers": {
                "scada": {"broker": "edge", "topics": ["#"], "network": "lan"},
                "historian": {"broker": "central", "topics": ["#"]},
            },
        }
    )
    results = run_scenario(scenario, keep_samples=False)
    assert len(results.streams) == 6
    for row in results.streams:
        assert row.published == row.delivered + row.dropped + row.in_flight, row.key
        assert row.dropped == 0
        assert row.delivered > 0
    plant = Plant(scenario, 0)
    plant.run()
    for row in plant.rows.values():
        instance = np.asarray(row.delivered_instance)
        published = np.asarray(row.delivered_published_at)
        delivered = np.asarray(row.delivered_at)
        for machine in np.unique(instance):
            mine = instance == machine
            order = np.argsort(published[mine], kind="stable")
            assert np.all(np.diff(delivered[mine][order]) >= 0.0), (row.key, machine)
