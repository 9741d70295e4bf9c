"""Attacks and defences against their known answers: a flood's backlog in the broker's loop, an ACL
and a rate limit against it, forged messages, a connection storm's and a broadcast storm's queueing
(Pollaczek-Khinchine), jamming's share of a cell's capacity, and bad attack blocks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    FREE_BROKER,
    SCENARIOS,
    assert_within_ci,
    factory5g,
    in_publish_order,
    parametric,
    plant,
    run_plant,
    scenario_file,
)

from sim.api import run_file as run
from sim.compare import change_interval
from sim.metrics.summary import ATTACK_PREFIX
from sim.scenario.schema import Scenario

SERVICE = 10e-6  # the broker's work per PUBLISH read, parsed and matched
FANOUT = 10e-6  # and per copy delivered


def flooded(
    *,
    rate: float,
    subscribers: int,
    start: float = 1.0,
    duration: float = 1.0,
    broker: dict[str, Any] | None = None,
    attack: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """One press publishing 10 B every 10 ms to a broker whose loop costs ``SERVICE`` per PUBLISH
    and ``FANOUT`` per copy, with ``subscribers`` beside it taking everything; a compromised
    device on the same zero-latency network floods it at ``rate`` from ``start`` for
    ``duration``."""
    cfg = {
        **FREE_BROKER,
        "service_time": f"{SERVICE!r}s",
        "fanout_time": f"{FANOUT!r}s",
        **(broker or {}),
    }
    spec = plant(
        network=parametric("0s"),
        streams={"s": {"topic": "plant/m/{id}", "every": "10ms", "payload": "10B"}},
        broker=cfg,
        subscribers={f"app{i}": {"broker": "b", "topics": ["plant/#"]} for i in range(subscribers)},
        **{"duration": "3s", "warmup": "0.5s", **top},
    )
    spec["attacks"] = {
        "flood": {
            "kind": "flood",
            "network": "net",
            "broker": "b",
            "rate": f"{rate!r}/s",
            "payload": "10B",
            "topic": "plant/flood",
            "start": f"{start!r}s",
            "duration": f"{duration!r}s",
            "host": "none",
            **(attack or {}),
        }
    }
    return spec


def test_a_flood_above_capacity_grows_the_others_backlog_as_the_fluid_queue_says() -> None:
    """The broker can accept 1 / (SERVICE + 2 FANOUT) = 33,333 PUBLISH/s on a topic two
    subscribers take; a flood of twice that makes its loop's work arrive at rho = 2 + the press's
    1 % per second of work: the backlog grows by (rho - 1) s per second of flood and, once the
    flood stops, drains at 1 - 1 % per second. A press message published at t waits for that
    backlog, then takes its own SERVICE and its copy's FANOUT (two subscribers: up to 2 FANOUT)."""
    capacity = 1.0 / (SERVICE + 2 * FANOUT)
    scenario = Scenario.model_validate(flooded(rate=2 * capacity, subscribers=2))
    ran = run_plant(scenario)
    rho_press = 100 * (SERVICE + 2 * FANOUT)
    rho = 2.0 + rho_press
    published, delivered = in_publish_order(ran.rows[("m", "s", "app0")])
    latency = delivered - published
    start, end = 1.0, 2.0
    backlog = np.where(
        published < end,
        (rho - 1.0) * np.clip(published - start, 0.0, None),
        np.maximum((rho - 1.0) * (end - start) - (1.0 - rho_press) * (published - end), 0.0),
    )
    # the fluid backlog is the work not yet done; one flood message's work either side of it
    slack = SERVICE + 2 * FANOUT
    assert np.all(latency <= backlog + SERVICE + 2 * FANOUT + slack)
    assert np.all(latency >= backlog + SERVICE - slack)
    assert latency.max() > 0.9  # a second's backlog at the flood's end, as (rho - 1) x 1 s says
    flood = ran.rows[(f"{ATTACK_PREFIX}flood", "flood", "app0")]
    assert flood.published == round(2 * capacity)  # every one published in the window


@pytest.mark.parametrize(
    ("defence", "broker"),
    [("acl", {"acl": "own-topics"}), ("rate limit", {"messages_rate": "500/s"})],
)
def test_an_acl_or_a_rate_limit_on_the_flooder_restores_the_others(
    tmp_path: Path, defence: str, broker: dict[str, Any]
) -> None:
    """Twice the broker's capacity from one device, on a topic four applications take (50 us of
    the loop per accepted PUBLISH) against ten presses whose network is a millisecond or so of
    random delay. Undefended, the presses' mean latency grows by seconds: the change's 95 %
    interval (Welch's, from the replications, as ``compare`` marks it) lies far above zero. With
    an ACL the flood is read, refused and counted (10 us each: 40 % of the loop, a couple of
    microseconds of waiting), never delivered; with a 500/s rate limit the broker reads the
    device at 500/s. Either way the change's interval holds zero: the presses are back."""
    capacity = 1.0 / (SERVICE + 4 * FANOUT)

    def spec(attack: bool, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        data = flooded(
            rate=2 * capacity,
            subscribers=4,
            start=0.5,
            duration=2.5,
            broker=extra,
            count=10,
            replications=4,
        )
        data["networks"]["net"] = {
            "kind": "parametric",
            "latency": {"lognormal": {"median": "1ms", "p99": "3ms"}},
        }
        # the camera's own path to the broker (its VLAN, routed), a steady millisecond: the
        # flood arrives as evenly as it is sent (in order over a jittery path it would bunch)
        data["networks"]["cameras"] = parametric("1ms")
        data["attacks"]["flood"]["network"] = "cameras"
        if not attack:
            del data["attacks"]
        return data

    def means(data: dict[str, Any]) -> tuple[list[float], Any]:
        results = run(scenario_file(tmp_path, f"s{len(list(tmp_path.iterdir()))}", data))
        row = results.stream("m", "s", "app0")
        return row.per_replication["mean"], results

    clean, _ = means(spec(False))
    flooded_means, _ = means(spec(True))
    low, _high = change_interval(clean, flooded_means)  # type: ignore[misc]
    assert low > 0.1, "undefended, the flood must raise the presses' latency by far"
    defended, results = means(spec(True, broker))
    low, high = change_interval(clean, defended)  # type: ignore[misc]
    assert low <= 0.0 <= high, f"with the {defence} the change is [{low:.3g}, {high:.3g}] s"
    reached = results.stream(f"{ATTACK_PREFIX}flood", "flood", "app0")
    at_broker = results.stream(f"{ATTACK_PREFIX}flood", "flood", "broker:b")
    if defence == "acl":
        assert reached.delivered == 0 and at_broker.delivered == 0
        assert at_broker.refused == at_broker.published - at_broker.in_flight
    else:
        # read at 500/s (plus the burst) for 2.5 s in each of 4 replications; the rest still
        # held in the device's socket (3 MB, the TCP window, holds all of it) or refused there
        assert reached.delivered <= 4 * (500 * 2.5 + 10)
        assert reached.delivered + reached.refused + reached.in_flight == reached.published
        assert reached.in_flight > 0.9 * reached.published


def spoofed(acl: bool) -> dict[str, Any]:
    """A rogue device imitating press 0's stream at its rate for 2 s, both subscribers taking it."""
    broker = {**FREE_BROKER, "acl": "own-topics"} if acl else FREE_BROKER
    data = plant(
        network=parametric("1ms"),
        streams={"s": {"topic": "plant/m/{id}", "every": "10ms", "payload": "10B"}},
        count=2,
        broker=broker,
        subscribers={
            "scada": {"broker": "b", "topics": ["plant/#"]},
            "historian": {"broker": "b", "topics": ["plant/m/0"]},
        },
        duration="4s",
        warmup="0.5s",
    )
    data["attacks"] = {
        "rogue": {
            "kind": "spoof",
            "target": "m.s",
            "network": "net",
            "start": "1s",
            "duration": "2s",
            "host": "none",
        }
    }
    return data


def test_forged_messages_are_counted_and_with_an_acl_never_delivered(tmp_path: Path) -> None:
    """The rogue publishes 100 per second for 2 s on press 0's topic: without an ACL both
    subscribers get all 200, each counted as forged on press 0's row for them (press 1's rows
    none); with an ACL all 200 are refused at the broker, none forged, and the presses' own
    deliveries are the same either way."""
    open_run = run(scenario_file(tmp_path, "open", spoofed(acl=False)))
    locked = run(scenario_file(tmp_path, "locked", spoofed(acl=True)))
    for subscriber in ("scada", "historian"):
        assert open_run.stream("m", "s", subscriber).forged == 200
        assert locked.stream("m", "s", subscriber).forged == 0
        rogue = locked.stream(f"{ATTACK_PREFIX}rogue", "m.s", subscriber)
        assert rogue.delivered == 0 and rogue.refused == 200
        assert (
            open_run.stream("m", "s", subscriber).delivered
            == locked.stream("m", "s", subscriber).delivered
        )
    at_broker = open_run.stream(f"{ATTACK_PREFIX}rogue", "m.s", "broker:b")
    assert at_broker.delivered == 200 and at_broker.refused == 0


def test_a_connection_storm_loads_the_broker_by_its_cpu_per_attempt(tmp_path: Path) -> None:
    """Poisson attempts at 5,000/s, each costing the loop its CONNECT (100 us): an M/D/1 queue at
    rho = 0.5, so a press message (which costs nothing itself, on a zero-latency network) waits
    the queue's mean virtual waiting time, rho x D / (2 (1 - rho)) = 50 us (Pollaczek-Khinchine);
    with max_conn_rate 1,000/s the listener accepts at most one attempt a millisecond, and the
    rest are refused at no cost."""
    data = plant(
        network=parametric("0s"),
        streams={"s": {"topic": "plant/m/{id}", "every": "1ms", "payload": "10B"}},
        count=4,
        broker={**FREE_BROKER, "connect_time": "100us"},
        duration="6s",
        warmup="1s",
        replications=8,
    )
    data["attacks"] = {
        "storm": {
            "kind": "connection_storm",
            "broker": "b",
            "rate": "5000/s",
            "start": "0s",
            "duration": "6s",
        }
    }
    results = run(scenario_file(tmp_path, "storm", data))
    means = results.stream("m", "s", "sink").per_replication["mean"]
    assert_within_ci(means, 0.5 * 100e-6 / (2 * 0.5), "mean wait behind the storm")
    limited = copy.deepcopy(data)
    limited["brokers"]["b"]["max_conn_rate"] = "1000/s"
    results = run(scenario_file(tmp_path, "limited", limited))
    storm = results.stream(f"{ATTACK_PREFIX}storm", "connect", "broker:b")
    window, replications = 5.0, 8
    assert storm.delivered <= replications * (1000 * window + 1)
    assert storm.refused == storm.published - storm.delivered - storm.in_flight
    assert storm.refused > 0.7 * storm.published  # about 4 in 5 wait unread


def jammed_cell(share: float | None) -> dict[str, Any]:
    """Four UEs with far more to send than a sa-midband cell's uplink carries (100 kB each every
    10 ms, 40 MB/s offered to about 16 MB/s), no HARQ losses; jammed throughout when ``share``."""
    data = plant(
        network={"kind": "nr5g", "profile": "sa-midband", "uplink_bler": 0, "bler": 0},
        streams={"img": {"topic": "cam/{id}", "every": "10ms", "payload": "100kB"}},
        count=4,
        duration="3s",
        warmup="1s",
        replications=2,
        tcp={"window": "100MB"},
    )
    if share is not None:
        data["attacks"] = {
            "jammer": {
                "kind": "jamming",
                "network": "net",
                "prb_share": share,
                "start": "0s",
                "duration": "3s",
            }
        }
    return data


def test_jamming_a_share_of_the_prbs_cuts_the_saturation_throughput_by_that_share(
    tmp_path: Path,
) -> None:
    """Saturated, the cell's uplink carries what its PRBs can; jamming 25 % of them leaves
    273 - floor(0.25 x 273) = 205 of 273, so the throughput falls to 205/273 of the unjammed one
    (to within one 100 kB message per UE and window of each run's count)."""
    clear = run(scenario_file(tmp_path, "clear", jammed_cell(None)))
    jammed = run(scenario_file(tmp_path, "jammed", jammed_cell(0.25)))
    before = clear.stream("m", "img", "sink").throughput_bit_s
    after = jammed.stream("m", "img", "sink").throughput_bit_s
    granularity = 4 * 100e3 * 8 / 2.0  # a message per UE, over the 2 s window
    assert abs(after - before * 205 / 273) <= 2 * granularity
    assert clear.networks["net"]["up"]["radio_utilisation"] > 0.95  # saturated, both
    assert jammed.networks["net"]["up"]["radio_utilisation"] > 0.95 * 205 / 273


def storm_lan(priority_queues: int) -> dict[str, Any]:
    """Presses publishing 100 B every 10 ms over one shared 100 Mbit/s hop at priority 7, while a
    broadcast storm of full-size frames at 50 % of the link floods it (priority 0)."""
    data = plant(
        network={
            "kind": "ethernet",
            "hops": 2,
            "rate": "100Mbps",
            "switch_latency": "0s",
            "priority_queues": priority_queues,
        },
        streams={"s": {"topic": "plant/m/{id}", "every": "10ms", "payload": "100B", "priority": 7}},
        count=4,
        duration="6s",
        warmup="0.5s",
        replications=6,
    )
    data["attacks"] = {
        "loop": {"kind": "broadcast_storm", "network": "net", "load": 0.5, "size": "1500B",
                 "start": "0s", "duration": "6s"}
    }  # fmt: skip
    return data


@pytest.mark.parametrize("priority_queues", [1, 2])
def test_a_broadcast_storm_queues_on_the_shared_hop_and_8021p_keeps_priority_clear(
    tmp_path: Path, priority_queues: int
) -> None:
    """The storm is Poisson 1500 B frames at rho = 0.5 on the shared hop, of S = 120 us each at
    100 Mbit/s: the work a press frame finds is the storm's residual rho S / 2 (a deterministic
    service) over 1 - the load it queues behind (Pollaczek-Khinchine, non-preemptive priority):
    in one FIFO everything, 1 - rho - rho_press; with 802.1p queues (its priority 7 above the
    storm's 0) only its own class, 1 - rho_press. The presses' 191 B frames every 10 ms load the
    hop by rho_press = 0.61 % and wait for each other hardly at all (the clean run's own wait,
    which the difference takes out)."""
    frame = 1500 * 8 / 100e6
    clean = copy.deepcopy(storm_lan(priority_queues))
    del clean["attacks"]
    base = run(scenario_file(tmp_path, f"clean{priority_queues}", clean))
    stormy = run(scenario_file(tmp_path, f"storm{priority_queues}", storm_lan(priority_queues)))
    before = base.stream("m", "s", "sink").per_replication["mean"]
    after = stormy.stream("m", "s", "sink").per_replication["mean"]
    waits = np.asarray(after) - np.asarray(before)  # the same draws, so the difference is the wait
    # a press frame: PUBLISH 2 + 2 + 9 (topic) + 100 B, TCP/IP 40 B, Ethernet 38 B on the wire
    press = 4 * 100 * (113 + 40 + 38) * 8 / 100e6
    residual = 0.5 * frame / 2
    expected = residual / (1 - 0.5 - press) if priority_queues == 1 else residual / (1 - press)
    assert_within_ci(waits, expected, "the press frame's wait behind the storm", narrow=0.1)


@pytest.mark.parametrize(
    ("attack", "field", "message"),
    [
        ({"kind": "jamming", "network": "net", "prb_share": 0.5}, "attacks.a.network",
         "a jamming attack needs a nr5g network; 'net' is parametric"),
        ({"kind": "flood", "network": "nowhere", "broker": "b", "rate": "1/s", "topic": "x"},
         "attacks.a.network", "unknown network 'nowhere'"),
        ({"kind": "flood", "network": "net", "broker": "b", "rate": "1/s", "topic": "x/#"},
         "attacks.a.topic", "'x/#' is not a topic name"),
        ({"kind": "spoof", "target": "m.nothing", "network": "net"}, "attacks.a.target",
         "unknown stream of m 'nothing'"),
    ],
)  # fmt: skip
def test_a_bad_attack_is_refused_in_one_line(
    tmp_path: Path, attack: dict[str, Any], field: str, message: str
) -> None:
    data = plant(
        network=parametric(), streams={"s": {"topic": "t", "every": "1s", "payload": "1B"}}
    )
    data["attacks"] = {"a": {"start": "0s", "duration": "1s", **attack}}
    path = scenario_file(tmp_path, "bad", data)
    done = factory5g("validate", path, cwd=tmp_path)
    assert done.returncode == 2
    assert field in done.stderr and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_the_security_study_validates() -> None:
    """The shipped study: every file loads, and each flood variant floods."""
    folder = SCENARIOS / "security"
    files = sorted(folder.glob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        done = factory5g("validate", path)
        assert done.returncode == 0, done.stderr
