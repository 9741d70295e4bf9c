"""TCP under MQTT: loss recovery (fast retransmit, retransmission timeout), in-order delivery, and
the window, on parametric and Ethernet links.

Exact checks drive one connection of a link directly and choose which segments are lost: the
link's random draws are replaced by a script whose ``uniform()`` returns 0 (a loss, whatever the
loss probability) on the listed calls and 0.5 (no loss) otherwise. With a constant latency and no
rate the only draws of a parametric link are these: one per segment as it arrives, one more when a
lost segment is resent (is the retransmission lost too?). Times are derived by hand in each
docstring. Whole-plant checks use ``run_scenario`` and compare with what follows from the
parameters.

Names: T the period of a stream, L the one-way latency, RTT = 2 L, d = ``dupack_threshold`` (3),
RTO = ``min_rto`` (200 ms) + RTT.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import simpy
from helpers import plant_scenario

from sim.engine import Plant, run_scenario
from sim.models.draws import Draws, component_rng
from sim.models.links import build_link
from sim.models.links.base import Link
from sim.models.message import Message, Packet
from sim.scenario.schema import Scenario, Tcp

KEY = ("m", "s", "sink")


class Scripted:
    """Draws for a link: ``uniform()`` is 0.0 (a loss) on the listed calls (0-based), else 0.5."""

    def __init__(self, lost: tuple[int, ...] = ()) -> None:
        self.lost = set(lost)
        self.calls = 0

    def uniform(self) -> float:
        self.calls += 1
        return 0.0 if self.calls - 1 in self.lost else 0.5

    def exponential(self) -> float:
        return 1.0

    def normal(self) -> float:
        return 0.0


def network(**fields: Any) -> Any:
    """A validated network block."""
    return Scenario.model_validate(
        {
            "name": "n",
            "duration": "1s",
            "networks": {"n": fields},
            "brokers": {"b": {}},
            "machines": {
                "m": {
                    "network": "n",
                    "broker": "b",
                    "streams": {"s": {"topic": "t", "every": "1s", "payload": "1B"}},
                }
            },
        }
    ).networks["n"]


def drive(
    config: Any,
    sends: list[tuple[float, float]],
    lost: tuple[int, ...] = (),
    tcp: Tcp | None = None,
    feeders: int = 1,
) -> tuple[list[tuple[int, float]], Link]:
    """Send messages ``(time, payload bytes)`` on one uplink connection of a fresh link, at their
    times; the ``(message number, delivery time)`` log in delivery order, and the link."""
    env = simpy.Environment()
    script = Scripted(lost)

    def rng_for(component: str) -> Any:
        return script if component == "network:n" else Draws(component_rng(1, 0, component))

    link = build_link(env, "n", config, rng_for, tcp)
    log: list[tuple[int, float]] = []
    send = link.connect("m[0]", "up", lambda p, when: log.append((p.msg.instance, when)), feeders)
    for number, (at, size) in enumerate(sends):
        if at > env.now:
            env.run(until=at)
        send(Packet(Message(None, number, "t", size, 0, at, None), ()), at)  # type: ignore[arg-type]
    env.run()
    return log, link


def latencies(log: list[tuple[int, float]], sends: list[tuple[float, float]]) -> list[float]:
    assert [n for n, _ in log] == list(range(len(sends))), "delivered out of order or not at all"
    return [when - sends[n][0] for n, when in log]


# ------------------------------------------------------------------------------ loss recovery


def test_fast_retransmit_on_a_busy_connection() -> None:
    """Parametric, L = 5 ms, a 100 B message every T = 1 ms; message 5 (published at 5 ms) is lost.

    Messages 6, 7, 8 arrive at 11, 12, 13 ms, each answered by a duplicate ACK; the third is back at
    the sender at 13 + 5 = 18 ms, which resends message 5 at once: it arrives at 23 ms. Its extra
    delay is d T + RTT = 3 + 10 = 13 ms (latency 18 ms), far under the 210 ms timeout. In-order
    delivery holds messages 6 to 17 (arrived 11 to 22 ms) to 23 ms: latencies 17, 16, ..., 6 ms;
    message 18 arrives at 23 ms, on time."""
    sends = [(n * 1e-3, 100.0) for n in range(30)]
    log, _ = drive(network(kind="parametric", latency="5ms", loss="1%", overhead="0B"), sends, (5,))
    expected = [5e-3] * 5 + [(18 - j) * 1e-3 for j in range(13)] + [5e-3] * 12
    np.testing.assert_allclose(latencies(log, sends), expected, rtol=0, atol=1e-12)


def test_timeout_on_a_sparse_connection() -> None:
    """The same link, one message a second; message 2 is lost. No later segment comes within the
    timeout, so it is resent after RTO = 200 ms + RTT 10 ms: latency 5 + 210 = 215 ms; the next
    message, a second later, is not held back."""
    sends = [(float(n), 100.0) for n in range(5)]
    log, link = drive(
        network(kind="parametric", latency="5ms", loss="1%", overhead="0B"), sends, (2,)
    )
    np.testing.assert_allclose(
        latencies(log, sends), [5e-3, 5e-3, 215e-3, 5e-3, 5e-3], rtol=0, atol=1e-12
    )
    assert link.rto == pytest.approx(0.210)  # type: ignore[attr-defined]


def test_min_rto_and_dupack_threshold_come_from_the_scenario() -> None:
    """``tcp: {min_rto: 1s, dupack_threshold: 5}``: on the busy connection the fifth later segment
    (message 10, arriving at 15 ms) triggers the resend: extra delay 5 T + RTT = 15 ms, latency
    20 ms; on the sparse one the timeout is 1 s + 10 ms: latency 1.015 s."""
    tcp = Tcp(min_rto="1s", dupack_threshold=5)
    config = network(kind="parametric", latency="5ms", loss="1%", overhead="0B")
    busy = [(n * 1e-3, 100.0) for n in range(30)]
    log, _ = drive(config, busy, (5,), tcp)
    assert latencies(log, busy)[5] == pytest.approx(20e-3, abs=1e-12)
    sparse = [(float(n), 100.0) for n in range(4)]
    log, _ = drive(config, sparse, (1,), tcp)
    assert latencies(log, sparse)[1] == pytest.approx(1.015, abs=1e-12)


def test_a_lost_retransmission_costs_a_timeout() -> None:
    """Busy connection as above; message 5 is lost and so is its fast retransmission (the draw made
    when it is resent, the 10th: after those of messages 0-8). The timer restarted by the resend at
    18 ms fires RTO = 210 ms later: message 5 arrives at 18 + 210 + 5 = 233 ms, latency 228 ms, and
    every message published up to 227 ms waits for it."""
    sends = [(n * 1e-3, 100.0) for n in range(240)]
    log, _ = drive(
        network(kind="parametric", latency="5ms", loss="1%", overhead="0B"), sends, (5, 9)
    )
    got = latencies(log, sends)
    assert got[5] == pytest.approx(228e-3, abs=1e-12)
    assert got[227] == pytest.approx(6e-3, abs=1e-12)
    assert got[228] == pytest.approx(5e-3, abs=1e-12)


@pytest.mark.parametrize("feeders", [1, 3])
def test_fast_retransmit_on_ethernet(feeders: int) -> None:
    """Ethernet, 2 hops of 100 Mbit/s, 5 us switch, no overhead: a 1000 B frame takes 80 us a hop,
    so a message arrives 165 us after it is sent. An ACK is one 84 B minimum frame a hop plus the
    switch: 2 x 6.72 + 5 = 18.44 us. Message 5 (of one every 1 ms) is lost: the third duplicate ACK
    (message 8, arrived at 8.165 ms) is back at 8.18344 ms, the resend arrives 165 us later:
    latency 3.34844 ms; messages 6, 7, 8 wait for it. With several feeders the frames cross the
    shared hop through SimPy events: same times."""
    sends = [(n * 1e-3, 1000.0) for n in range(12)]
    config = network(
        kind="ethernet", hops=2, rate="100Mbps", switch_latency="5us", overhead="0B", loss="1%"
    )
    log, link = drive(config, sends, (5,), feeders=feeders)
    recovered = 8e-3 + 165e-6 + 18.44e-6 + 165e-6
    expected = [165e-6] * 5 + [recovered - n * 1e-3 for n in (5, 6, 7, 8)] + [165e-6] * 3
    np.testing.assert_allclose(latencies(log, sends), expected, rtol=0, atol=1e-12)
    assert link.tcp_path().rto == pytest.approx(0.2 + 2 * 18.44e-6)  # type: ignore[attr-defined]


def lossy_scenario(
    every: str, loss: str, duration: str, tcp: dict[str, Any] | None = None
) -> Scenario:
    return plant_scenario(
        name="lossy",
        duration=duration,
        warmup="1s",
        seed=4,
        network={"kind": "parametric", "latency": "2ms", "loss": loss, "overhead": "0B"},
        streams={"s": {"topic": "t", "every": every, "payload": "100B"}},
        **({"tcp": tcp} if tcp is not None else {}),
    )


def loss_events(plant: Plant, base: float, period: float) -> np.ndarray:
    """Extra delays of the lost messages themselves: a late message whose lateness is not just its
    predecessor's (a message held behind a loss is exactly one period less late than the one
    before it)."""
    row = plant.rows[KEY]
    published = np.asarray(row.delivered_published_at)
    order = np.argsort(published, kind="stable")
    delivered = np.asarray(row.delivered_at)[order]
    extra = delivered - published[order] - base
    assert np.all(np.diff(delivered) >= 0.0)  # in publish order
    held = np.concatenate([[False], np.abs(extra[1:] - (extra[:-1] - period)) < 1e-9])
    return extra[(extra > 1e-9) & ~held]


def test_busy_connection_loses_about_one_round_trip_per_loss() -> None:
    """Parametric, L = 2 ms, a message every T = 1 ms, 0.5 % of segments lost, 60 s: about 300
    losses. None is a lost message (delivered + in flight = published, nothing dropped), delivery is
    in publish order, and a loss costs d T + RTT = 3 + 4 = 7 ms exactly unless something else is
    lost meanwhile (one of the three messages carrying the duplicate ACKs, or the resend: about
    4 x 0.5 % = 2 % of the losses). So the median extra delay of a lost message is 7 ms and at
    least 90 % of them take exactly 7 ms; all are far below the 204 ms timeout but for resends lost
    again. With fast retransmit switched off (a threshold of 300 later segments, Linux's largest,
    0.3 s worth) every loss costs at least the RTO of 204 ms."""
    fast = Plant(lossy_scenario("1ms", "0.5%", "61s"), 0)
    fast.run()
    extra = loss_events(fast, 0.002, 0.001)
    assert 200 < extra.size < 400
    assert np.median(extra) == pytest.approx(7e-3, abs=1e-9)
    assert np.mean(np.abs(extra - 7e-3) < 1e-9) >= 0.9
    assert np.mean(extra < 0.1) >= 0.95

    results = run_scenario(lossy_scenario("1ms", "0.5%", "61s"), keep_samples=False)
    row = results.stream(*KEY)
    assert row.dropped == 0
    assert row.published == row.delivered + row.in_flight == 60_000

    slow = Plant(lossy_scenario("1ms", "0.5%", "61s", {"dupack_threshold": 300}), 0)
    slow.run()
    assert loss_events(slow, 0.002, 0.001).min() >= 0.204 - 1e-9


def test_sparse_connection_waits_the_timeout_for_every_loss() -> None:
    """One message a second, L = 2 ms, 5 % loss, 2000 s: about 100 losses, no later segment within
    a timeout, so each costs RTO (2^(m+1) - 1) after m further losses of its resends: 204 ms, then
    612 ms, ... The smallest extra delay is 204 ms (>= min_rto), the median 204 ms, and none is
    anything else."""
    plant = Plant(lossy_scenario("1s", "5%", "2001s"), 0)
    plant.run()
    extra = loss_events(plant, 0.002, 1.0)
    assert 60 < extra.size < 140
    assert extra.min() == pytest.approx(0.204, abs=1e-9)
    assert np.median(extra) == pytest.approx(0.204, abs=1e-9)
    allowed = 0.204 * (2.0 ** np.arange(1, 6) - 1)
    assert all(np.min(np.abs(allowed - x)) < 1e-9 for x in extra)


def test_lossy_ethernet_plant_conserves_every_message() -> None:
    """Ten machines on a 3-hop Ethernet losing 2 % of frames, large and small messages, a
    subscriber behind the LAN as well: nothing is dropped or lost (published = delivered + in
    flight, the copies TCP still holds at the end counted in flight), each machine's messages arrive
    in publish order."""
    scenario = Scenario.model_validate(
        {
            "name": "lossy-lan",
            "duration": "6s",
            "warmup": "1s",
            "seed": 8,
            "replications": 2,
            "networks": {"lan": {"kind": "ethernet", "hops": 3, "loss": "2%"}},
            "brokers": {"b": {}},
            "machines": {
                "m": {
                    "count": 10,
                    "network": "lan",
                    "broker": "b",
                    "streams": {
                        "s": {
                            "topic": "t/{id}",
                            "poisson": "200/s",
                            "payload": {"exponential": "3kB"},
                        }
                    },
                }
            },
            "subscribers": {
                "sink": {"broker": "b", "topics": ["#"]},
                "remote": {"broker": "b", "topics": ["#"], "network": "lan"},
            },
        }
    )
    results = run_scenario(scenario, keep_samples=False)
    for row in results.streams:
        assert row.dropped == 0
        assert row.published == row.delivered + row.in_flight, row.key
    plant = Plant(scenario, 0)
    plant.run()
    for row in plant.rows.values():
        instance = np.asarray(row.delivered_instance)
        published = np.asarray(row.delivered_published_at)
        delivered = np.asarray(row.delivered_at)
        for machine in np.unique(instance):
            mine = instance == machine
            order = np.argsort(published[mine], kind="stable")
            assert np.all(np.diff(delivered[mine][order]) >= 0.0)


# ------------------------------------------------------------------------------ window


@pytest.mark.parametrize(("window", "latency_ms"), [("64kB", 100.0), ("1MB", 20.0)])
def test_window_limits_a_large_message_to_one_window_per_round_trip(
    window: str, latency_ms: float
) -> None:
    """A 150 kB message every second over a parametric link of L = 20 ms, unlimited rate, real
    framing: the MQTT packet is 150007 B (topic "t"), 103 segments of 1460 B. With a 64 kB window,
    segments up to byte 64000 leave at once (43 of them, 62780 B); the rest waits for their ACKs,
    back after RTT = 40 ms, which let out segments up to byte 62780 + 64000 (43 more), and the last
    17 after another RTT: ceil(103 / 43) = 3 windows, so 2 RTTs = 80 ms extra: latency 100 ms.
    With a 1 MB window the whole message leaves at once: 20 ms."""
    scenario = plant_scenario(
        name="window",
        duration="5s",
        tcp={"window": window},
        network={"kind": "parametric", "latency": "20ms"},
        streams={"s": {"topic": "t", "every": "1s", "payload": "150kB"}},
    )
    results = run_scenario(scenario)
    row = results.stream(*KEY)
    assert row.delivered >= 4
    np.testing.assert_allclose(results.samples[row.key], latency_ms / 1000, rtol=0, atol=1e-12)


@pytest.mark.parametrize("feeders", [1, 2])
def test_window_clocks_a_transfer_by_its_acks(feeders: int) -> None:
    """A 1 MB message over a parametric link of 100 Mbit/s and L = 10 ms, no overhead: segments of
    1500 B take 0.12 ms each. With a 64 kB window the first 42 segments (63000 B) leave back to back;
    segment j >= 42 waits for the ACK of segment j - 42, which comes RTT + 0.12 ms = 20.12 ms after
    that segment started. So segment j leaves at 20.12 ms x (j // 42) + 0.12 ms x (j % 42); the last,
    j = 666 (1000 B, 0.08 ms), at 15 x 20.12 + 36 x 0.12 = 306.12 ms, and arrives
    0.08 + 10 ms later: 316.2 ms, about 1 MB / (64 kB per round trip). With a 1 MB window: 80 ms of
    serialisation + 10 ms = 90 ms."""
    config = network(kind="parametric", latency="10ms", rate="100Mbps", overhead="0B")
    for window, expected in (("64kB", 0.3162), ("1MB", 0.090)):
        log, _ = drive(config, [(0.0, 1e6)], tcp=Tcp(window=window), feeders=feeders)
        assert latencies(log, [(0.0, 1e6)]) == [pytest.approx(expected, abs=1e-12)]


@pytest.mark.parametrize("feeders", [1, 3])
def test_window_on_ethernet_waits_for_acks_of_frames(feeders: int) -> None:
    """Ethernet, 2 hops of 10 Mbit/s, no switch latency, no overhead, window 3000 B: two 1500 B
    frames in flight. A frame takes D = 1.2 ms a hop; an ACK 2 x 84 B x 0.8 us = 134.4 us. Frame j
    leaves the machine at s_j = max(s_(j-1) + D, s_(j-2) + 2 D + 134.4 us) (the ACK of frame j - 2),
    which is j D + (j // 2) x 134.4 us. A 15 kB message (10 frames) arrives at s_9 + 2 D = 11 D +
    4 x 134.4 us = 13.7376 ms; with a 64 kB window at 11 D = 13.2 ms (pipelined, no wait)."""
    config = network(kind="ethernet", hops=2, rate="10Mbps", switch_latency="0s", overhead="0B")
    for window, expected in (("3000B", 13.2e-3 + 4 * 134.4e-6), ("64kB", 13.2e-3)):
        log, _ = drive(config, [(0.0, 15000.0)], tcp=Tcp(window=window), feeders=feeders)
        assert latencies(log, [(0.0, 15000.0)]) == [pytest.approx(expected, abs=1e-12)]


def test_window_limited_throughput_and_conservation() -> None:
    """Offered more than the window carries: 1000 B every 1 ms (1 MB/s) over L = 10 ms with a
    10 kB window. Ten messages may be unacknowledged; message k waits for the ACK of message
    k - 10, 20 ms after it left, so ten messages leave per 20 ms: 500 messages/s, half the offered
    rate, whatever the link's capacity (unlimited here). The rest wait in the sender's socket: they
    are in flight, not lost (published = delivered + in flight), and the window's throughput shows
    as the delivery rate (to one window of messages)."""
    scenario = plant_scenario(
        name="window-limited",
        duration="5s",
        warmup="1s",
        tcp={"window": "10kB"},
        network={"kind": "parametric", "latency": "10ms", "overhead": "0B"},
        streams={"s": {"topic": "t", "every": "1ms", "payload": "1000B"}},
    )
    row = run_scenario(scenario, keep_samples=False).stream(*KEY)
    assert row.published == 4000
    assert row.dropped == 0
    assert row.published == row.delivered + row.in_flight
    assert row.throughput_msg_s == pytest.approx(500.0, abs=10 / 4)
    assert row.in_flight > 1500


def test_the_retransmission_timer_doubles_up_to_120_seconds() -> None:
    """RFC 6298 5.5 doubles the timer after each timeout; Linux stops at TCP_RTO_MAX = 120 s. From
    RTO = 0.2 s the timers are 0.2, 0.4, ..., 102.4 s (ten of them, 204.6 s in all), then 120 s
    each: eleven timeouts take 324.6 s, a thousand 204.6 + 990 x 120 s (not 0.2 x 2^1000)."""
    from sim.models.links.tcp import MAX_RTO, backoff

    assert MAX_RTO == 120.0
    assert backoff(0.2, 0) == 0.0
    assert backoff(0.2, 1) == pytest.approx(0.2)
    assert backoff(0.2, 10) == pytest.approx(0.2 * (2**10 - 1))
    assert backoff(0.2, 11) == pytest.approx(204.6 + 120.0)
    assert backoff(0.2, 1000) == pytest.approx(204.6 + 990 * 120.0)
    assert backoff(150.0, 3) == pytest.approx(360.0)
