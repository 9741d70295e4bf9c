"""The fast engine (sim.fast) against the event engine: on every plant within its scope, the same
copies delivered at the same times (to 1 ns), the same drops and copies in flight, the same
traffic; and the choice between them (sim.engines) said in summary.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import FIXTURES, SCENARIOS, factory5g, scenario_file

from sim.engine import Plant, run_scenario
from sim.engines import choose, out_of_scope
from sim.fast import FastPlant, OutOfScope
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

NS = 1e-9


def _by_the_end(row) -> list[tuple[np.ndarray, np.ndarray]]:
    """A row's delivered and dropped copies (publish time, time) up to the end, in publish order."""
    out = []
    for published, at in (
        (row.delivered_published_at, row.delivered_at),
        (row.dropped_published_at, row.dropped_at),
    ):
        p, t = np.asarray(published), np.asarray(at)
        kept = t <= row.tally.end
        order = np.lexsort((t[kept], p[kept]))
        out.append((p[kept][order], t[kept][order]))
    return out


def generated_plant(seed: int, ethernet: bool = False) -> Scenario:
    """:func:`plant_data`'s plant, validated."""
    return Scenario.model_validate(plant_data(seed, ethernet))


def _ethernet(rng: np.random.Generator) -> dict:
    """A switched Ethernet of FIFO ports: 1 to 4 hops, switches of 0 to 20 us, and half the
    time cross traffic at a load of 0.05 to 0.6, of Poisson frames of 64 to 1500 B or of bursts
    up to 64 kB, at an MTU of 576 to 1500 B (so that long messages take several frames); its
    rate is chosen once the plant's traffic is known (:func:`plant_data`)."""
    network = {
        "kind": "ethernet",
        "hops": int(rng.integers(1, 5)),
        "switch_latency": f"{rng.uniform(0, 20):.3f}us",
        "mtu": f"{int(rng.integers(576, 1501))}B",
    }
    if rng.uniform() < 0.5:
        cross = {"load": round(float(rng.uniform(0.05, 0.6)), 3)}
        cross["size"] = f"{int(rng.integers(64, 1501))}B"
        if rng.uniform() < 0.5:
            cross["burst"] = f"{int(rng.integers(2, 64))}kB"
        network["cross_traffic"] = cross
    return network


def plant_data(seed: int, ethernet: bool = False) -> dict:
    """A plant drawn from a seeded generator: one or two parametric networks (constant, uniform
    or lognormal latency; unlimited, or a capacity giving a load of 0.2 to 0.9), or with
    ``ethernet`` switched Ethernet networks (:func:`_ethernet`), one to three
    machine classes of 1 to 40 machines with periodic (jittered) or Poisson streams of constant,
    uniform, exponential, lognormal or normal payloads, one or two subscribers beside the
    broker (some slow, with short queues that drop), keep-alives of 2 to 8 s, host stacks of
    every class or none at the machines and the broker."""
    rng = np.random.default_rng(seed)
    networks = {}
    for k in range(int(rng.integers(1, 3))):
        latency = [
            "1ms",
            {"uniform": ["0.5ms", f"{rng.uniform(1, 5):.3f}ms"]},
            {"lognormal": {"median": f"{rng.uniform(1, 4):.3f}ms", "p99": "9ms"}},
        ][int(rng.integers(3))]
        networks[f"n{k}"] = (
            _ethernet(rng) if ethernet else {"kind": "parametric", "latency": latency}
        )
    machines = {}
    offered: dict[str, float] = dict.fromkeys(networks, 0.0)
    for k in range(int(rng.integers(1, 4))):
        network = f"n{int(rng.integers(len(networks)))}"
        count = int(rng.integers(1, 41))
        streams = {}
        for j in range(int(rng.integers(1, 3))):
            mean = float(rng.uniform(20, 1500))
            payload = [
                f"{mean:.0f}B",
                {"uniform": [f"{mean / 2:.0f}B", f"{mean * 1.5:.0f}B"]},
                {"exponential": f"{mean:.0f}B"},
                {"lognormal": {"median": f"{mean:.0f}B", "p99": f"{3 * mean:.0f}B"}},
                {"normal": {"mean": f"{mean:.0f}B", "std": f"{mean:.0f}B"}},
            ][int(rng.integers(5))]
            if rng.uniform() < 0.6:
                every = float(rng.uniform(0.005, 0.2))
                timing = {
                    "every": f"{every * 1e3:.3f}ms",
                    "jitter": f"{every * rng.uniform(0, 0.9) * 1e3:.3f}ms",
                }
                rate = 1 / every
            else:
                rate = float(rng.uniform(2, 100))
                timing = {"poisson": f"{rate:.3f}/s"}
            streams[f"s{j}"] = {"topic": f"c{k}/s{j}/{{id}}", "payload": payload, **timing}
            offered[network] += count * rate * (mean + 100) * 8
        machines[f"c{k}"] = {
            "count": count,
            "network": network,
            "broker": "b",
            "host": "none",
            "client": {"keep_alive": f"{int(rng.integers(2, 9))}s"},
            "streams": streams,
        }
    for name, bits in offered.items():
        if ethernet:
            # the slowest or the next standard rate under which the hops' load stays below 0.85
            cross = networks[name].get("cross_traffic", {}).get("load", 0.0)
            rates = [r for r in (10e6, 100e6, 1e9, 10e9) if bits / r + cross < 0.85]
            networks[name]["rate"] = f"{rates[int(rng.integers(2))]:.0f}bps"
        elif rng.uniform() < 0.7 and bits:
            networks[name]["rate"] = f"{bits / rng.uniform(0.2, 0.9) / 1e6:.4f}Mbps"
    subscribers = {}
    for k in range(int(rng.integers(1, 3))):
        topics = ["#"] if k == 0 else [f"c0/s{int(rng.integers(2))}/#"]
        subscribers[f"sub{k}"] = {
            "broker": "b",
            "topics": topics,
            "service_time": f"{rng.choice([0.0, rng.uniform(1, 400)]):.3f}us",
        }
    return {
        "name": f"plant-{seed}",
        "duration": f"{rng.uniform(6, 20):.3f}s",
        "warmup": "1s",
        "seed": int(rng.integers(2**32)),
        "networks": networks,
        "brokers": {
            "b": {
                "host": ["none", "server"][int(rng.integers(2))],
                "max_queued": int(rng.integers(5, 200)),
            }
        },
        "machines": machines,
        "subscribers": subscribers,
    }


@pytest.mark.parametrize(
    ("seed", "ethernet"),
    [(seed, False) for seed in range(12)] + [(seed, True) for seed in range(8)],
)
def test_the_fast_engine_delivers_what_the_event_engine_delivers(seed: int, ethernet: bool) -> None:
    """Each generated plant, on both engines with every copy kept: per row the same counts
    (published, delivered, dropped, in flight), each delivered copy's publish and delivery time
    equal to 1 ns, each dropped copy's too, and the same MQTT traffic each way."""
    scenario = generated_plant(seed, ethernet)
    assert out_of_scope(scenario) == []
    event = Plant(scenario, samples=True)
    event.run()
    fast = FastPlant(scenario, samples=True)
    fast.run()
    records = {r.key: r for r in fast.records()}
    assert sorted(records) == sorted(r.key for r in event.records())
    for expected in event.records():
        got = records[expected.key]
        assert (got.published, got.delivered, got.dropped, got.in_flight) == (
            expected.published,
            expected.delivered,
            expected.dropped,
            expected.in_flight,
        ), expected.key
        # (what happens after the end differs by design: the event engine stops, the fast engine
        # finishes each copy's path; both count such copies as in flight)
        mine, theirs = _by_the_end(fast.rows[expected.key]), _by_the_end(event.rows[expected.key])
        for (p, t), (q, u) in zip(mine, theirs, strict=True):
            assert p.shape == q.shape, expected.key
            np.testing.assert_allclose(p, q, rtol=0, atol=NS)
            np.testing.assert_allclose(t, u, rtol=0, atol=NS)
    assert fast.traffic() == event.traffic()


def test_the_family_reaches_the_corners_it_is_meant_to() -> None:
    """The generated plants are not all alike: some drop at a slow subscriber's queue, some
    saturate nothing, some have several classes and networks."""
    drops = classes = 0
    for seed in range(12):
        scenario = generated_plant(seed)
        classes += len(scenario.machines) > 1
        fast = FastPlant(scenario)
        fast.run()
        drops += any(r.dropped for r in fast.records())
    assert drops >= 1 and classes >= 3


def test_auto_runs_the_fast_engine_where_it_can_and_says_so(tmp_path) -> None:
    """A generated plant is within the scope: auto runs the fast engine, summary.json says which
    and why, and its figures are the event engine's; so is the M/M/1 of the tests; line 3 has a
    radio, so auto runs the event engine and says why."""
    plant = generated_plant(3)
    assert choose(plant)[0] == "fast"
    fast = run_scenario(plant)
    event = run_scenario(plant.model_copy(update={"engine": "event"}))
    assert fast.engine["name"] == "fast" and event.engine["name"] == "event"
    for a, b in zip(fast.streams, event.streams, strict=True):
        assert (a.published, a.delivered, a.dropped, a.in_flight) == (
            b.published,
            b.delivered,
            b.dropped,
            b.in_flight,
        )
        assert a.latency_s == pytest.approx(b.latency_s, abs=NS)
    assert choose(load_scenario(FIXTURES / "mm1.yaml"))[0] == "fast"  # (host stacks: in scope)
    name, why = choose(load_scenario(SCENARIOS / "line3-5g.yaml"))
    assert name == "event" and "nr5g network" in why
    path = scenario_file(tmp_path, "plant", plant_data(3))
    result = factory5g("run", path, "--out", tmp_path / "out", "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["engine"] == {"name": "fast", "reason": choose(plant)[1]}


def test_engine_fast_on_a_scenario_outside_its_scope_is_refused() -> None:
    """``engine: fast`` on line 3 (a radio, host stacks): one problem per reason, before anything
    runs."""
    with pytest.raises(ScenarioError) as error:
        load_scenario(SCENARIOS / "line3-5g.yaml", {"engine": "fast"})
    assert "the fast engine cannot run this scenario exactly" in str(error.value)
    assert "nr5g network" in str(error.value)


def test_run_engine_fast_outside_the_scope_exits_2_with_one_line_per_reason(tmp_path) -> None:
    """``run --engine fast`` on the brownfield hall (Ethernet, Wi-Fi, a gateway): exit 2, each
    line naming the file, the field and one reason, no traceback, nothing written."""
    out = tmp_path / "out"
    path = SCENARIOS / "brownfield-plant.yaml"
    result = factory5g("run", path, "--engine", "fast", "--out", out)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 2
    assert all("brownfield-plant.yaml: engine: the fast engine cannot" in x for x in lines)
    assert "Traceback" not in result.stderr and not out.exists()


def test_a_single_machine_whose_path_has_no_shared_stage_matches_too() -> None:
    """The M/M/1 of the tests: one machine, so the event engine computes each message's whole
    path at once (no stage has two feeders), keep-alive pings included; 200 s over chunks of 30 s.
    The same copies at the same times on both engines, and the same pings."""
    scenario = load_scenario(FIXTURES / "mm1.yaml")
    event = Plant(scenario, samples=True)
    event.run()
    fast = FastPlant(scenario, samples=True)
    fast.run()
    assert fast.chunk_length() < scenario.duration / 4
    for key, row in event.rows.items():
        for (p, t), (q, u) in zip(_by_the_end(fast.rows[key]), _by_the_end(row), strict=True):
            assert p.size == q.size
            np.testing.assert_allclose(p, q, rtol=0, atol=NS)
            np.testing.assert_allclose(t, u, rtol=0, atol=NS)
    assert fast.traffic() == event.traffic()


def test_a_window_that_binds_sends_the_plant_back_to_the_event_engine() -> None:
    """One machine sends 1,000 B messages, Poisson at 150/s, across 20 ms of latency with an
    8 kB TCP window: 6 kB are unacknowledged on average (150/s x 40 ms round trip x 1 kB), and
    more in a burst, so the window holds messages back now and then, within its 200 kB/s. The
    fast engine stops (it sends everything at once); ``auto`` then runs the event engine and says
    why, and there the window shows: latencies beyond the 20 ms path. With a 3 MB window the fast
    engine runs, and every latency is the path's."""
    data = {
        "name": "window",
        "duration": "10s",
        "warmup": "1s",
        "tcp": {"window": "8kB"},
        "networks": {"n": {"kind": "parametric", "latency": "20ms"}},
        "brokers": {"b": {"host": "none"}},
        "machines": {
            "m": {
                "count": 1,
                "network": "n",
                "broker": "b",
                "host": "none",
                "streams": {"s": {"topic": "t", "poisson": "150/s", "payload": "1000B"}},
            }
        },
        "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
    }
    tight = Scenario.model_validate(data)
    with pytest.raises(OutOfScope, match="TCP window would bind"):
        FastPlant(tight).run()
    result = run_scenario(tight)
    assert result.engine["name"] == "event" and "TCP window" in result.engine["reason"]
    assert result.streams[0].latency_s["max"] > 0.025
    roomy = run_scenario(Scenario.model_validate({**data, "tcp": {"window": "3MB"}}))
    assert roomy.engine["name"] == "fast"
    assert roomy.streams[0].latency_s["max"] < 0.0201
