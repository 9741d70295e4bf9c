"""The Wi-Fi model (``kind: wifi``, 802.11 DCF) checked against Bianchi's analysis and hand-derived
figures.

Timing used throughout, from the defaults of ``WifiNetwork`` (65 Mbit/s data, 24 Mbit/s ACK, 9 us
slot, 16 us SIFS, 20 us PHY header, 38 B MAC overhead, 14 B ACK):

- DIFS = SIFS + 2 slots = 34 us; ACK = 20 us + 14 * 8 / 24e6 s = 24.667 us;
- a data frame carrying an IP packet of ``b`` bytes lasts 20 us + (b + 38) * 8 / 65e6 s;
- every transmission, successful or not, keeps the medium busy for the frame, SIFS, the ACK (or the
  ACK timeout / EIFS) and DIFS, so Bianchi's T_s and T_c are both frame + SIFS + ACK + DIFS.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import simpy
from helpers import plant_scenario
from scipy.optimize import brentq

from sim.engine import Plant, run_replication, run_scenario
from sim.models.draws import Draws, component_rng
from sim.models.links.wifi import WifiLink
from sim.scenario.schema import Scenario, WifiNetwork

SLOT = 9e-6
SIFS = 16e-6
DIFS = SIFS + 2 * SLOT
ACK = 20e-6 + 14 * 8 / 24e6  # legacy OFDM preamble and SIGNAL, 14 B at the basic rate


def frame_time(ip_bytes: float) -> float:
    """Seconds on the air of a data frame carrying ``ip_bytes`` of IP packet (default PHY)."""
    return 36e-6 + (ip_bytes + 38) * 8 / 65e6  # HT-mixed preamble, MAC overhead 38 B


def wifi_scenario(
    *,
    network: dict[str, Any],
    stream: dict[str, Any],
    count: int = 1,
    subscribers: dict[str, Any] | None = None,
    duration: str = "10s",
    warmup: str = "1s",
    seed: int = 1,
) -> Scenario:
    """``count`` machines ``m`` on Wi-Fi network ``wlan`` publishing ``stream`` (topic ``p/{id}``)
    to a broker that costs nothing; by default one subscriber ``sink`` next to the broker. One MPDU
    per transmission (``aggregation: 1``) unless ``network`` says: Bianchi's model and the
    hand-derived timelines are for single frames."""
    return plant_scenario(
        name="wifi",
        duration=duration,
        warmup=warmup,
        seed=seed,
        network={"kind": "wifi", "aggregation": 1, **network},
        net="wlan",
        streams={"s": {"topic": "p/{id}", **stream}},
        count=count,
        subscribers=subscribers,
    )


# --------------------------------------------------------------------------- Bianchi (2000)


def bianchi(n: int, config: WifiNetwork, payload: float) -> tuple[float, float]:
    """Saturation throughput (bit/s of IP packet) and collision probability ``p`` of ``n`` stations
    sending IP packets of ``payload`` bytes, from Bianchi's fixed point (JSAC 18(3), eqs. 7, 9, 13):

    tau = 2 (1 - 2p) / ((1 - 2p)(W + 1) + p W (1 - (2p)^m)), written as the equivalent
    2 / (1 + W + p W sum_{k<m} (2p)^k), which has no pole at p = 1/2; p = 1 - (1 - tau)^(n - 1);
    S = Ps Ptr E[P] / ((1 - Ptr) sigma + Ptr Ps Ts + Ptr (1 - Ps) Tc).
    """
    w = config.cw_min + 1
    m = round(math.log2((config.cw_max + 1) / w))

    def tau_of(p: float) -> float:
        return 2.0 / (1.0 + w + p * w * sum((2.0 * p) ** k for k in range(m)))

    p = 0.0
    if n > 1:
        p = brentq(lambda p: p - (1.0 - (1.0 - tau_of(p)) ** (n - 1)), 0.0, 1.0, xtol=1e-14)
    tau = tau_of(p)
    p_tr = 1.0 - (1.0 - tau) ** n
    p_s = n * tau * (1.0 - tau) ** (n - 1) / p_tr
    busy = frame_time(payload) + SIFS + ACK + DIFS  # Ts = Tc
    throughput = p_s * p_tr * payload * 8 / ((1 - p_tr) * SLOT + p_tr * busy)
    return throughput, p


def saturated(n: int, until: float = 8.0, warmup: float = 1.0) -> tuple[float, float]:
    """Throughput (bit/s of IP packet) and collision probability of ``n`` saturated stations,
    driven directly: background stations of 1500 B packets each offered 100 Mbit/s (far above the
    channel's capacity, so their queues never empty), no retry limit in practice (255, the most
    802.11 allows: a frame colliding 255 times in a row does not happen here)."""
    config = WifiNetwork.model_validate(
        {
            "kind": "wifi",
            "retry_limit": 255,
            "background": {"count": n, "rate": "100Mbps", "size": "1500B"},
        }
    )
    env = simpy.Environment()
    link = WifiLink(env, "wlan", config, lambda name: Draws(component_rng(11, 0, name)))
    link.start()
    env.run(until=warmup)
    stats = link.stats
    bytes0, attempts0, collisions0 = stats.payload_bytes, stats.attempts, stats.collisions
    env.run(until=until)
    throughput = (stats.payload_bytes - bytes0) * 8 / (until - warmup)
    p = (stats.collisions - collisions0) / (stats.attempts - attempts0)
    return throughput, p


@pytest.mark.parametrize("n", [5, 10, 20])
def test_saturation_throughput_matches_bianchi(n: int) -> None:
    """n saturated stations carry what Bianchi's fixed point predicts, and collide as often.

    The model implements the chain Bianchi analyses (a busy period counts as one backoff slot), so
    the two differ only by Bianchi's decoupling approximation, which his paper shows to be within
    about 1-2 % of simulation; the run (7 s of about 30,000 transmissions) adds well under 1 %. With
    the default PHY and 1500 B packets the theory gives 33.6, 31.4 and 28.9 Mbit/s, p = 0.27, 0.38,
    0.48.
    """
    config = WifiNetwork.model_validate({"kind": "wifi"})
    theory, p_theory = bianchi(n, config, 1500.0)
    simulated, p_simulated = saturated(n)
    assert simulated == pytest.approx(theory, rel=0.03)
    assert p_simulated == pytest.approx(p_theory, rel=0.05)


@pytest.mark.parametrize("n", [1, 5, 10, 20, 30])
def test_delivered_mqtt_throughput_matches_bianchi_with_the_default_retry_limit(n: int) -> None:
    """n machines publishing over TCP, offered half again what the channel carries, deliver the
    MQTT payload Bianchi's saturation throughput allows, within 3 %, with the default retry limit
    of 7: a segment the MAC gives up on, or a full queue refuses, is sent again by TCP ahead of new
    data (fast retransmit), so losses cost air time, not throughput, and in-order delivery holds
    nothing back for long. Each message is one full frame: 1452 B of payload + 8 B of MQTT header
    (topic p/x) + 40 B of TCP/IP = a 1500 B IP packet, so the payload is 1452/1500 of Bianchi's S.
    (With more than one station Bianchi's model has no retry limit; at 30 stations a frame fails
    7 times in a row with probability 0.53^7, about 1 %: it is sent again, the chain barely moves.)
    """
    config = WifiNetwork.model_validate({"kind": "wifi"})
    theory = bianchi(n, config, 1500.0)[0] * 1452 / 1500
    offered = 1.5 * theory / (1452 * 8 * n)  # messages per second per machine
    scenario = wifi_scenario(
        network={},
        stream={"poisson": f"{offered:.3f}/s", "payload": "1452B", "topic": "p/x"},
        count=n,
        duration="8s",
        warmup="2s",
    )
    result = run_scenario(scenario)
    row = result.streams[0]
    assert row.throughput_bit_s == pytest.approx(theory, rel=0.03)
    assert row.dropped == 0
    assert row.published == row.delivered + row.in_flight


def test_a_full_access_point_drops_counts_and_stays_bounded() -> None:
    """Four wired publishers offer 93 Mbit/s to one subscriber behind the Wi-Fi (about 30 Mbit/s of
    capacity) through an access point holding 100 frames: it tail-drops (counted), never holds
    more than its 100 frames and the one retransmission sent ahead, TCP recovers every dropped
    segment (no message is lost: published = delivered + in flight), and the channel stays busy:
    the subscriber gets what the channel carries for one saturated station, Bianchi's n = 1,
    within 3 %."""
    scenario = plant_scenario(
        name="ap",
        duration="6s",
        warmup="1s",
        network={"kind": "parametric"},
        net="lan",
        networks={"wlan": {"kind": "wifi", "ap_queue": 100, "aggregation": 1}},
        streams={"s": {"topic": "p/x", "poisson": "2000/s", "payload": "1452B"}},
        count=4,
        subscribers={"sink": {"broker": "b", "topics": ["#"], "network": "wlan"}},
    )
    result = run_scenario(scenario)
    row = result.streams[0]
    assert row.dropped == 0
    assert row.published == row.delivered + row.in_flight
    link = result.networks["wlan"]["link"]  # the counts reach summary.json
    assert link["queue_drops_per_s"] > 0 and link["resent_per_s"] > 0
    assert link["longest_queue"] <= 100 + 1
    plant = Plant(scenario)
    plant.run()
    stats = plant.links["wlan"].stats
    assert stats.queue_drops > 0
    assert stats.longest_queue <= 100 + 1
    theory = bianchi(1, WifiNetwork.model_validate({"kind": "wifi"}), 1500.0)[0] * 1452 / 1500
    assert row.throughput_bit_s == pytest.approx(theory, rel=0.03)


def test_one_saturated_station_has_no_collisions() -> None:
    """Alone, a saturated station sends one frame per DIFS + mean backoff (7.5 slots) + frame +
    SIFS + ACK: 1500 B packets give 12000 bit / (34 + 67.5 + 209.29 + 16 + 24.67 us) = 34.1 Mbit/s,
    which is Bianchi's formula with n = 1."""
    simulated, p = saturated(1)
    expected = 1500 * 8 / (DIFS + 7.5 * SLOT + frame_time(1500) + SIFS + ACK)
    assert p == 0.0
    assert simulated == pytest.approx(expected, rel=0.01)
    assert bianchi(1, WifiNetwork.model_validate({"kind": "wifi"}), 1500.0)[0] == pytest.approx(
        expected, rel=1e-9
    )


# --------------------------------------------------------------------------- one idle station


def test_idle_station_latency_is_difs_backoff_frame_sifs_ack_and_backhaul() -> None:
    """One machine on an otherwise silent channel, a 100 B message every 50 ms: each message takes
    DIFS + k slots + frame + SIFS + ACK + latency, with k uniform on 0..15 (CW = cw_min).

    The message is an MQTT PUBLISH of 1 + 1 + (2 + 3 + 100) = 107 B on topic ``p/0``, 147 B as an
    IP packet, a frame of 36 us + 185 B at 65 Mbit/s = 58.769 us; the ACK 20 us + 14 B at 24 Mbit/s
    = 24.667 us. With the 2 ms backhaul: base = 34 + 58.769 + 16 + 24.667 us + 2 ms = 2.133436 ms;
    each latency is base + k * 9 us exactly,
    every k in 0..15 occurs, and the mean is base + 7.5 slots within three standard errors
    (a slot count has standard deviation sqrt((16^2 - 1) / 12) = 4.61 slots).
    """
    scenario = wifi_scenario(
        network={"latency": "2ms"},
        stream={"every": "50ms", "payload": "100B"},
        duration="60s",
    )
    (record,) = run_replication(scenario, 0)
    latencies = record.latencies
    base = DIFS + frame_time(147) + SIFS + ACK + 2e-3
    assert base == pytest.approx(2.133436e-3, abs=1e-9)
    slots = (latencies - base) / SLOT
    assert np.allclose(slots, np.round(slots), atol=1e-6)
    assert set(np.round(slots).astype(int)) == set(range(16))
    assert latencies.min() >= base - 1e-12
    assert latencies.max() <= base + 15 * SLOT + 1e-12
    half = 3 * math.sqrt((16**2 - 1) / 12) * SLOT / math.sqrt(latencies.size)
    assert latencies.mean() == pytest.approx(base + 7.5 * SLOT, abs=half)
    assert record.published == record.delivered > 1000


# --------------------------------------------------------------------------- contention


def test_collision_probability_grows_with_contenders() -> None:
    """Saturated stations collide more the more of them there are: Bianchi gives p = 0.105 for 2
    stations and 0.533 for 30, and the model agrees. Two stations are where Bianchi's decoupling
    approximation is coarsest (long runs of the model give p = 0.111, 6 % above it), hence 10 %
    there; 20 s of two stations hold about 7,000 collided frames; across seeds p varies by 1 %."""
    config = WifiNetwork.model_validate({"kind": "wifi"})
    _, p2 = saturated(2, until=20.0)
    _, p30 = saturated(30, until=4.0)
    assert p2 == pytest.approx(bianchi(2, config, 1500.0)[1], rel=0.10)
    assert p30 == pytest.approx(bianchi(30, config, 1500.0)[1], rel=0.05)
    assert p30 > 4 * p2


def test_thirty_busy_stations_give_a_long_tail() -> None:
    """Thirty machines each sending 100 messages/s of 500 B (the channel about half busy) see
    collisions, doubled windows and retries: the p99 latency is several times the median, and far
    above the p99 of two machines with the same traffic, which hardly ever meet on the channel.

    The median stays near the idle figure: DIFS + 7.5 slots + frame (a 548 B IP packet: 92.1 us)
    + SIFS + ACK = 0.234 ms; two stations almost never collide.
    """
    stream = {"poisson": "100/s", "payload": "500B"}
    few = Plant(wifi_scenario(network={}, stream=stream, count=2, duration="6s"))
    few.run()
    (few_record,) = few.records()
    many = Plant(wifi_scenario(network={}, stream=stream, count=30, duration="6s"))
    many.run()
    (many_record,) = many.records()
    p2 = few.links["wlan"].stats.collision_probability
    p30 = many.links["wlan"].stats.collision_probability
    assert p2 < 0.01 < 0.05 < p30
    idle = DIFS + 7.5 * SLOT + frame_time(548) + SIFS + ACK
    p50_few, p99_few = np.percentile(few_record.latencies, [50, 99])
    p50, p99 = np.percentile(many_record.latencies, [50, 99])
    assert p50_few == pytest.approx(idle, rel=0.05)
    assert p50 < 2 * idle
    assert p99 > 5 * p50
    assert p99 > 4 * p99_few


# --------------------------------------------------------------------------- losses and TCP


def test_frames_lost_by_the_mac_cost_a_tcp_retransmission_not_a_message() -> None:
    """With frame_error_rate 0.5 and retry_limit 2, a frame is discarded by the MAC with
    probability 0.5^2 = 0.25 (collisions are negligible at this load); TCP resends it after its
    200 ms timeout, so about a quarter of the messages arrive 200 ms late or more, none is lost,
    and the others take well under 5 ms.

    Five machines publish one message a second (so that a delayed message does not hold back the
    next one); 100 s give 500 messages: the fraction delayed is 0.25 within three standard errors,
    sqrt(0.25 * 0.75 / 500) each. The subscriber next to the broker sees only the uplink.
    """
    scenario = wifi_scenario(
        network={"frame_error_rate": 0.5, "retry_limit": 2},
        stream={"every": "1s", "payload": "200B"},
        count=5,
        duration="102s",
        warmup="2s",
        seed=4,
    )
    (record,) = run_replication(scenario, 0)
    assert record.dropped == 0
    assert record.published == record.delivered + record.in_flight
    latencies = record.latencies
    late = latencies >= 0.200
    assert np.all(latencies[~late] < 0.005)
    half = 3 * math.sqrt(0.25 * 0.75 / latencies.size)
    assert late.mean() == pytest.approx(0.25, abs=half)


def test_conservation_with_uplink_downlink_background_and_losses() -> None:
    """A whole scenario on one channel: machines publish up the Wi-Fi, two subscribers receive
    down the same Wi-Fi through the access point's one queue, background stations load the channel, frames are
    corrupted and discarded. For every row, published = delivered + dropped + in flight, and no copy
    is dropped (the broker's queues are far from full): every copy not delivered is still held by
    the channel or on its way at the end. The engine checks the same balance; a second run pushes
    the channel past its capacity so that many copies are still queued at the end."""
    subscribers = {
        "scada": {"broker": "b", "topics": ["#"], "network": "wlan"},
        "hmi": {"broker": "b", "topics": ["p/1"], "network": "wlan"},
        "historian": {"broker": "b", "topics": ["#"]},
    }
    network = {
        "frame_error_rate": 0.3,
        "retry_limit": 2,
        "latency": {"uniform": ["1ms", "3ms"]},
        "background": {"count": 3, "rate": "3Mbps"},
    }
    calm = run_scenario(
        wifi_scenario(
            network=network,
            stream={"poisson": "50/s", "payload": {"uniform": ["100B", "3kB"]}},
            count=4,
            subscribers=subscribers,
            duration="8s",
        )
    )
    overloaded = run_scenario(
        wifi_scenario(
            network=network,
            stream={"every": "1ms", "payload": "1kB"},
            count=8,
            subscribers=subscribers,
            duration="4s",
        )
    )
    for results in (calm, overloaded):
        assert len(results.streams) == 3
        for row in results.streams:
            assert row.dropped == 0
            assert row.published == row.delivered + row.in_flight, row.key
    assert max(row.latency("max") for row in calm.streams) >= 0.200
    assert all(row.in_flight > 1000 for row in overloaded.streams)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_results() -> None:
    """The same scenario and seed give the same numbers, sample for sample; another seed does not."""

    def run(seed: int) -> list[Any]:
        scenario = wifi_scenario(
            network={"frame_error_rate": 0.1, "background": {"count": 2, "rate": "5Mbps"}},
            stream={"poisson": "200/s", "payload": "300B"},
            count=6,
            subscribers={"scada": {"broker": "b", "topics": ["#"], "network": "wlan"}},
            duration="3s",
            seed=seed,
        )
        (record,) = run_replication(scenario, 0)
        return [record.published, record.delivered, record.in_flight, record.latencies.tolist()]

    first = run(5)
    assert first == run(5)
    assert first[3] != run(6)[3]


# --------------------------------------------------------------------------- aggregation


@pytest.mark.parametrize(
    ("profile", "rate", "header"),
    [("802.11n", 65e6, 36e-6), ("802.11ac", 780e6, 44e-6), ("802.11ax", 1201e6, 52e-6)],
)
def test_a_message_of_three_segments_goes_in_one_ampdu(
    profile: str, rate: float, header: float
) -> None:
    """4372 B of payload on topic p/0 is an MQTT PUBLISH of 1 + 2 + 2 + 3 + 4372 = 4380 B, three
    full segments, three 1500 B IP packets; with aggregation they go in one A-MPDU: the preamble,
    then three MPDUs of 1500 + 38 B of MAC overhead + a 4 B delimiter, padded to 1544 B, answered
    by a 32 B block ACK at 24 Mbit/s after SIFS. Each message on an idle channel takes DIFS + k
    slots + that + 2 ms of backhaul, k in 0..15."""
    scenario = wifi_scenario(
        network={"profile": profile, "aggregation": 64, "latency": "2ms"},
        stream={"every": "50ms", "payload": "4372B"},
        duration="20s",
    )
    (record,) = run_replication(scenario, 0)
    ampdu = header + 3 * 1544 * 8 / rate
    base = DIFS + ampdu + SIFS + 20e-6 + 32 * 8 / 24e6 + 2e-3
    slots = (record.latencies - base) / SLOT
    assert record.latencies.size > 300
    assert np.allclose(slots, np.round(slots), atol=1e-6)
    assert set(np.round(slots).astype(int)) <= set(range(16))


def test_aggregation_carries_more_of_a_saturated_station() -> None:
    """One saturated 802.11n station, 1500 B IP packets: an A-MPDU holds as many 1544 B MPDUs as
    fit in 65,535 B, 42 of them (8.017 ms at 65 Mbit/s with the preamble), so a cycle is DIFS +
    7.5 slots on average + the A-MPDU + SIFS + block ACK = 8.165 ms for 42 x 1452 B of payload:
    59.7 Mbit/s, against 31.6 Mbit/s one frame at a time (Bianchi, n = 1); within 1 % (the
    backoff's mean over some 700 cycles)."""
    payload = 1452
    cycle = DIFS + 7.5 * SLOT + 36e-6 + 42 * 1544 * 8 / 65e6 + SIFS + 20e-6 + 32 * 8 / 24e6
    expected = 42 * payload * 8 / cycle
    scenario = wifi_scenario(
        network={"aggregation": 64},
        stream={"poisson": "8000/s", "payload": f"{payload}B", "topic": "p/x"},
        duration="8s",
        warmup="2s",
    )
    row = run_scenario(scenario).streams[0]
    assert row.throughput_bit_s == pytest.approx(expected, rel=0.01)
    assert row.published == row.delivered + row.in_flight
