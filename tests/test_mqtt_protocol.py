"""MQTT inside the simulation: the QoS exchanges, the in-flight windows, what control packets cost,
loss, slow consumers and slow networks, bridges, retained messages, duplicates, reproducibility.

Every expected figure is derived in the test's docstring from MQTT 3.1.1 and the documented model
(:mod:`sim.models.mqtt`): with a constant latency, no ``rate`` and ``overhead: 0B`` a parametric
network delays every packet by exactly its latency, and a broker with ``service_time``,
``fanout_time`` and ``per_byte_time`` 0 costs nothing, so the timelines are exact.

Names: L the one-way latency of a network (10 ms unless said), T the period of a stream, RTT = 2 L,
RTO = ``min_rto`` (200 ms) + RTT. A periodic stream publishes at its phase p (drawn from its own
generator when the plant is built) and every T after; the tests read p from the built plant, which
is an input of the run, not one of its results.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    FREE_BROKER,
    in_publish_order,
    parametric,
    run_plant,
    seconds,
    written_scenario,
)

from sim.engine import Plant
from sim.metrics.collector import Row
from sim.scenario.schema import Scenario

L = 0.010
MIN_RTO = 0.200
EXACT = 1e-9  # float noise on sums of a few hundred times


# ------------------------------------------------------------------------------------- helpers


def stream(
    topic: str = "t", every: str = "100ms", payload: str = "100B", qos: int = 0, **fields: Any
) -> dict[str, Any]:
    return {"topic": topic, "every": every, "payload": payload, "qos": qos, **fields}


def machine(streams: dict[str, Any], network: str = "mnet", **fields: Any) -> dict[str, Any]:
    return {"network": network, "broker": "b", "streams": streams, **fields}


def scenario(tmp_path: Path, **spec: Any) -> Scenario:
    """Write the scenario as YAML next to the test and load it as a user's file is loaded."""
    return written_scenario(
        tmp_path,
        {"name": "mqtt", "duration": "2s", "seed": 1, "brokers": {"b": FREE_BROKER}, **spec},
    )


def phases(sc: Scenario) -> dict[tuple[str, int], float]:
    """The first release of each (stream, machine instance) of a periodic stream without jitter."""
    plant = Plant(sc)
    return {
        (source.info.stream, source.instance): source.first  # type: ignore[attr-defined]
        for calendar in plant.calendars
        for source in calendar.sources
    }


def schedule(first: float, every: float, until: float) -> np.ndarray:
    """Release times of a periodic stream from ``first`` up to ``until``."""
    return first + every * np.arange(math.floor((until - first) / every) + 1)


def latencies(row: Row) -> np.ndarray:
    published, delivered = in_publish_order(row)
    return delivered - published


def completions(row: Row) -> np.ndarray:
    assert row.completion is not None
    return np.asarray(row.completion.completed_at) - np.asarray(row.completion.published_at)


# -------------------------------------------------------------------------------- QoS exchanges


def test_qos_exchanges_on_a_constant_latency(tmp_path: Path) -> None:
    """One machine publishes three streams, at QoS 0, 1 and 2, across ``mnet`` (L = 10 ms); a QoS 2
    subscriber behind ``snet`` (L = 10 ms) receives each at the stream's QoS.

    - QoS 0: PUBLISH up (L), PUBLISH down (L): delivery 2 L = 20 ms; no completion at all.
    - QoS 1: PUBLISH up; the broker answers PUBACK (back at the machine at 2 L: completion 20 ms)
      and passes the message on: PUBLISH down, delivery 2 L = 20 ms.
    - QoS 2: PUBLISH up (L), PUBREC down (2 L), PUBREL up (3 L): the broker releases the message
      and answers PUBCOMP (back at 4 L: completion 40 ms); then PUBLISH down (4 L), PUBREC up
      (5 L), PUBREL down (6 L): paho hands the message over at PUBREL, delivery 6 L = 60 ms.

    So the publisher completes a QoS 2 message later than a QoS 1 one, and QoS 0 never."""
    sc = scenario(
        tmp_path,
        networks={"mnet": parametric(), "snet": parametric()},
        machines={"m": machine({f"q{q}": stream(topic=f"t/{q}", qos=q) for q in (0, 1, 2)})},
        subscribers={"sink": {"broker": "b", "topics": ["#"], "network": "snet", "qos": 2}},
    )
    plant = run_plant(sc)
    delivery = {0: 2 * L, 1: 2 * L, 2: 6 * L}
    completion = {1: 2 * L, 2: 4 * L}
    for qos in (0, 1, 2):
        row = plant.rows[("m", f"q{qos}", "sink")]
        assert len(row.delivered_at) >= 19  # 20 releases in 2 s, the last possibly on its way
        np.testing.assert_allclose(latencies(row), delivery[qos], rtol=0, atol=EXACT)
        assert not row.dropped_at
        if qos == 0:
            assert row.completion is None
        else:
            assert len(completions(row)) >= 19
            np.testing.assert_allclose(completions(row), completion[qos], rtol=0, atol=EXACT)


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_broker_service_and_per_byte_time_delay_the_acknowledgements(
    tmp_path: Path, qos: int
) -> None:
    """The same exchange through a broker that works: ``service_time`` S = 1 ms plus
    ``per_byte_time`` 1 us x 1000 B payload = 1 ms per incoming PUBLISH, and ``fanout_time`` F =
    0.5 ms per copy; one stream, every 100 ms, so the broker never queues.

    The broker answers PUBACK (PUBREC) when the PUBLISH is worked, before the fan-out: QoS 1
    completes at 2 L + S + 1 ms = 22 ms; QoS 2's PUBREL and PUBCOMP cost the loop nothing, so it
    completes at 4 L + 2 ms = 42 ms. The copy leaves after the fan-out: delivery 2 L + 2.5 ms =
    22.5 ms at QoS 0 and 1, and 6 L + 2.5 ms = 62.5 ms at QoS 2 (released at PUBREL, 3 L + 2 ms)."""
    sc = scenario(
        tmp_path,
        networks={"mnet": parametric(), "snet": parametric()},
        brokers={"b": {"service_time": "1ms", "per_byte_time": "1us", "fanout_time": "500us"}},
        machines={"m": machine({"s": stream(payload="1000B", qos=qos)})},
        subscribers={"sink": {"broker": "b", "topics": ["#"], "network": "snet", "qos": 2}},
    )
    row = run_plant(sc).rows[("m", "s", "sink")]
    work = 1e-3 + 1e-6 * 1000
    hops = {0: 2, 1: 2, 2: 6}[qos]
    assert len(row.delivered_at) >= 19
    np.testing.assert_allclose(latencies(row), hops * L + work + 0.5e-3, rtol=0, atol=EXACT)
    if qos:
        expected = {1: 2 * L + work, 2: 4 * L + work}[qos]
        np.testing.assert_allclose(completions(row), expected, rtol=0, atol=EXACT)


# --------------------------------------------------------------------------- in-flight window


@pytest.mark.parametrize("max_inflight", [1, 20])
def test_the_publishers_in_flight_window(tmp_path: Path, max_inflight: int) -> None:
    """A QoS 1 stream every 5 ms across L = 10 ms to a subscriber next to the broker (delivered
    when the broker passes the PUBLISH on, L after it left the machine).

    ``max_inflight: 1``: a PUBLISH may leave only when the previous PUBACK is back, one round trip
    2 L = 20 ms after it left. Messages arrive 4 times faster than that, so a queue builds from the
    second message on and message k leaves at p + 20 ms k: delivered at p + 20 ms k + L, exactly
    one RTT apart, in publish order, and completed at p + 20 ms (k + 1).

    ``max_inflight: 20``: at most RTT / T = 4 messages are ever unacknowledged, so the window never
    closes: every delivery L after its publication, 5 ms apart, and every completion at 2 L."""
    sc = scenario(
        tmp_path,
        duration="500ms",
        networks={"mnet": parametric()},
        machines={
            "m": machine({"s": stream(every="5ms", qos=1)}, client={"max_inflight": max_inflight})
        },
        subscribers={"sink": {"broker": "b", "topics": ["#"]}},
    )
    (p,) = phases(sc).values()
    row = run_plant(sc).rows[("m", "s", "sink")]
    published, delivered = in_publish_order(row)
    np.testing.assert_allclose(published, p + 5e-3 * np.arange(len(published)), atol=EXACT)
    assert not row.dropped_at
    if max_inflight == 1:
        k = np.arange(len(delivered))
        np.testing.assert_allclose(delivered, p + 2 * L * k + L, rtol=0, atol=EXACT)
        assert len(delivered) == math.floor((0.5 - p - L) / (2 * L)) + 1
        np.testing.assert_allclose(
            row.completion.completed_at,  # type: ignore[union-attr]
            p + 2 * L * (k[: len(row.completion.completed_at)] + 1),  # type: ignore[union-attr]
            rtol=0,
            atol=EXACT,
        )
    else:
        np.testing.assert_allclose(delivered - published, L, rtol=0, atol=EXACT)
        np.testing.assert_allclose(np.diff(delivered), 5e-3, rtol=0, atol=EXACT)
        np.testing.assert_allclose(completions(row), 2 * L, rtol=0, atol=EXACT)


# ------------------------------------------------------------------------ control packets cost


def test_the_puback_takes_its_frame_on_the_down_direction(tmp_path: Path) -> None:
    """Real framing (no ``overhead``) on a 1 Mbit/s network, L = 10 ms, one QoS 1 message of
    100 B on topic ``t`` every 100 ms (the link never queues).

    The PUBLISH is 1 (fixed header) + 1 (remaining length) + 2 + 1 (topic) + 2 (packet identifier)
    + 100 = 107 B of MQTT, plus 40 B of TCP/IP and 38 B of Ethernet: 185 B, 1.48 ms on the wire. The
    PUBACK is 4 B of MQTT, 82 B framed, padded to the 84 B minimum Ethernet frame: 0.672 ms. The
    subscriber next to the broker receives the message at 1.48 ms + L; the PUBACK leaves the
    broker then and is back at the machine 0.672 ms + L later: completion 2 L + 2.152 ms."""
    sc = scenario(
        tmp_path,
        networks={"mnet": {"kind": "parametric", "latency": "10ms", "rate": "1Mbps"}},
        machines={"m": machine({"s": stream(qos=1)})},
        subscribers={"sink": {"broker": "b", "topics": ["#"]}},
    )
    row = run_plant(sc).rows[("m", "s", "sink")]
    publish, puback = 185 * 8 / 1e6, 84 * 8 / 1e6
    assert len(row.delivered_at) >= 19
    np.testing.assert_allclose(latencies(row), publish + L, rtol=0, atol=EXACT)
    np.testing.assert_allclose(completions(row), publish + puback + 2 * L, rtol=0, atol=EXACT)


def test_a_subscribers_pubacks_go_up_its_own_network(tmp_path: Path) -> None:
    """A QoS 1 subscriber behind ``snet`` (1 Mbit/s, L = 10 ms, real framing) and a broker whose
    window towards it is ``max_inflight: 1``; the machine publishes 100 B QoS 1 messages every 1 ms
    from a network without delay, so copies always wait at the broker.

    A copy may leave only once the subscriber's PUBACK for the previous one is back: the PUBLISH
    down (185 B, 1.48 ms, then L), the PUBACK up the subscriber's network (84 B, 0.672 ms, then L).
    Deliveries are therefore exactly 2 L + 2.152 ms = 22.152 ms apart; were the PUBACK free it would
    be 21.48 ms."""
    sc = scenario(
        tmp_path,
        duration="1s",
        brokers={"b": {**FREE_BROKER, "max_inflight": 1}},
        networks={
            "mnet": parametric(latency="0s"),
            "snet": {"kind": "parametric", "latency": "10ms", "rate": "1Mbps"},
        },
        machines={"m": machine({"s": stream(every="1ms", qos=1)})},
        subscribers={"sink": {"broker": "b", "topics": ["#"], "network": "snet", "qos": 1}},
    )
    row = run_plant(sc).rows[("m", "s", "sink")]
    published, delivered = in_publish_order(row)
    assert len(delivered) >= 40
    gap = 2 * L + (185 + 84) * 8 / 1e6
    np.testing.assert_allclose(np.diff(delivered), gap, rtol=0, atol=EXACT)
    np.testing.assert_allclose(np.diff(published), 1e-3, rtol=0, atol=EXACT)  # in order, none lost


@pytest.mark.parametrize(
    ("sub_qos", "mqtt_bytes"),
    [
        (1, 107),
        (0, 105),
    ],
)
def test_a_copy_is_framed_at_the_qos_it_is_sent_at(
    tmp_path: Path, sub_qos: int, mqtt_bytes: int
) -> None:
    """A QoS 1 stream (100 B on topic ``t``) to a subscriber behind a 1 Mbit/s network with real
    framing (L = 10 ms); the machine's network has no delay. The broker sends each copy at the
    lower of the two QoS (MQTT 3.1.1 section 3.8.4): to a QoS 1 subscriber a PUBLISH with a packet
    identifier, 107 B of MQTT; to a QoS 0 subscriber one without, 105 B. Framed (+ 78 B) the copy
    takes 185 or 183 B x 8 us on the link: delivery 1.48 ms + L, or 1.464 ms + L."""
    sc = scenario(
        tmp_path,
        networks={
            "mnet": parametric(latency="0s"),
            "snet": {"kind": "parametric", "latency": "10ms", "rate": "1Mbps"},
        },
        machines={"m": machine({"s": stream(qos=1)})},
        subscribers={"sink": {"broker": "b", "topics": ["#"], "network": "snet", "qos": sub_qos}},
    )
    row = run_plant(sc).rows[("m", "s", "sink")]
    assert len(row.delivered_at) >= 19
    expected = (mqtt_bytes + 78) * 8 / 1e6 + L
    np.testing.assert_allclose(latencies(row), expected, rtol=0, atol=EXACT)


def test_a_busy_down_direction_delays_completion_not_delivery(tmp_path: Path) -> None:
    """The machine's network ``mnet`` (1 Mbit/s, L = 10 ms, no framing) also carries, downwards, a
    10 kB QoS 0 camera frame every 100 ms to a viewer behind it (80 ms of the down direction each:
    80 % busy); the camera itself publishes across a network without delay. The machine's QoS 1
    messages (100 B every 30 ms) go up, where nothing competes: every delivery to the subscriber
    next to the broker is 0.8 ms + L after publication, as on an idle link.

    Their PUBACKs (4 B, 32 us) join the down direction's FIFO when the PUBLISH reaches the broker,
    0.8 ms + L after publication, and the frames when the camera publishes: a PUBACK that finds a
    frame on the wire waits for its end. The FIFO recursion over these arrivals (start = max(arrival,
    previous end), end = start + size / rate) gives each completion: its PUBACK's end + L, between
    2 L + 0.832 ms (an idle direction) and one whole frame (80 ms) more."""
    sc = scenario(
        tmp_path,
        duration="5s",
        networks={
            "mnet": parametric(rate="1Mbps"),
            "fast": parametric(latency="0s"),
        },
        machines={
            "m": machine({"s": stream(topic="m", every="30ms", qos=1)}),
            "camera": machine({"frame": stream(topic="cam", payload="10kB")}, network="fast"),
        },
        subscribers={
            "sink": {"broker": "b", "topics": ["m"]},
            "viewer": {"broker": "b", "topics": ["cam"], "network": "mnet"},
        },
    )
    first = phases(sc)
    messages = schedule(first[("s", 0)], 0.030, 5.0)
    frames = schedule(first[("frame", 0)], 0.100, 5.0)
    publish, puback, frame = 100 * 8 / 1e6, 4 * 8 / 1e6, 10e3 * 8 / 1e6
    fifo = sorted(
        [(t, frame, -1) for t in frames]
        + [(t + publish + L, puback, k) for k, t in enumerate(messages)]
    )
    free = 0.0
    expected = np.empty(len(messages))
    for arrival, service, k in fifo:
        free = max(arrival, free) + service
        if k >= 0:
            expected[k] = free + L - messages[k]

    plant = run_plant(sc)
    row = plant.rows[("m", "s", "sink")]
    np.testing.assert_allclose(latencies(row), publish + L, rtol=0, atol=EXACT)
    done = completions(row)
    assert len(done) >= 160
    np.testing.assert_allclose(done, expected[: len(done)], rtol=0, atol=EXACT)
    idle = publish + puback + 2 * L
    assert done.min() == pytest.approx(idle, abs=EXACT)
    assert idle + 10e-3 < done.max() <= idle + frame + EXACT  # some PUBACKs waited behind a frame
    assert not plant.rows[("camera", "frame", "viewer")].dropped_at


# --------------------------------------------------------------------------------------- loss


@pytest.mark.parametrize("qos", [0, 1])
def test_a_lossy_link_delays_but_delivers_everything(tmp_path: Path, qos: int) -> None:
    """Ten machines, one message every T = 100 ms each, across a parametric network with 1 % frame
    loss (L = 5 ms) to a subscriber next to the broker, for 30 s: about 3000 PUBLISHes, 30 lost.

    TCP resends: nothing is dropped, at QoS 0 as at QoS 1, and whatever is still on its way at the
    end was published in the last two seconds (three timeouts in a row, 7 RTO, are 1.5 s). On
    a connection this sparse no three later segments come back within the timeout, so a lost
    PUBLISH arrives RTO = 200 ms + 2 L after it would have: latency L + RTO = 215 ms, and the next
    two messages wait behind it (115 and 15 ms). So latencies are L for most messages (at least
    95 %), never below, and between 10 and 90 of them are at least RTO (0.3 to 3 times the
    expected count). At QoS 1 a lost PUBLISH or PUBACK delays the completion by RTO too."""
    sc = scenario(
        tmp_path,
        duration="30s",
        networks={"mnet": parametric(latency="5ms", loss="1%")},
        machines={"m": machine({"s": stream(topic="t/{id}", qos=qos)}, count=10)},
        subscribers={"sink": {"broker": "b", "topics": ["#"]}},
    )
    plant = run_plant(sc)
    row = plant.rows[("m", "s", "sink")]
    (record,) = plant.records()
    assert record.dropped == 0 and not row.dropped_at
    assert record.published == record.delivered + record.in_flight
    assert all(t > 28.0 for t in plant.in_flight().get(row.key, []))
    lat = latencies(row)
    rto = MIN_RTO + 2 * 5e-3
    assert lat.min() >= 5e-3 - EXACT
    assert np.mean(np.isclose(lat, 5e-3, rtol=0, atol=EXACT)) >= 0.95
    assert np.isclose(lat, 5e-3 + rto, rtol=0, atol=EXACT).any()
    assert 10 <= np.count_nonzero(lat >= rto) <= 90
    if qos:
        done = completions(row)
        assert done.min() == pytest.approx(2 * 5e-3, abs=EXACT)
        assert np.count_nonzero(done >= rto) >= np.count_nonzero(lat >= rto)


# -------------------------------------------------------------------------- slow consumers


@pytest.mark.parametrize("qos", [0, 1])
def test_a_slow_subscriber_fills_the_broker_queue(tmp_path: Path, qos: int) -> None:
    """A subscriber next to the broker needs S = 10 ms per message; the machine (no network delay)
    publishes every 1 ms for 3 s; the broker's ``max_queued`` is Q = 10 and its window W = 20.

    The subscriber takes one message per S whatever the QoS: 300 deliveries (to one), the rest
    dropped and counted, except what still waits at the end. Delivery is when the subscriber starts
    on the message.

    QoS 0: at most Q copies wait for the subscriber; once the queue is full a copy is accepted just
    after a start left 9 waiting, i.e. within 1 ms after it, and starts 10 S after that start:
    latency between 10 S - 1 ms and 10 S (99-100 ms). At most Q copies are in flight at the end.

    QoS 1: W copies are sent and unacknowledged (the PUBACK leaves when the subscriber is done with
    the copy), Q more wait in the queue. A copy accepted within 1 ms after a PUBACK freed a place is
    tenth in the queue: it enters the window 10 PUBACKs (10 S) later, behind 19 copies, and starts
    19 S after that: latency between 29 S - 1 ms and 29 S (289-290 ms), i.e. (W + Q - 1) S bounds
    the wait. At most W + Q copies are in flight at the end."""
    sc = scenario(
        tmp_path,
        duration="3s",
        brokers={"b": {**FREE_BROKER, "max_queued": 10}},
        networks={"mnet": parametric(latency="0s")},
        machines={"m": machine({"s": stream(every="1ms", qos=qos)})},
        subscribers={"sink": {"broker": "b", "topics": ["#"], "service_time": "10ms", "qos": qos}},
    )
    plant = run_plant(sc)
    row = plant.rows[("m", "s", "sink")]
    (record,) = plant.records()
    assert record.published == 3000
    assert record.delivered == pytest.approx(300, abs=1)
    assert record.dropped == record.published - record.delivered - record.in_flight
    assert record.dropped > 2600
    assert record.in_flight <= (10 if qos == 0 else 30)
    published, delivered = in_publish_order(row)
    np.testing.assert_allclose(np.diff(np.sort(delivered)), 10e-3, rtol=0, atol=EXACT)
    lat = delivered - published
    wait = 10 if qos == 0 else 29
    assert lat.max() <= wait * 10e-3 + EXACT
    steady = published > 1.0
    assert lat[steady].min() >= wait * 10e-3 - 1e-3 - EXACT


def test_a_slow_network_fills_the_broker_queue_of_a_qos1_subscriber(tmp_path: Path) -> None:
    """Two fast subscribers (no service time), each behind its own network with L = 50 ms and
    1 Mbit/s (no framing); the machine publishes 100 B every 2 ms (0.8 ms of link each: the link
    is 40 % busy). The broker keeps ``max_queued: 10`` copies per subscriber.

    The QoS 0 subscriber gets every copy, each 0.8 ms + L after publication.

    The QoS 1 subscriber gets at most W = 20 copies per round trip: a copy sent at s arrives at
    s + 0.8 ms + L, its PUBACK (4 B, 32 us) is back at s + RTT with RTT = 2 L + 0.832 ms, and only
    then may the copy 20 places later leave. 20 / RTT is about 198 copies/s, below the 500
    offered, so the queue is full and copies drop although the subscriber and the link are both
    idle most of the time: copy k + 20 is delivered exactly RTT after copy k, about 20 / RTT x 5 s
    = 992 (to one window, 20) in the 5 s run, the rest dropped or queued."""
    sc = scenario(
        tmp_path,
        duration="5s",
        brokers={"b": {**FREE_BROKER, "max_queued": 10}},
        networks={
            "mnet": parametric(latency="0s"),
            "slow0": parametric(latency="50ms", rate="1Mbps"),
            "slow1": parametric(latency="50ms", rate="1Mbps"),
        },
        machines={"m": machine({"s": stream(every="2ms", qos=1)})},
        subscribers={
            "q0": {"broker": "b", "topics": ["#"], "network": "slow0", "qos": 0},
            "q1": {"broker": "b", "topics": ["#"], "network": "slow1", "qos": 1},
        },
    )
    plant = run_plant(sc)
    q0, q1 = plant.rows[("m", "s", "q0")], plant.rows[("m", "s", "q1")]
    assert not q0.dropped_at
    np.testing.assert_allclose(latencies(q0), 0.8e-3 + 0.05, rtol=0, atol=EXACT)
    rtt = 0.1 + 0.8e-3 + 32e-6
    _, delivered = in_publish_order(q1)
    np.testing.assert_allclose(delivered[20:] - delivered[:-20], rtt, rtol=0, atol=EXACT)
    assert len(delivered) == pytest.approx(20 / rtt * 5, abs=20)
    assert len(q1.dropped_at) > 1000
    assert len(q1.dropped_at) + len(delivered) + 40 >= q1.published


# ------------------------------------------------------------------------------------ bridges


@pytest.mark.parametrize(("bridge_qos", "hops"), [(0, 1), (1, 1), (2, 3)])
def test_bridged_copies_arrive_later_by_the_bridge_networks_delay(
    tmp_path: Path, bridge_qos: int, hops: int
) -> None:
    """A stream (QoS 1, or 2 for the QoS 2 bridge) reaches broker ``edge`` across L = 10 ms; a
    subscriber next to ``edge`` gets each message when ``edge`` releases it; a bridge forwards it
    across ``wan`` (8 ms one way) to ``central``, next to which the other subscriber sits.

    At bridge QoS 0 the copy simply crosses ``wan``; at QoS 1 ``central`` passes it on when the
    PUBLISH arrives (the PUBACK goes back afterwards): either way each central delivery is exactly
    8 ms after the edge delivery of the same message. At QoS 2 ``central`` releases it at the
    bridge's PUBREL, after PUBLISH, PUBREC and PUBREL have crossed ``wan``: 3 x 8 ms = 24 ms after
    the edge delivery. The central subscriber gets every message the edge one got (but those still
    on their way at the end)."""
    wan = 8e-3
    sc = scenario(
        tmp_path,
        brokers={"edge": FREE_BROKER, "central": FREE_BROKER},
        networks={"mnet": parametric(), "wan": parametric(latency="8ms")},
        machines={"m": {**machine({"s": stream(qos=max(1, bridge_qos))}), "broker": "edge"}},
        bridges={
            "up": {
                "from": "edge",
                "to": "central",
                "network": "wan",
                "topics": ["#"],
                "qos": bridge_qos,
            }
        },
        subscribers={
            "local": {"broker": "edge", "topics": ["#"]},
            "far": {"broker": "central", "topics": ["#"]},
        },
    )
    plant = run_plant(sc)
    local_pub, local_at = in_publish_order(plant.rows[("m", "s", "local")])
    far_pub, far_at = in_publish_order(plant.rows[("m", "s", "far")])
    assert len(far_at) >= 19
    edge_hops = 3 if bridge_qos == 2 else 1  # released at the machine's PUBREL at QoS 2
    np.testing.assert_allclose(local_at - local_pub, edge_hops * L, rtol=0, atol=EXACT)
    np.testing.assert_array_equal(far_pub, local_pub[: len(far_pub)])
    np.testing.assert_allclose(far_at - local_at[: len(far_at)], hops * wan, rtol=0, atol=EXACT)
    assert len(local_at) - len(far_at) <= 1


def test_a_bridge_publishes_the_remapped_topic_on_its_network(tmp_path: Path) -> None:
    """A QoS 1 stream on ``plant/line3/x`` is forwarded by a QoS 1 bridge (``topics: [line3/#]``,
    ``local_prefix: plant/``, ``remote_prefix: site/hall2/``) across ``wan``, 1 Mbit/s with real
    framing, L = 8 ms. The bridge publishes on ``site/hall2/line3/x`` (18 B): 1 + 1 + 2 + 18 + 2
    (packet identifier) + 100 = 124 B of MQTT, 202 B framed, 1.616 ms on the link. Each central
    delivery (subscriber next to ``central``) is 1.616 ms + 8 ms after the edge delivery."""
    sc = scenario(
        tmp_path,
        brokers={"edge": FREE_BROKER, "central": FREE_BROKER},
        networks={
            "mnet": parametric(),
            "wan": {"kind": "parametric", "latency": "8ms", "rate": "1Mbps"},
        },
        machines={"m": {**machine({"s": stream(topic="plant/line3/x", qos=1)}), "broker": "edge"}},
        bridges={
            "up": {
                "from": "edge",
                "to": "central",
                "network": "wan",
                "topics": ["line3/#"],
                "qos": 1,
                "local_prefix": "plant/",
                "remote_prefix": "site/hall2/",
            }
        },
        subscribers={
            "local": {"broker": "edge", "topics": ["#"]},
            "far": {"broker": "central", "topics": ["site/#"]},
        },
    )
    plant = run_plant(sc)
    _, local_at = in_publish_order(plant.rows[("m", "s", "local")])
    _, far_at = in_publish_order(plant.rows[("m", "s", "far")])
    assert len(far_at) >= 19
    expected = (1 + 1 + 2 + len("site/hall2/line3/x") + 2 + 100 + 78) * 8 / 1e6 + 8e-3
    np.testing.assert_allclose(far_at - local_at[: len(far_at)], expected, rtol=0, atol=EXACT)


# ---------------------------------------------------------------------------------- retained


def reconnection(lost: float, outage_end: float, delay: float = 1.0) -> float:
    """When the first reconnection attempt after a loss at ``lost`` falls outside the outage:
    paho tries ``reconnect_delay`` after the loss, then doubles the wait (here far from
    ``max_reconnect_delay``)."""
    attempt = lost + delay
    while attempt < outage_end:
        delay *= 2
        attempt += delay
    return attempt


@pytest.mark.parametrize("qos", [0, 1])
def test_a_clean_session_gets_the_retained_message_not_what_it_missed(
    tmp_path: Path, qos: int
) -> None:
    """Two machines each publish a retained stream ``r/{id}`` and a plain one ``n/{id}`` (QoS 1,
    every 100 ms) across ``mnet`` (L = 10 ms); a clean-session subscriber (``keep_alive`` 10 s)
    behind ``snet`` (L = 10 ms) loses its network from 25.5 s to 45.5 s.

    The broker drops the connection 1.5 keep-alives (15 s) after it last heard from the client:
    at QoS 0 the client sends only PINGREQs, at 10 s and 20 s (arriving L later); at QoS 1 its last
    PUBACK that got through before 25.5 s. The client retries 1 s after the loss, doubling the
    wait, until a try falls after 45.5 s; its CONNECT reaches the broker 3 L after the try.

    A clean session has no subscription while the client is away: every copy that had not reached
    the subscriber when the outage began (reaches ``snet``'s far end after 25.5 s) and reached the
    broker before the CONNECT is dropped, on both rows; every other copy is delivered. On
    subscribing again the client gets the retained message of each retained topic: ``retained`` is
    2 on the retained stream's row (one per machine), 0 on the other."""
    spec: dict[str, Any] = {
        "duration": "60s",
        "networks": {
            "mnet": parametric(),
            "snet": parametric(outages=[{"start": "25.5s", "duration": "20s"}]),
        },
        "machines": {
            "m": machine(
                {
                    "r": stream(topic="r/{id}", qos=1, retain=True),
                    "n": stream(topic="n/{id}", qos=1),
                },
                count=2,
            )
        },
        "subscribers": {
            "sink": {
                "broker": "b",
                "topics": ["#"],
                "network": "snet",
                "qos": qos,
                "client": {"keep_alive": "10s", "clean_session": True},
            }
        },
    }
    sc = scenario(tmp_path, **spec)
    start, end = 25.5, 45.5
    released = {key: schedule(p, 0.1, 60.0) for key, p in phases(sc).items()}
    if qos == 0:
        heard = 20.0 + L
    else:
        pubacks = np.concatenate([t + 3 * L for t in released.values()])
        heard = pubacks[pubacks < start].max()
    connect = reconnection(heard + 15.0, end) + 3 * L
    plant = run_plant(sc)
    assert [c.disconnections for c in plant.connections if c.name == "subscriber:sink"] == [1]
    for name, retained in (("r", 2), ("n", 0)):
        row = plant.rows[("m", name, "sink")]
        assert row.retained == retained
        times = np.sort(np.concatenate([released[(name, i)] for i in (0, 1)]))
        missed = times[(times + 2 * L > start) & (times + L < connect)]
        np.testing.assert_allclose(np.sort(row.dropped_published_at), missed, atol=EXACT)
        got = np.asarray(row.delivered_published_at)
        assert not np.any((got + 2 * L > start) & (got + L < connect))


def test_a_persistent_session_gets_no_retained_message(tmp_path: Path) -> None:
    """The same plant with a persistent session (``clean_session: false``, the default) at QoS 1:
    the broker keeps the subscription and queues the copies while the client is away (fewer than
    ``max_queued`` 1000: 40 copies a second for about 22 s), so nothing is dropped, and a client
    that did not subscribe again is sent no retained message."""
    sc = scenario(
        tmp_path,
        duration="60s",
        networks={
            "mnet": parametric(),
            "snet": parametric(outages=[{"start": "25.5s", "duration": "20s"}]),
        },
        machines={
            "m": machine(
                {
                    "r": stream(topic="r/{id}", qos=1, retain=True),
                    "n": stream(topic="n/{id}", qos=1),
                },
                count=2,
            )
        },
        subscribers={
            "sink": {
                "broker": "b",
                "topics": ["#"],
                "network": "snet",
                "qos": 1,
                "client": {"keep_alive": "10s"},
            }
        },
    )
    plant = run_plant(sc)
    for name in ("r", "n"):
        row = plant.rows[("m", name, "sink")]
        assert row.retained == 0
        assert not row.dropped_at
        assert len(row.resumed) > 400  # 2 machines x about 22 s x 10 messages/s waited


# --------------------------------------------------------------------------------- duplicates


def single_message(
    tmp_path: Path,
    qos: int,
    outage_after: float,
    side: str,
    tls: str | None = None,
    broker: dict[str, Any] | None = None,
) -> tuple[Plant, float]:
    """One machine publishing every 10 s (once before the outage) at ``qos`` across ``mnet`` to a
    subscriber that is next to the broker (``side`` "publisher") or behind ``snet`` at QoS 1
    (``side`` "subscriber"); both clients with ``keep_alive`` 1 s. The outage on the named side's
    network starts ``outage_after`` x L after the message's publication and lasts 5 s."""
    networks: dict[str, Any] = {"mnet": parametric()}
    sink: dict[str, Any] = {"broker": "b", "topics": ["#"], "client": {"keep_alive": "1s"}}
    if side == "subscriber":
        networks["snet"] = parametric()
        sink.update(network="snet", qos=1)
    spec: dict[str, Any] = {
        "duration": "12s",
        "networks": networks,
        "machines": {
            "m": machine({"s": stream(every="10s", qos=qos)}, client={"keep_alive": "1s"})
        },
        "subscribers": {"sink": sink},
    }
    if broker is not None:
        spec["brokers"] = {"b": broker}
    elif tls is not None:
        spec["brokers"] = {"b": {**FREE_BROKER, "tls": tls}}
    (p,) = phases(scenario(tmp_path, **spec)).values()
    outage = [{"start": seconds(p + outage_after * L), "duration": "5s"}]
    spec["networks"]["mnet" if side == "publisher" else "snet"]["outages"] = outage
    plant = run_plant(scenario(tmp_path, **spec))
    return plant, p


@pytest.mark.parametrize(("tls", "handshake"), [(None, 0), ("1.3", 2), ("1.2", 4)])
def test_a_puback_lost_with_the_connection_brings_a_duplicate(
    tmp_path: Path, tls: str | None, handshake: int
) -> None:
    """QoS 1, the machine's network fails 1.5 L after the publication at p: the PUBLISH reached
    the broker at p + L (released to the subscriber then), the PUBACK is caught by the outage. The
    broker last heard the client at p + L and drops it 1.5 s later; the client retries 1, 3, 7 s
    after that, the first try after the outage's end opens the connection, CONNACK is back 4 L
    after it (SYN, SYN-ACK, CONNECT, CONNACK), and the client sends the unacknowledged PUBLISH
    again: the broker recognises it, counts a duplicate, delivers nothing new, and answers PUBACK,
    back 2 L later: that is the message's completion. To a TLS broker the handshake comes between
    SYN-ACK and CONNECT: TLS 1.3 one round trip more (2 L), TLS 1.2 two (4 L)."""
    plant, p = single_message(tmp_path, 1, 1.5, "publisher", tls)
    row = plant.rows[("m", "s", "sink")]
    np.testing.assert_allclose(row.delivered_at, [p + L], atol=EXACT)
    assert row.duplicates == 1
    assert not row.dropped_at
    connack = reconnection(p + L + 1.5, p + 1.5 * L + 5.0) + (4 + handshake) * L
    np.testing.assert_allclose(row.completion.completed_at[0], connack + 2 * L, atol=EXACT)  # type: ignore[union-attr]


@pytest.mark.parametrize("tls", [None, "1.3"])
def test_the_brokers_cpu_for_a_reconnection(tmp_path: Path, tls: str | None) -> None:
    """The same reconnection to a broker that spends ``connect_time`` on each CONNECT (its
    password check) and, with TLS, ``tls_handshake_time`` answering the ClientHello and
    ``tls_read_time`` per PUBLISH it reads: the completion comes exactly that much CPU later (the
    PUBLISH sent again is read once more; its PUBACK is a control packet, free in the loop)."""
    free, _ = single_message(tmp_path, 1, 1.5, "publisher", tls)
    costly = {**FREE_BROKER, "connect_time": "108us", "tls_handshake_time": "86us"}
    costly["tls_read_time"] = "1us"
    if tls is not None:
        costly["tls"] = tls
    plant, _ = single_message(tmp_path, 1, 1.5, "publisher", tls, broker=costly)
    cpu = 108e-6 + (86e-6 + 1e-6 if tls else 0.0)
    before = free.rows[("m", "s", "sink")].completion.completed_at[0]  # type: ignore[union-attr]
    after = plant.rows[("m", "s", "sink")].completion.completed_at[0]  # type: ignore[union-attr]
    np.testing.assert_allclose(after - before, cpu, atol=EXACT)


@pytest.mark.parametrize(("tls", "record"), [("1.2", 29), ("1.3", 22)])
def test_every_packet_over_tls_carries_its_records_bytes(
    tmp_path: Path, tls: str, record: int
) -> None:
    """A 100 B PUBLISH on a 1 Mbit/s link with real framing takes (its MQTT packet + 40 B TCP/IP
    + 38 B Ethernet) x 8 us to serialise; in a TLS record 29 B (TLS 1.2, AES-GCM: header, nonce,
    tag) or 22 B (TLS 1.3: header, tag, content type) more, so each message arrives exactly that
    many byte times later than over plain TCP."""
    network = {"kind": "parametric", "latency": "1ms", "rate": "1Mbps"}
    spec: dict[str, Any] = {
        "duration": "1s",
        "networks": {"mnet": network},
        "machines": {"m": machine({"s": stream(every="100ms", payload="100B")})},
        "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
    }
    plain = run_plant(scenario(tmp_path, **spec))
    spec["brokers"] = {"b": {**FREE_BROKER, "tls": tls}}
    sealed = run_plant(scenario(tmp_path, **spec))
    before = np.asarray(plain.rows[("m", "s", "sink")].delivered_at)
    after = np.asarray(sealed.rows[("m", "s", "sink")].delivered_at)
    assert before.size == after.size == 10
    np.testing.assert_allclose(after - before, record * 8 / 1e6, atol=EXACT)


def test_a_subscribers_puback_lost_with_the_connection_brings_a_duplicate(tmp_path: Path) -> None:
    """QoS 1 to a QoS 1 subscriber behind ``snet``: its network fails 2.5 L after the publication,
    after the copy arrived (2 L) and before its PUBACK reaches the broker (3 L). When the
    subscriber is back the broker sends the copy again; the client recognises it: one delivery,
    one duplicate, nothing dropped."""
    plant, p = single_message(tmp_path, 1, 2.5, "subscriber")
    row = plant.rows[("m", "s", "sink")]
    np.testing.assert_allclose(row.delivered_at, [p + 2 * L], atol=EXACT)
    assert row.duplicates == 1
    assert not row.dropped_at
    assert [c.disconnections for c in plant.connections if c.name == "subscriber:sink"] == [1]


@pytest.mark.parametrize(
    ("outage_after", "delivered", "heard"),
    [
        (1.5, None, 1),  # PUBREC caught: the PUBLISH is sent again, released once at PUBREL
        (3.5, 3, 3),  # PUBCOMP caught: the PUBREL is sent again, the message was released
    ],
)
def test_qos2_never_duplicates(
    tmp_path: Path, outage_after: float, delivered: int | None, heard: int
) -> None:
    """QoS 2 across the same failure. With the PUBREC caught (outage 1.5 L after publication) the
    broker holds the message, unreleased; after the reconnection (CONNACK 4 L after the try) the
    client sends the PUBLISH again, the broker answers PUBREC again, the PUBREL comes 3 L after
    CONNACK: the message is released then, once. With the PUBCOMP caught (3.5 L) the broker had
    released the message at 3 L; the client sends the PUBREL again, the broker answers PUBCOMP
    (back 2 L after CONNACK: the completion) and releases nothing. No duplicate either way."""
    plant, p = single_message(tmp_path, 2, outage_after, "publisher")
    row = plant.rows[("m", "s", "sink")]
    connack = reconnection(p + heard * L + 1.5, p + outage_after * L + 5.0) + 4 * L
    at = connack + 3 * L if delivered is None else p + delivered * L
    np.testing.assert_allclose(row.delivered_at, [at], atol=EXACT)
    assert row.duplicates == 0
    assert not row.dropped_at
    done = connack + (4 * L if delivered is None else 2 * L)
    np.testing.assert_allclose(row.completion.completed_at, [done], atol=EXACT)  # type: ignore[union-attr]


@pytest.mark.parametrize(("outage_after", "caught"), [(4.5, "PUBREC"), (6.5, "PUBCOMP")])
def test_qos2_to_a_subscriber_never_duplicates(
    tmp_path: Path, outage_after: float, caught: str
) -> None:
    """QoS 2 end to end, the subscriber (QoS 2 behind ``snet``) losing its network. The broker
    releases the message at the machine's PUBREL (3 L); the copy reaches the subscriber at 4 L, its
    PUBREC the broker at 5 L, the broker's PUBREL the subscriber at 6 L (the delivery), its PUBCOMP
    the broker at 7 L.

    PUBREC caught (outage at 4.5 L): the subscriber holds the message unreleased; after the
    reconnection the broker sends the PUBLISH again and the exchange completes: one delivery, after
    the outage. PUBCOMP caught (6.5 L): the message was delivered at 6 L; after the reconnection the
    broker sends the PUBREL again, which releases nothing. Never a duplicate, nothing dropped."""
    networks: dict[str, Any] = {"mnet": parametric(), "snet": parametric()}
    spec: dict[str, Any] = {
        "duration": "12s",
        "networks": networks,
        "machines": {"m": machine({"s": stream(every="10s", qos=2)})},
        "subscribers": {
            "sink": {
                "broker": "b",
                "topics": ["#"],
                "network": "snet",
                "qos": 2,
                "client": {"keep_alive": "1s"},
            }
        },
    }
    (p,) = phases(scenario(tmp_path, **spec)).values()
    start = p + outage_after * L
    networks["snet"]["outages"] = [{"start": seconds(start), "duration": "5s"}]
    plant = run_plant(scenario(tmp_path, **spec))
    row = plant.rows[("m", "s", "sink")]
    assert [c.disconnections for c in plant.connections if c.name == "subscriber:sink"] == [1]
    assert len(row.delivered_at) == 1
    if caught == "PUBREC":
        assert row.delivered_at[0] > start + 5.0
    else:
        assert row.delivered_at[0] == pytest.approx(p + 6 * L, abs=EXACT)
    assert row.duplicates == 0
    assert not row.dropped_at


# ---------------------------------------------------------------------------- reproducibility


def test_same_scenario_and_seed_give_identical_rows(tmp_path: Path) -> None:
    """A scenario that uses every random draw and every MQTT mechanism (random latency, loss, a
    rate, QoS 0/1/2, a bridge, a subscriber with an outage and a queue that overflows) run twice
    with the same seed gives the same rows, value for value."""
    spec: dict[str, Any] = {
        "duration": "20s",
        "seed": 7,
        "brokers": {"edge": {"max_queued": 50}, "central": {}},
        "networks": {
            "mnet": {"kind": "parametric", "latency": {"uniform": ["2ms", "12ms"]}, "loss": "2%"},
            "snet": {
                "kind": "parametric",
                "latency": "5ms",
                "rate": "2Mbps",
                "outages": [{"start": "5s", "duration": "8s"}],
            },
            "wan": parametric(latency="8ms", loss="1%"),
        },
        "machines": {
            "m": {
                "count": 3,
                "network": "mnet",
                "broker": "edge",
                "client": {"keep_alive": "2s"},
                "streams": {
                    f"q{q}": stream(topic=f"t/{q}/{{id}}", every="20ms", jitter="5ms", qos=q)
                    for q in (0, 1, 2)
                },
            }
        },
        "bridges": {
            "up": {"from": "edge", "to": "central", "network": "wan", "topics": ["#"], "qos": 1}
        },
        "subscribers": {
            "s": {
                "broker": "edge",
                "topics": ["#"],
                "network": "snet",
                "qos": 1,
                "client": {"keep_alive": "1s"},
            },
            "far": {"broker": "central", "topics": ["#"], "qos": 2},
        },
    }

    def snapshot() -> dict[tuple[str, str, str], tuple[Any, ...]]:
        plant = run_plant(scenario(tmp_path, **spec))
        return {
            key: (
                row.published,
                row.delivered_published_at,
                row.delivered_at,
                row.dropped_published_at,
                row.dropped_at,
                row.resumed,
                row.duplicates,
                row.retained,
                None if row.completion is None else row.completion.completed_at,
            )
            for key, row in plant.rows.items()
        }

    first, second = snapshot(), snapshot()
    assert first == second
    assert any(row[4] for row in first.values())  # the outage dropped copies
    assert any(row[5] for row in first.values())  # and some waited for the reconnection
