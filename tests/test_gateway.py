"""The fieldbus gateway (``kind: gateway``, sim.models.links.gateway) as a specification.

The gateway reads device ``i`` at ``s_i(k) = phase + i T + k C`` (``T`` the transaction time, ``C``
the cycle: the poll period, or ``n T`` when the reads of the ``n`` devices take longer), and publishes
what it read at ``s_i(k) + T + processing``. A sample published at ``t`` is taken by the first read
with ``s_i(k) >= t``, unless a newer sample of the same stream overwrites it first: then it is
dropped at the newer sample's publish time.

Expected figures are derived in each docstring. Statistical checks use an interval of three standard
errors around the mean of independent estimates (one per device: each device's phase is independent
of the gateway's), which must also be narrow enough to tell the theory from its closest rival.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import STANDARD_ERRORS, assert_within_ci, plant_scenario, run_plant

from sim.engine import ConservationError, Plant, run_scenario
from sim.models.draws import Draws, component_rng
from sim.models.links import build_link
from sim.models.links.base import Deliver, Direction, Link
from sim.models.links.gateway import GatewayLink
from sim.models.message import Message, Packet
from sim.scenario.schema import GatewayNetwork, Scenario

POLL, T, PROCESSING = 0.100, 0.002, 0.001


def gateway_scenario(
    *,
    streams: dict[str, dict[str, Any]],
    count: int,
    gateway: dict[str, Any] | None = None,
    networks: dict[str, Any] | None = None,
    machines: dict[str, Any] | None = None,
    duration: str = "20s",
    warmup: str = "1s",
    seed: int = 1,
    replications: int = 1,
) -> Scenario:
    """``count`` devices of class ``dev`` behind gateway ``gw`` (100 ms poll, 2 ms per read, 1 ms
    processing unless ``gateway`` says otherwise), publishing to a free broker and one subscriber."""
    return plant_scenario(
        name="gateway",
        duration=duration,
        warmup=warmup,
        seed=seed,
        replications=replications,
        network={
            "kind": "gateway",
            "poll_period": "100ms",
            "transaction_time": "2ms",
            "processing": "1ms",
            **(gateway or {}),
        },
        net="gw",
        networks=networks,
        machine="dev",
        count=count,
        streams=streams,
        machines=machines,
    )


def next_read(t: np.ndarray, phase: float, index: np.ndarray, cycle: float) -> np.ndarray:
    """The start of the first read of device ``index`` at or after ``t``, computed by hand."""
    offset = phase + index * T
    k = np.maximum(np.ceil((t - offset) / cycle), 0.0)
    start = offset + k * cycle
    return np.where(start >= t, start, start + cycle)


def delivered(plant: Plant, stream: str = "s") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Publish times, latencies and device indexes of the delivered copies of ``dev/stream``."""
    row = plant.rows[("dev", stream, "sink")]
    published = np.asarray(row.delivered_published_at)
    latency = np.asarray(row.delivered_at) - published
    return published, latency, np.asarray(row.delivered_instance)


def per_device_means(values: np.ndarray, devices: np.ndarray, count: int) -> np.ndarray:
    return np.asarray([values[devices == i].mean() for i in range(count)])


# ------------------------------------------------------------------------- exact sample paths


@pytest.mark.parametrize(
    ("count", "cycle"),
    [
        pytest.param(8, POLL, id="8 devices: the reads fit in the 100 ms poll period"),
        pytest.param(60, 60 * T, id="60 devices x 2 ms: the cycle stretches to 120 ms"),
    ],
)
def test_each_sample_is_published_after_the_next_read_of_its_device(
    count: int, cycle: float
) -> None:
    """Every delivered sample's latency is, to 1e-9 s, the wait from its publish time to the next
    read of its device (device ``i`` read ``i`` transactions into the cycle), plus the transaction
    and the processing; a stream slower than the cycle (every 370 ms) loses nothing."""
    scenario = gateway_scenario(
        streams={"s": {"topic": "d/{id}", "every": "370ms", "jitter": "20ms", "payload": "16B"}},
        count=count,
        duration="12s",
    )
    plant = run_plant(scenario)
    link = plant.links["gw"]
    assert isinstance(link, GatewayLink)
    assert link.cycle == pytest.approx(cycle)
    published, latency, device = delivered(plant)
    assert published.size > 25 * count
    read = next_read(published, link.phase, device, cycle)
    np.testing.assert_allclose(latency, read - published + T + PROCESSING, rtol=0, atol=1e-9)
    (record,) = plant.records()
    assert record.dropped == 0
    assert record.published == record.delivered + record.in_flight


def test_a_newer_sample_supersedes_the_unread_one() -> None:
    """One device, Poisson samples at 25/s (several per 100 ms cycle). Of the samples between two
    reads only the last is published, at the read + T + processing; each earlier one is dropped at
    the moment the next sample of the stream overwrote it. Samples after the last read are held."""
    scenario = gateway_scenario(
        streams={"s": {"topic": "d", "poisson": "25/s", "payload": "16B"}},
        count=1,
        duration="10s",
        warmup="0s",
    )
    plant = run_plant(scenario)
    link = plant.links["gw"]
    row = plant.rows[("dev", "s", "sink")]
    held = [packet.msg.t_pub for packet in link.held()]
    every = np.sort(np.concatenate([row.delivered_published_at, row.dropped_published_at, held]))
    assert every.size == row.published
    reads = next_read(every, link.phase, np.zeros(every.size), POLL)
    last_of_read = np.append(reads[1:] != reads[:-1], True)
    taken = last_of_read & (reads <= scenario.duration)
    np.testing.assert_array_equal(np.sort(row.delivered_published_at), every[taken])
    np.testing.assert_allclose(
        np.sort(row.delivered_at), reads[taken] + T + PROCESSING, rtol=0, atol=1e-9
    )
    dropped = ~last_of_read
    np.testing.assert_array_equal(np.asarray(row.dropped_published_at), every[dropped])
    np.testing.assert_array_equal(np.asarray(row.dropped_at), every[1:][dropped[:-1]])
    assert held == list(every[last_of_read & (reads > scenario.duration)])
    assert 0.6 < len(row.dropped_at) / every.size < 0.8  # 1 - (1 - e^-2.5) / 2.5 = 0.63


# --------------------------------------------------------------------------- mean added age


def test_mean_age_of_a_slow_periodic_device_is_half_a_cycle_more() -> None:
    """A periodic device slower than the cycle (every 370 ms, cycle C = 100 ms) loses nothing, and
    its sample's age at the broker is W + T + processing, where W is the wait from the publish time
    to the next read of the device, at s_i(k) = phase + i T + k C. The device's position i only
    shifts its reads; with a release jitter as long as the cycle (uniform on [0, 100 ms]), each
    publish time falls uniformly in the cycle, so W is uniform on (0, C] whatever i: mean age
    C/2 + T + processing = 50 + 2 + 1 = 53 ms. One estimate per device; 50 devices (their reads
    fill the cycle exactly), 200 s; the interval (about +/- 0.5 ms) excludes a model that forgot
    the transaction or the processing."""
    count = 50
    scenario = gateway_scenario(
        streams={"s": {"topic": "d/{id}", "every": "370ms", "jitter": "100ms", "payload": "16B"}},
        count=count,
        duration="200s",
        seed=11,
    )
    plant = run_plant(scenario)
    _, latency, device = delivered(plant)
    (record,) = plant.records()
    assert record.dropped == 0
    theory = POLL / 2 + T + PROCESSING
    assert_within_ci(per_device_means(latency, device, count), theory, "mean age", narrow=0.015)


def test_mean_age_and_loss_of_a_poisson_device() -> None:
    """A Poisson device at lambda = 2/s behind a C = 100 ms cycle. A sample published u before the
    read that would take it (u uniform on (0, C)) is published only if no newer sample comes in
    those u seconds, with probability e^(-lambda u). So the fraction dropped is
    1 - (1 - e^(-lambda C)) / (lambda C) = 9.37 %, and the wait of a published sample has density
    proportional to e^(-lambda u) on (0, C): mean 1/lambda - C e^(-lambda C) / (1 - e^(-lambda C))
    = 48.34 ms, below the C/2 = 50 ms of a device that is never superseded (the interval must
    exclude 50 ms + T + processing). Mean age 48.34 + 2 + 1 = 51.34 ms."""
    count, rate = 40, 2.0
    scenario = gateway_scenario(
        streams={"s": {"topic": "d/{id}", "poisson": f"{rate}/s", "payload": "16B"}},
        count=count,
        duration="200s",
        seed=12,
    )
    plant = run_plant(scenario)
    _, latency, device = delivered(plant)
    decay = math.exp(-rate * POLL)
    wait = 1 / rate - POLL * decay / (1 - decay)
    theory = wait + T + PROCESSING
    means = per_device_means(latency, device, count)
    assert_within_ci(means, theory, "mean age", narrow=0.02)
    never_superseded = POLL / 2 + T + PROCESSING
    half = STANDARD_ERRORS * means.std(ddof=1) / math.sqrt(count)
    assert abs(means.mean() - never_superseded) > half

    row = plant.rows[("dev", "s", "sink")]
    (record,) = plant.records()
    loss = 1 - (1 - decay) / (rate * POLL)
    assert record.dropped / record.published == pytest.approx(
        loss, abs=STANDARD_ERRORS * math.sqrt(loss * (1 - loss) / record.published)
    )
    assert len(row.dropped_at) >= record.dropped  # (the warm-up's drops are not counted)


# ---------------------------------------------------------------------- accounting in a run


def test_superseded_samples_are_dropped_and_conservation_holds() -> None:
    """Devices publishing every 30 ms behind a 100 ms cycle: one sample in 100/30 = 3.3 gets
    through, 70 % are superseded and counted as dropped; the samples still in the registers at the
    end are in flight, and published = delivered + dropped + in flight in every replication."""
    count = 10
    scenario = gateway_scenario(
        streams={"s": {"topic": "d/{id}", "every": "30ms", "payload": "16B"}},
        count=count,
        duration="10s",
        replications=3,
    )
    result = run_scenario(scenario)  # checks conservation, replication by replication
    (row,) = result.streams
    assert row.published == row.delivered + row.dropped + row.in_flight
    assert row.dropped / row.published == pytest.approx(0.7, abs=0.01)
    # one delivery per device per 100 ms cycle over the 9 s window, 3 replications
    assert row.delivered == pytest.approx(3 * count * 9.0 / POLL, abs=3 * count * 2)
    assert 0 < row.in_flight <= 3 * count * 2  # a register's sample, and at most one on its way


def test_unread_registers_are_in_flight_through_held() -> None:
    """The engine counts the samples in the gateway's registers at the end as in flight through
    ``Link.held()``; without them the conservation check fails."""
    scenario = gateway_scenario(
        streams={"s": {"topic": "d/{id}", "every": "30ms", "payload": "16B"}},
        count=10,
        duration="5s",
    )
    plant = Plant(scenario)
    plant.run()
    link = plant.links["gw"]
    held = link.held()
    assert held, "devices publishing every 30 ms hold a sample at almost any moment"
    assert all(packet.msg.t_pub <= scenario.duration for packet in held)
    (record,) = plant.records()
    assert record.in_flight >= len(held)
    link.held = lambda: []  # type: ignore[method-assign]
    with pytest.raises(ConservationError):
        plant.records()


# ----------------------------------------------------------------------- upstream and TCP


def test_publishing_across_an_upstream_network_adds_its_latency() -> None:
    """With ``upstream: lan`` (parametric, constant 4 ms, no rate limit), every sample arrives 4 ms
    after it would have without the upstream network: the next read, T, processing, then 4 ms. A
    machine on the LAN itself shares the network (so the gateway's connection is one of two)."""
    scenario = gateway_scenario(
        streams={"s": {"topic": "d/{id}", "every": "370ms", "payload": "16B"}},
        count=12,
        gateway={"upstream": "lan"},
        networks={"lan": {"kind": "parametric", "latency": "4ms"}},
        machines={
            "plc": {
                "network": "lan",
                "broker": "b",
                "streams": {"s": {"topic": "plc", "every": "10ms", "payload": "100B"}},
            }
        },
        duration="10s",
    )
    plant = run_plant(scenario)
    link = plant.links["gw"]
    published, latency, device = delivered(plant)
    read = next_read(published, link.phase, device, POLL)
    np.testing.assert_allclose(
        latency, read - published + T + PROCESSING + 0.004, rtol=0, atol=1e-9
    )
    plc = plant.rows[("plc", "s", "sink")]
    np.testing.assert_allclose(
        np.asarray(plc.delivered_at) - np.asarray(plc.delivered_published_at), 0.004, atol=1e-12
    )


class Recorder(Link):
    """A stand-in upstream network that records its connections and what is sent on them."""

    kind = "recorder"

    def __init__(self) -> None:
        self.connections: list[tuple[str, Direction, int]] = []
        self.sent: list[tuple[str, float]] = []

    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        self.connections.append((client, direction, feeders))
        return lambda packet, when: self.sent.append((packet.msg.topic, when))


def test_all_devices_share_the_gateways_one_connection() -> None:
    """However many devices attach, the gateway opens one connection upstream, named after it, on
    the first attach; it sends on it in time order, device 0 before device 1 within a cycle."""
    import simpy

    env = simpy.Environment()
    config = GatewayNetwork.model_validate({"kind": "gateway", "transaction_time": "2ms"})
    link = build_link(env, "gw", config, lambda name: Draws(component_rng(1, 0, name)))
    upstream = Recorder()
    link.bind_upstream(upstream, 3)
    sends = [link.connect(f"dev[{i}]", "up", lambda p, w: None, 4) for i in range(4)]
    assert upstream.connections == [("gateway:gw", "up", 3)]
    for i in (3, 1, 0, 2):  # written in this order, all before the first read
        msg = Message(None, i, f"d/{i}", 10, 0, 0.0, None)  # type: ignore[arg-type]
        sends[i](Packet(msg, ()), 0.0)
    env.run(until=1.0)
    assert isinstance(link, GatewayLink)
    reads = [link.phase + i * 0.002 + 0.002 + 0.001 for i in range(4)]
    assert upstream.sent == [(f"d/{i}", pytest.approx(reads[i], abs=1e-12)) for i in range(4)]


def test_one_tcp_connection_delivers_in_order_across_devices() -> None:
    """Behind the gateway, samples of different devices leave 2 ms apart and cross an upstream
    network whose latency is uniform on [0, 60 ms]: on the gateway's one TCP connection, a late
    sample holds back the later ones of every device, so deliveries keep the gateway's sending
    order. The same devices with their own connections (straight on the network) overtake each
    other, which shows the check can fail."""
    lan = {"kind": "parametric", "latency": {"uniform": ["0ms", "60ms"]}}
    streams = {"s": {"topic": "d/{id}", "every": "100ms", "payload": "16B"}}
    scenario = gateway_scenario(
        streams=streams, count=30, gateway={"upstream": "lan"}, networks={"lan": lan}
    )
    plant = run_plant(scenario)
    link = plant.links["gw"]
    published, _, device = delivered(plant)
    sent = next_read(published, link.phase, device, POLL) + T + PROCESSING
    order = np.lexsort((device, sent))
    arrival = np.asarray(plant.rows[("dev", "s", "sink")].delivered_at)[order]
    assert np.all(np.diff(arrival) >= 0)
    assert np.any(np.diff(arrival) == 0)  # held back: delivered with the late one before it

    direct = scenario.model_copy(
        update={
            "networks": {"lan": scenario.networks["lan"]},
            "machines": {"dev": scenario.machines["dev"].model_copy(update={"network": "lan"})},
        }
    )
    row = run_plant(direct).rows[("dev", "s", "sink")]
    arrival = np.asarray(row.delivered_at)[np.argsort(row.delivered_published_at)]
    assert np.any(np.diff(arrival) < -0.001)


# ------------------------------------------------------------------------------ protocol


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        pytest.param({}, 0.002, id="Modbus/TCP: 2 ms"),
        pytest.param({"protocol": "profibus_dp"}, 0.0003, id="PROFIBUS DP: 0.3 ms"),
        pytest.param(
            {"protocol": "profibus_dp", "transaction_time": "2ms"}, 0.002, id="given: as given"
        ),
    ],
)
def test_transaction_time_follows_the_protocol_unless_given(
    written: dict[str, Any], expected: float
) -> None:
    """A transaction time the scenario does not give follows the protocol: a PROFIBUS DP data
    exchange at 1.5 Mbit/s takes about 0.3 ms, a Modbus/TCP request and response about 2 ms."""
    import simpy

    config = GatewayNetwork.model_validate({"kind": "gateway", **written})
    link = build_link(
        simpy.Environment(), "gw", config, lambda name: Draws(component_rng(1, 0, name))
    )
    assert isinstance(link, GatewayLink)
    assert link.transaction_time == expected
