"""Network outages under MQTT: TCP riding out a short one, the broker dropping the connection in a
long one (keep-alive), the client reconnecting, and what each QoS loses or delivers late, for a
machine, a subscriber and a bridge; the keep-alive traffic that decides when a loss is noticed; the
schema's checks of outages and reconnection delays.

Expected times are derived in each docstring from MQTT 3.1.1 (section 3.1.2.10: the broker drops a
client it has not heard from for 1.5 ``keep_alive``), paho-mqtt's reconnection (``reconnect_delay``
after the loss, doubling), TCP's retransmission timer (RFC 6298: RTO = ``min_rto`` + 2 x transit,
doubling), and :mod:`sim.models.mqtt.connection`. Networks are parametric with a constant latency,
no framing and no rate, brokers free (no service, fan-out or per-byte time), so every packet takes
exactly its network's one-way latency L (10 ms unless said) and the timelines are exact.

A periodic stream publishes at its phase p and every T after; p is drawn from the stream's own
generator when the plant is built, whatever the outages, so a test reads it from a plant built
without the outage and places the outage relative to it.
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
from sim.scenario.errors import ScenarioError
from sim.scenario.schema import Scenario

L = 0.010
T = 0.100
MIN_RTO = 0.200
EXACT = 1e-9


# ------------------------------------------------------------------------------------- helpers


def outage(start: float, duration: float) -> list[dict[str, str]]:
    return [{"start": seconds(start), "duration": seconds(duration)}]


def scenario(tmp_path: Path, **spec: Any) -> Scenario:
    """Write the scenario as YAML next to the test and load it as a user's file is loaded."""
    return written_scenario(
        tmp_path,
        {"name": "outages", "duration": "10s", "seed": 2, "brokers": {"b": FREE_BROKER}, **spec},
    )


def machine(qos: int, network: str = "mnet", keep_alive: str = "10s", **fields: Any) -> dict:
    """One machine publishing 100 B every T = 100 ms on topic ``t`` at ``qos``."""
    return {
        "network": network,
        "broker": "b",
        "client": {"keep_alive": keep_alive},
        "streams": {"s": {"topic": "t", "every": "100ms", "payload": "100B", "qos": qos}},
        **fields,
    }


def phase(tmp_path: Path, spec: dict[str, Any]) -> float:
    """The phase of the scenario's only stream (built, not run)."""
    ((source,),) = (calendar.sources for calendar in Plant(scenario(tmp_path, **spec)).calendars)
    return source.first


def disconnections(plant: Plant, name: str) -> int:
    (conn,) = [c for c in plant.connections if c.name == name]
    return conn.disconnections


def releases(p: float, until: float) -> np.ndarray:
    return p + T * np.arange(math.floor((until - p) / T) + 1)


def retransmitted(left: float, transit: float, end: float) -> float:
    """When a segment that left at ``left`` (``transit`` one way) and was caught by an outage ending
    at ``end`` arrives: the first try of its doubling retransmission timer at or after ``end``."""
    rto = MIN_RTO + 2 * transit
    at = left + rto
    while at < end:
        rto *= 2
        at += rto
    return at + transit


def reconnection(lost: float, end: float, delay: float = 1.0, longest: float = 120.0) -> float:
    """paho's first reconnection attempt after a loss at ``lost`` that falls after ``end``: it
    tries ``reconnect_delay`` after the loss and doubles the wait after each failure, up to
    ``max_reconnect_delay``."""
    attempt = lost + delay
    while attempt < end:
        delay = min(2 * delay, longest)
        attempt += delay
    return attempt


def through(left: float, transit: float, start: float, end: float) -> float:
    """When a packet that left at ``left`` arrives: at once, or retransmitted if its time on the
    network overlaps the (short) outage ``[start, end)``."""
    arrival = left + transit
    if arrival >= start and left < end:
        return retransmitted(left, transit, end)
    return arrival


# -------------------------------------------------------------------------------- short outage


@pytest.mark.parametrize("qos", [0, 1])
def test_a_short_outage_is_ridden_out_by_tcp(tmp_path: Path, qos: int) -> None:
    """A machine (``keep_alive`` 1 s) publishes every 100 ms across ``mnet`` to a subscriber next to
    the broker; ``mnet`` is down for 1.2 s from s = p + 1.05 s. The broker last heard the client at
    p + 1.0 s + L = s - 40 ms and would drop it at s + 1.46 s, after the outage: the connection
    survives (no disconnection) and nothing is dropped.

    Each packet whose time on the network overlaps the outage is resent by TCP: first RTO =
    200 ms + 2 L = 220 ms after it left, then 440, 880 ms later..., and the first try at or after the
    outage's end arrives L later; TCP delivers in order, so a packet waits for the ones before it.
    The first message published inside the outage, at s + 50 ms, is resent at s + 270 ms and
    s + 710 ms (both in the outage) and s + 1.59 s: delivered at s + 1.6 s, 1.55 s after its
    publication. Every delivery time follows from the same rule, and at QoS 1 every completion too:
    the PUBACK leaves the broker at the delivery and crosses the same outage downwards."""
    spec: dict[str, Any] = {
        "networks": {"mnet": parametric()},
        "machines": {"m": machine(qos, keep_alive="1s")},
        "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
    }
    p = phase(tmp_path, spec)
    start, end = p + 1.05, p + 1.05 + 1.2
    spec["networks"]["mnet"]["outages"] = outage(start, 1.2)
    plant = run_plant(scenario(tmp_path, **spec))
    row = plant.rows[("m", "s", "sink")]

    assert disconnections(plant, "m[0]") == 0
    assert not row.dropped_at
    published, delivered = in_publish_order(row)
    expected = np.maximum.accumulate([through(t, L, start, end) for t in published])
    np.testing.assert_allclose(delivered, expected, rtol=0, atol=EXACT)
    first = published[published > start][0]
    assert first == pytest.approx(start + 0.05, abs=EXACT)
    assert delivered[published > start][0] == pytest.approx(
        first + 0.22 + 0.44 + 0.88 + L, abs=EXACT
    )
    assert delivered.max() < 10.0
    if qos:
        completion = row.completion
        assert completion is not None
        acked = np.maximum.accumulate([through(d, L, start, end) for d in delivered])
        n = len(completion.completed_at)
        assert n >= len(delivered) - 1
        np.testing.assert_allclose(completion.completed_at, acked[:n], rtol=0, atol=EXACT)


# -------------------------------------------------------------------------- long outage: machine


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_a_long_outage_on_the_machines_network(tmp_path: Path, qos: int) -> None:
    """The machine (``keep_alive`` 10 s) loses ``mnet`` for 60 s from s = p + 2.05 s.

    The broker last heard the client when the last exchange before s ended: the PUBLISH of the
    message at p + 2 s, at p + 2 s + L (QoS 0 and 1), or its PUBREL at p + 2 s + 3 L (QoS 2). It
    drops the connection 15 s later, at ``lost``. The client tries again 1, 3, 7, 15, 31, 63 s after
    the loss; the first try after s + 60 s sends SYN; SYN-ACK, CONNECT and CONNACK follow, one L
    each: the client is connected at c = try + 4 L.

    QoS 0: every message published from s - L (its PUBLISH then meets the outage) up to c is
    dropped and counted: those sent before the loss when the connection goes (at ``lost``), the
    later ones refused by the client when published.

    QoS 1 and 2: nothing is dropped; the 20 messages the window had sent into the outage and those
    queued behind them go again at c, 20 per exchange, in order: the j-th (from 0) is delivered at
    c + L + 2 L floor(j / 20) (QoS 1: PUBLISH, then PUBACK frees the window), or at
    c + 3 L + 4 L floor(j / 20) (QoS 2: released at PUBREL, the window freed by PUBCOMP). Each is
    counted in ``resumed`` with its publication and delivery times."""
    spec: dict[str, Any] = {
        "duration": "90s",
        "networks": {"mnet": parametric()},
        "machines": {"m": machine(qos)},
        "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
    }
    p = phase(tmp_path, spec)
    start = p + 2.05
    spec["networks"]["mnet"]["outages"] = outage(start, 60.0)
    plant = run_plant(scenario(tmp_path, **spec))
    row = plant.rows[("m", "s", "sink")]
    assert disconnections(plant, "m[0]") == 1

    heard = p + 2.0 + (3 * L if qos == 2 else L)
    lost = heard + 15.0
    connected = reconnection(lost, start + 60.0) + 4 * L
    assert connected == pytest.approx(start + 78.0 - (0.02 if qos == 2 else 0.04) + 4 * L)
    times = releases(p, 90.0)
    caught = times[(times + L > start) & (times < connected)]
    assert len(caught) == 780

    if qos == 0:
        dropped = np.sort(row.dropped_published_at)
        np.testing.assert_allclose(dropped, caught, rtol=0, atol=EXACT)
        when = np.asarray(row.dropped_at)[np.argsort(row.dropped_published_at)]
        np.testing.assert_allclose(when, np.maximum(caught, lost), rtol=0, atol=EXACT)
        assert np.all(when[caught < lost] == pytest.approx(lost, abs=EXACT))
        assert not row.resumed
        return

    assert not row.dropped_at
    assert row.duplicates == 0  # every exchange before s was complete: nothing got through twice
    resumed = sorted(row.resumed)
    np.testing.assert_allclose([t for t, _ in resumed], caught, rtol=0, atol=EXACT)
    rounds = np.arange(len(caught)) // 20
    first, exchange = (L, 2 * L) if qos == 1 else (3 * L, 4 * L)
    np.testing.assert_allclose(
        [d for _, d in resumed], connected + first + exchange * rounds, rtol=0, atol=EXACT
    )
    published, delivered = in_publish_order(row)
    on_time = (published + L <= start) | (published >= connected + 2.0)
    np.testing.assert_allclose(
        delivered[on_time] - published[on_time], first, rtol=0, atol=EXACT
    )  # before the outage, and once the backlog is gone, every message takes its usual time


def test_the_reconnection_wait_stops_doubling_at_max_reconnect_delay(tmp_path: Path) -> None:
    """As above at QoS 0, with ``max_reconnect_delay: 4s``: the client retries 1, 3, 7, 11, 15 s...
    after the loss (waits 1, 2, 4, 4, 4 s), so it is back within 4 s + 4 L of the outage's end
    (here 2 s after it) instead of 18 s after it. Exactly the messages published from s - L until
    then are dropped."""
    spec: dict[str, Any] = {
        "duration": "90s",
        "networks": {"mnet": parametric()},
        "machines": {"m": machine(0, client={"keep_alive": "10s", "max_reconnect_delay": "4s"})},
        "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
    }
    p = phase(tmp_path, spec)
    start = p + 2.05
    spec["networks"]["mnet"]["outages"] = outage(start, 60.0)
    plant = run_plant(scenario(tmp_path, **spec))
    row = plant.rows[("m", "s", "sink")]
    lost = p + 2.0 + L + 15.0
    connected = reconnection(lost, start + 60.0, longest=4.0) + 4 * L
    assert connected == pytest.approx(lost + 47.0 + 4 * L)
    assert start + 60.0 < connected <= start + 64.0 + 4 * L
    times = releases(p, 90.0)
    caught = times[(times + L > start) & (times < connected)]
    np.testing.assert_allclose(np.sort(row.dropped_published_at), caught, rtol=0, atol=EXACT)
    assert disconnections(plant, "m[0]") == 1


def test_an_outage_during_the_reconnection_backoff_is_no_new_disconnection(
    tmp_path: Path,
) -> None:
    """The machine (``keep_alive`` 2 s, publishing every 100 ms) loses ``mnet`` from 10 s to 15 s and
    again from 15.5 s to 17 s. The broker last heard it at the arrival of the last PUBLISH before
    10 s and drops it 3 s later (about 12.9 s). The client tries 1, 3, 7 s after the loss: the
    first try falls in the first outage, the second in the second, the third (about 19.9 s) after
    both: one disconnection, connected 4 L after that third try, and every message published from
    10 s - L until then dropped. The second outage begins while the client is already
    disconnected and waiting: nothing of its connection is there to lose."""
    spec: dict[str, Any] = {
        "duration": "30s",
        "networks": {
            "mnet": parametric(
                outages=[
                    {"start": "10s", "duration": "5s"},
                    {"start": "15.5s", "duration": "1.5s"},
                ]
            )
        },
        "machines": {"m": machine(0, keep_alive="2s")},
        "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
    }
    p = phase(tmp_path, {**spec, "networks": {"mnet": parametric()}})
    plant = run_plant(scenario(tmp_path, **spec))
    row = plant.rows[("m", "s", "sink")]
    times = releases(p, 30.0)
    heard = times[times + L < 10.0].max() + L
    lost = heard + 3.0
    attempt = lost + 7.0
    assert 15.0 <= lost + 3.0 < 17.0 <= attempt  # tries in the first outage, the second, after
    connected = attempt + 4 * L
    caught = times[(times + L > 10.0) & (times < connected)]
    assert disconnections(plant, "m[0]") == 1
    np.testing.assert_allclose(np.sort(row.dropped_published_at), caught, rtol=0, atol=EXACT)


@pytest.mark.parametrize("qos", [0, 1])
def test_a_subscriber_still_works_one_message_at_a_time_after_an_outage(
    tmp_path: Path, qos: int
) -> None:
    """A subscriber behind ``snet`` needs S = 10 ms per message (copies every 100 ms: it is idle
    most of the time); ``snet`` is down for 1 s from 2 s (a short outage: TCP resends, nothing is
    lost). The copies caught by the outage are resent, each by its own timer, and TCP releases
    them in order: several reach the subscriber at the same instant (see the short-outage test
    for the arrival times). The application works one message at a time and a message counts as
    delivered when it starts on it (``sim.models.mqtt.client``): message k starts at
    max(its arrival, start of message k - 1 + S), so deliveries are never less than S apart."""
    spec: dict[str, Any] = {
        "duration": "5s",
        "networks": {"mnet": parametric(), "snet": parametric()},
        "machines": {"m": machine(qos)},
        "subscribers": {
            "sink": {
                "broker": "b",
                "topics": ["#"],
                "network": "snet",
                "qos": qos,
                "service_time": "10ms",
            }
        },
    }
    start, end = 2.0, 3.0
    spec["networks"]["snet"]["outages"] = outage(start, 1.0)
    plant = run_plant(scenario(tmp_path, **spec))
    row = plant.rows[("m", "s", "sink")]
    assert disconnections(plant, "subscriber:sink") == 0
    assert not row.dropped_at
    published, delivered = in_publish_order(row)
    arrivals = np.maximum.accumulate([through(t + L, L, start, end) for t in published])
    starts = []
    for arrival in arrivals:
        starts.append(arrival if not starts else max(arrival, starts[-1] + 10e-3))
    assert np.sum(arrivals[1:] == arrivals[:-1]) >= 3  # the network does bunch them
    np.testing.assert_allclose(delivered, starts, rtol=0, atol=EXACT)
    assert np.diff(delivered).min() >= 10e-3 - EXACT


# ----------------------------------------------------------------------- long outage: subscriber


def subscriber_outage(
    tmp_path: Path, qos: int, broker: dict[str, Any], start_after_phase: bool = False
) -> tuple[Plant, float, float]:
    """A QoS 1 stream (every 100 ms across ``mnet``) to a subscriber at ``qos`` behind ``snet``
    (``keep_alive`` 10 s), whose network is down for 20 s from 25.5 s, or from p + 25.05 s."""
    spec: dict[str, Any] = {
        "duration": "60s",
        "brokers": {"b": {**FREE_BROKER, **broker}},
        "networks": {"mnet": parametric(), "snet": parametric()},
        "machines": {"m": machine(1)},
        "subscribers": {
            "sink": {
                "broker": "b",
                "topics": ["#"],
                "network": "snet",
                "qos": qos,
                "client": {"keep_alive": "10s"},
            }
        },
    }
    p = phase(tmp_path, spec)
    start = p + 25.05 if start_after_phase else 25.5
    spec["networks"]["snet"]["outages"] = outage(start, 20.0)
    return run_plant(scenario(tmp_path, **spec)), p, start


@pytest.mark.parametrize("queue_qos0", [False, True])
def test_a_long_outage_on_a_qos0_subscribers_network(tmp_path: Path, queue_qos0: bool) -> None:
    """A QoS 0 subscriber sends the broker nothing but PINGREQs, at 10 s and 20 s (arriving L
    later): the broker drops it at ``lost`` = 20 s + L + 15 s, 9.51 s into the outage. It retries
    1, 3, 7, 15 s after the loss; the first try after 45.5 s sends SYN, its CONNECT reaches the
    broker 3 L later (c), which resumes the session there.

    A copy leaves the broker L after its publication and reaches the subscriber L later. Copies
    that meet the outage (arriving after 25.5 s) and left before the loss are lost with the
    connection: dropped. Copies that reach the broker between the loss and c are dropped too, unless
    ``queue_qos0``: then the broker keeps them for the persistent session and sends them all at c:
    delivered at c + L, counted in ``resumed``. Every other copy is delivered 2 L after its
    publication."""
    plant, p, start = subscriber_outage(tmp_path, 0, {"queue_qos0": queue_qos0})
    row = plant.rows[("m", "s", "sink")]
    assert disconnections(plant, "subscriber:sink") == 1
    lost = 20.0 + L + 15.0
    connect = reconnection(lost, start + 20.0) + 3 * L
    assert connect == pytest.approx(lost + 15.0 + 3 * L)
    times = releases(p, 60.0)
    caught = times[(times + 2 * L > start) & (times + L < lost)]
    away = times[(times + L >= lost) & (times + L < connect)]
    dropped = np.sort(row.dropped_published_at)
    published, delivered = in_publish_order(row)
    if queue_qos0:
        np.testing.assert_allclose(dropped, caught, rtol=0, atol=EXACT)
        late = (published + L >= lost) & (published + L < connect)
        np.testing.assert_allclose(published[late], away, rtol=0, atol=EXACT)
        assert len(away) > 100
        np.testing.assert_allclose(delivered[late], connect + L, rtol=0, atol=EXACT)
        np.testing.assert_allclose(sorted(t for t, _ in row.resumed), away, rtol=0, atol=EXACT)
    else:
        np.testing.assert_allclose(dropped, np.concatenate([caught, away]), rtol=0, atol=EXACT)
        late = np.zeros(len(published), dtype=bool)
        assert not row.resumed
    np.testing.assert_allclose(delivered[~late] - published[~late], 2 * L, rtol=0, atol=EXACT)


def test_a_long_outage_on_a_qos1_subscribers_network(tmp_path: Path) -> None:
    """A QoS 1 subscriber behind ``snet`` (broker ``max_queued`` 50, window 20), its network down for
    20 s from s = p + 25.05 s. Its last PUBACK before s (for the copy published at p + 25 s) reached
    the broker at p + 25 s + 3 L = s - 20 ms: the broker drops it 15 s later, the client's third
    try (7 s after the loss) is the first after the outage, and its CONNECT reaches the broker 3 L
    later, at c.

    From the first copy that meets the outage (published at s + 50 ms), 20 are sent and lost in
    the window, 50 wait in the queue, and every later copy is dropped until there is room again:
    at c the broker sends the 20 again, their PUBACKs are back at c + 2 L and 20 queued copies
    leave, leaving room. So the copies dropped are the 71st after the outage began up to the last
    that reached the broker (L after publication) before c + 2 L; the 70 are delivered 20 per round
    trip, the j-th at c + L + 2 L floor(j / 20), and counted in ``resumed``."""
    plant, p, start = subscriber_outage(tmp_path, 1, {"max_queued": 50}, start_after_phase=True)
    row = plant.rows[("m", "s", "sink")]
    assert disconnections(plant, "subscriber:sink") == 1
    lost = p + 25.0 + 3 * L + 15.0
    connect = reconnection(lost, start + 20.0) + 3 * L
    times = releases(p, 60.0)
    first = int(np.argmax(times + 2 * L > start))
    assert times[first] == pytest.approx(start + 0.05, abs=EXACT)
    kept = times[first : first + 70]
    dropped = times[first + 70 :]
    dropped = dropped[dropped + L < connect + 2 * L]
    np.testing.assert_allclose(np.sort(row.dropped_published_at), dropped, rtol=0, atol=EXACT)
    resumed = sorted(row.resumed)
    np.testing.assert_allclose([t for t, _ in resumed], kept, rtol=0, atol=EXACT)
    np.testing.assert_allclose(
        [d for _, d in resumed], connect + L + 2 * L * (np.arange(70) // 20), rtol=0, atol=EXACT
    )
    assert row.duplicates == 0


# --------------------------------------------------------------------------- long outage: bridge


@pytest.mark.parametrize("bridge_qos", [0, 1])
def test_a_long_outage_on_a_bridges_network(tmp_path: Path, bridge_qos: int) -> None:
    """A QoS 1 stream reaches ``edge`` across ``mnet`` (L = 10 ms); a bridge (``keep_alive`` 10 s)
    forwards it to ``central`` across ``wan`` (8 ms), down for 30 s from s = p + 2.05 s. Subscribers
    sit next to each broker.

    The bridge's last PUBLISH before s (the message of p + 2 s) reached ``central`` at
    p + 2 s + 18 ms: the connection is lost 15 s later; the bridge retries 1, 3, 7, 15, 31 s after
    the loss, the last try is the first after the outage; CONNACK is back 4 x 8 ms after it (c).
    The edge subscriber gets everything on time (L).

    Bridge QoS 1: nothing is lost; every message that met the outage on ``wan`` or reached ``edge``
    before c is sent again or queued, then forwarded at c, 20 per 16 ms round trip: the j-th
    reaches ``central`` at c + 8 ms + 16 ms floor(j / 20), counted in ``resumed``.

    Bridge QoS 0: those same copies are dropped (lost with the connection, or refused while it is
    down); every other copy reaches ``central`` 18 ms after publication."""
    wan = 8e-3
    spec: dict[str, Any] = {
        "duration": "60s",
        "brokers": {"edge": FREE_BROKER, "central": FREE_BROKER},
        "networks": {"mnet": parametric(), "wan": parametric(latency="8ms")},
        "machines": {"m": machine(1, broker="edge")},
        "bridges": {
            "up": {
                "from": "edge",
                "to": "central",
                "network": "wan",
                "topics": ["#"],
                "qos": bridge_qos,
                "client": {"keep_alive": "10s"},
            }
        },
        "subscribers": {
            "local": {"broker": "edge", "topics": ["#"]},
            "far": {"broker": "central", "topics": ["#"]},
        },
    }
    p = phase(tmp_path, spec)
    start = p + 2.05
    spec["networks"]["wan"]["outages"] = outage(start, 30.0)
    plant = run_plant(scenario(tmp_path, **spec))
    assert disconnections(plant, "bridge:up") == 1
    local, far = plant.rows[("m", "s", "local")], plant.rows[("m", "s", "far")]
    assert not local.dropped_at and not local.resumed
    published, delivered = in_publish_order(local)
    np.testing.assert_allclose(delivered - published, L, rtol=0, atol=EXACT)

    lost = p + 2.0 + L + wan + 15.0
    connected = reconnection(lost, start + 30.0) + 4 * wan
    assert connected == pytest.approx(lost + 31.0 + 4 * wan)
    times = releases(p, 60.0)
    away = times[(times + L + wan > start) & (times + L < connected)]
    published, delivered = in_publish_order(far)
    if bridge_qos:
        assert not far.dropped_at
        resumed = sorted(far.resumed)
        np.testing.assert_allclose([t for t, _ in resumed], away, rtol=0, atol=EXACT)
        expected = connected + wan + 2 * wan * (np.arange(len(away)) // 20)
        np.testing.assert_allclose([d for _, d in resumed], expected, rtol=0, atol=EXACT)
        assert len(published) >= len(times) - 1
    else:
        np.testing.assert_allclose(np.sort(far.dropped_published_at), away, rtol=0, atol=EXACT)
        assert not far.resumed
        np.testing.assert_allclose(delivered - published, L + wan, rtol=0, atol=EXACT)


def test_a_bridges_reconnection_is_late_only_for_the_rows_behind_it(tmp_path: Path) -> None:
    """The bridge of the previous test (QoS 1, ``wan`` down for 30 s), with a second subscriber on
    ``edge``: a slow QoS 1 historian (150 ms per message, one every 100 ms: it falls further
    behind all run, its copies waiting in the broker's queue, never dropped). Its own connection
    never fails, so none of its deliveries waited for a reconnection: its ``resumed`` stays empty,
    while the central subscriber's counts the forwarded backlog."""
    spec: dict[str, Any] = {
        "duration": "60s",
        "brokers": {"edge": FREE_BROKER, "central": FREE_BROKER},
        "networks": {"mnet": parametric(), "wan": parametric(latency="8ms")},
        "machines": {"m": machine(1, broker="edge")},
        "bridges": {
            "up": {
                "from": "edge",
                "to": "central",
                "network": "wan",
                "topics": ["#"],
                "qos": 1,
                "client": {"keep_alive": "10s"},
            }
        },
        "subscribers": {
            "historian": {"broker": "edge", "topics": ["#"], "qos": 1, "service_time": "150ms"},
            "far": {"broker": "central", "topics": ["#"]},
        },
    }
    p = phase(tmp_path, spec)
    spec["networks"]["wan"]["outages"] = outage(p + 2.05, 30.0)
    plant = run_plant(scenario(tmp_path, **spec))
    historian = plant.rows[("m", "s", "historian")]
    assert not historian.dropped_at
    assert len(plant.rows[("m", "s", "far")].resumed) > 400
    assert historian.resumed == []


# ------------------------------------------------------------------------------- keep-alive


@pytest.mark.parametrize(
    ("keep_alive", "start", "ping"),
    [
        (10.0, 30.5, 30.0),  # just after the PINGREQ of 30 s: noticed at 30 s + L + 15 s
        (10.0, 29.5, 20.0),  # just before it: the last one heard is the PINGREQ of 20 s
        (7.0, 28.5, 28.0),  # PINGREQs at 7, 14, 21, 28 s
    ],
)
def test_an_idle_subscriber_is_kept_alive_by_its_pings(
    tmp_path: Path, keep_alive: float, start: float, ping: float
) -> None:
    """A QoS 0 subscriber behind ``snet`` receives copies all the time but sends nothing, so it
    sends a PINGREQ every ``keep_alive`` (k = 10 s: at 10, 20, 30 s; k = 7 s: at 7, 14, 21, 28 s),
    each reaching the broker L later. Its
    network fails for 20 s: the broker drops it 1.5 k after the last PINGREQ that got through
    before the outage. The copies (every 100 ms) that met the outage before then are dropped at
    that moment, the first drops of the run."""
    spec: dict[str, Any] = {
        "duration": "60s",
        "networks": {"mnet": parametric(), "snet": parametric(outages=outage(start, 20.0))},
        "machines": {"m": machine(0)},
        "subscribers": {
            "sink": {
                "broker": "b",
                "topics": ["#"],
                "network": "snet",
                "client": {"keep_alive": seconds(keep_alive)},
            }
        },
    }
    plant = run_plant(scenario(tmp_path, **spec))
    row = plant.rows[("m", "s", "sink")]
    assert disconnections(plant, "subscriber:sink") == 1
    lost = ping + L + 1.5 * keep_alive
    assert min(row.dropped_at) == pytest.approx(lost, abs=EXACT)
    assert (
        np.count_nonzero(np.isclose(row.dropped_at, lost, rtol=0, atol=EXACT))
        >= 10 * (lost - start) - 1
    )


def test_a_busy_publisher_is_heard_through_its_publishes(tmp_path: Path) -> None:
    """A machine publishing every 100 ms (``keep_alive`` 10 s): the broker hears every PUBLISH.
    When ``mnet`` fails at 30.5 s, the connection is lost 15 s after the arrival of the last
    PUBLISH that got through (the last delivery to the subscriber next to the broker before the
    outage, at most 100 ms earlier), not 15 s after a keep-alive at 30 s."""
    spec: dict[str, Any] = {
        "duration": "50s",
        "networks": {"mnet": parametric(outages=outage(30.5, 20.0))},
        "machines": {"m": machine(0)},
        "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
    }
    plant = run_plant(scenario(tmp_path, **spec))
    row = plant.rows[("m", "s", "sink")]
    assert disconnections(plant, "m[0]") == 1
    delivered = np.asarray(row.delivered_at)
    heard = delivered[delivered < 30.5].max()
    assert heard > 30.5 - T
    assert min(row.dropped_at) == pytest.approx(heard + 15.0, abs=EXACT)


# ------------------------------------------------------------------------------------ schema


def test_overlapping_outages_are_refused(tmp_path: Path) -> None:
    """Two outages of one network that overlap are an error naming the field; outages that only
    touch, given in any order, are accepted (and kept in time order)."""
    base: dict[str, Any] = {
        "machines": {"m": machine(0)},
    }
    with pytest.raises(ScenarioError) as caught:
        scenario(
            tmp_path,
            networks={
                "mnet": parametric(
                    outages=[
                        {"start": "1s", "duration": "2s"},
                        {"start": "2500ms", "duration": "1s"},
                    ]
                )
            },
            **base,
        )
    assert caught.value.path == "networks.mnet.outages"
    assert "overlap" in caught.value.message
    sc = scenario(
        tmp_path,
        networks={
            "mnet": parametric(
                outages=[{"start": "3s", "duration": "1s"}, {"start": "1s", "duration": "2s"}]
            )
        },
        **base,
    )
    assert [(o.start, o.end) for o in sc.networks["mnet"].outages] == [(1.0, 3.0), (3.0, 4.0)]  # type: ignore[union-attr]


@pytest.mark.parametrize("owner", ["machines.m", "subscribers.sink", "bridges.up"])
def test_max_reconnect_delay_below_reconnect_delay_is_refused(tmp_path: Path, owner: str) -> None:
    """``max_reconnect_delay`` below ``reconnect_delay`` cannot be a doubling backoff: refused on
    every client block, with the block's path in the error."""
    client = {"reconnect_delay": "10s", "max_reconnect_delay": "5s"}
    spec: dict[str, Any] = {
        "brokers": {"b": FREE_BROKER, "c": FREE_BROKER},
        "networks": {"mnet": parametric()},
        "machines": {"m": machine(0)},
        "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
        "bridges": {"up": {"from": "b", "to": "c", "network": "mnet", "topics": ["#"]}},
    }
    kind, name = owner.split(".")
    spec[kind][name]["client"] = client
    with pytest.raises(ScenarioError) as caught:
        scenario(tmp_path, **spec)
    assert caught.value.path == f"{owner}.client"
    assert "max_reconnect_delay" in caught.value.message
    spec[kind][name]["client"] = {"reconnect_delay": "10s", "max_reconnect_delay": "10s"}
    scenario(tmp_path, **spec)
