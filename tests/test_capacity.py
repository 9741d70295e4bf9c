"""Capacity search: the limit it finds against the closed forms it should find, on an M/M/1 queue
and on a 5G cell's uplink, and the search's own rules (bracketing, bisection to one step, more
replications for an inconclusive probe, refused values, conditions as written)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import factory5g, plant, scenario_file

from sim.studies.capacity import Condition, search
from sim.studies.executor import InProcess
from sim.studies.runner import Runner
from sim.studies.store import Store

MU = 1000.0  # service rate: exponential 1250 B frames on 10 Mbit/s
T = 0.010  # the bound on the mean time in system


def _mm1(folder: Path) -> Path:
    """An M/M/1 queue from testbed parts: Poisson arrivals, exponential 1250 B messages on a
    10 Mbit/s link without framing or propagation, nothing else in the way."""
    data = plant(
        network={"kind": "parametric", "latency": "0s", "rate": "10Mbps", "overhead": "0B"},
        streams={"s": {"topic": "q/s", "poisson": "100/s", "payload": {"exponential": "1250B"}}},
        duration="21s",
        warmup="1s",
        replications=3,
        seed=4,
    )
    path = scenario_file(folder, "mm1", data)
    return path


def test_mm1_capacity_is_mu_minus_one_over_t_within_one_step(tmp_path: Path) -> None:
    """For a mean time in system 1/(mu - lambda) of at most T, lambda may reach mu - 1/T = 900/s.
    Searching the arrival rate from 100/s to 990/s in steps of 20/s must put the largest passing
    and the smallest failing rate each within one step of 900/s, on either side of it. Near the
    limit the replications' interval straddles T: those probes run again with more replications
    (the store keeps the first ones, so only the new ones are computed)."""
    limit = MU - 1.0 / T
    step = 20.0
    runner = Runner(InProcess(), Store(tmp_path / "store"))
    found = search(
        _mm1(tmp_path),
        "machines.m.streams.s.poisson",
        "100/s",
        "990/s",
        runner,
        Condition.parse("mean<=10ms"),
        step="20/s",
    )
    assert found.largest_pass is not None and found.smallest_fail is not None
    passing = float(found.largest_pass.value.removesuffix("/s"))
    failing = float(found.smallest_fail.value.removesuffix("/s"))
    assert limit - step <= passing <= limit + step / 2, found.sentence()
    assert limit - step / 2 <= failing <= limit + step, found.sentence()
    assert failing - passing <= step
    values = [p.value for p in found.probes]
    assert values[:5] == ["100/s", "200/s", "400/s", "800/s", "990/s"]  # doubling, then the end
    assert len(set(values)) == len(values)  # no value probed twice
    grown = [p for p in found.probes if p.replications > 3]
    assert all(p.replications in (6, 12, 16) for p in grown)
    # every replication computed once: tasks = the replications of the probes, no more
    assert runner.computed == sum(p.replications for p in found.probes)
    assert f"up to machines.m.streams.s.poisson={found.largest_pass.value}" in found.sentence()


# 5G NR uplink arithmetic (TS 38.101-1 Table 5.3.2-1, TS 38.214 Table 5.1.3.1-1), written out here
# rather than taken from the model: 10 MHz at 30 kHz has 24 PRBs; MCS 20 is 64QAM at R = 567/1024.
PRBS = 24
BITS_PER_RE = 6 * 567 / 1024
PAYLOAD = 1000
TOPIC = "m/s"


def test_a_5g_cells_uplink_carries_what_its_prbs_allow(tmp_path: Path) -> None:
    """A grant-based sa-midband cell narrowed to 10 MHz (24 PRBs) with no HARQ failures carries,
    per second, 400 DDDSU periods x (14 U + 2 special-slot uplink symbols) x 24 PRBs x 12
    subcarriers x 3.32 bit x 2 layers x (1 - 8 % overhead) / 8 bytes; each machine sends ten 1000 B
    messages a second, each 1000 B + 8 B MQTT (fixed header 1 + 2, topic 2 + 3) + 40 B TCP/IP + 7 B
    PDCP/RLC/MAC on the radio. The capacity found for a p99 below 50 ms must lie below that count
    and within 15 % of it (periodic sources of random phase queue little until the cell is nearly
    full)."""
    per_second = 400 * (14 + 2) * PRBS * 12 * BITS_PER_RE * 2 * (1 - 0.08) / 8
    mqtt = 1 + 2 + 2 + len(TOPIC) + PAYLOAD
    radio = mqtt + 40 + 7
    most = per_second / (10 * radio)
    data = plant(
        network={
            "kind": "nr5g",
            "profile": "sa-midband",
            "bandwidth": "10MHz",
            "bler": "0%",
            "uplink_bler": "0%",
        },
        streams={"s": {"topic": TOPIC, "every": "100ms", "payload": f"{PAYLOAD}B"}},
        count=10,
        duration="6s",
        warmup="1s",
        replications=3,
        seed=5,
    )
    path = scenario_file(tmp_path, "cell", data)
    out = tmp_path / "out"
    result = factory5g(
        "capacity", path, "--grow", "machines.m.count", "--from", "10", "--to", "200",
        "--until", "p99<=50ms", "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = json.loads((out / "capacity.json").read_text())
    passing, failing = written["largest_pass"], written["smallest_fail"]
    assert failing == passing + 1
    assert 0.85 * most <= passing < most, (passing, most)
    assert failing <= math.ceil(most)
    assert (out / "largest-pass" / "summary.json").is_file()
    assert f"up to machines.m.count={passing}" in result.stdout
    assert f"at {failing} it does not" in result.stdout


def test_conditions_as_written() -> None:
    bound = Condition.parse("p99<5ms", "robot/*")
    assert (bound.statistic, bound.bound, bound.strict, bound.rows) == (
        "p99",
        0.005,
        True,
        "robot/*",
    )
    assert Condition.parse("mean <= 2ms").strict is False
    assert Condition.parse("motion-control").requirement == "motion-control"
    assert Condition.parse("deadline=10ms,reliability=99.99%").requirement == {
        "deadline": "10ms",
        "reliability": "99.99%",
    }
    assert Condition.parse(None).requirement is None and Condition.parse(None).statistic is None
    for bad in ("p98<=1ms", "fast", "mean<=10"):
        with pytest.raises(ValueError):
            Condition.parse(bad)


def test_a_value_the_scenario_refuses_is_the_limit(tmp_path: Path) -> None:
    """Configured grants of 320 B every 10 ms hold one occasion's PRBs per UE; the count where
    the cell is overbooked does not validate, and the search stops there, saying why."""
    data = plant(
        network={
            "kind": "nr5g",
            "profile": "sa-midband",
            "bandwidth": "10MHz",
            "uplink_access": "configured_grant",
        },
        streams={"s": {"topic": "m/{id}", "every": "10ms", "payload": "100B"}},
        count=1,
        duration="1s",
        replications=1,
    )
    path = scenario_file(tmp_path, "cg", data)
    # 320 B over 14 symbols at 9.17 B per PRB-symbol: 3 PRBs; 24 PRBs: 8 UEs per occasion; one
    # U slot per 2.5 ms: 4 occasions per 10 ms period, so 32 UEs, the 33rd refused
    found = search(
        path,
        "machines.m.count",
        "1",
        "64",
        Runner(InProcess()),
        Condition.parse("p99<=1s"),
        replications=2,
    )
    assert found.largest_pass is not None and found.smallest_fail is not None
    assert (found.largest_pass.value, found.smallest_fail.value) == (32, 33)
    assert (
        found.smallest_fail.refused and "configured grants reserve" in found.smallest_fail.refused
    )
    assert "refused there" in found.sentence()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--until", "fast"], "--until: 'fast': give a latency bound"),
        (["--from", "10", "--to", "5"], "must be below --to"),
        (["--from", "1ms", "--to", "5/s"], "same unit"),
        (["--grow", "machines.mm.count"], "machines.mm.count: machines has no 'mm'"),
        (["--step", "0"], "--step '0': above 0"),
    ],
)
def test_bad_capacity_options_say_what_is_allowed(
    tmp_path: Path, options: list[str], said: str
) -> None:
    """One line naming the option or field, exit status 2, no traceback, nothing written."""
    path = _mm1(tmp_path)
    given = {"--grow": "machines.m.count", "--from": "1", "--to": "4"}
    for flag, value in zip(options[::2], options[1::2], strict=True):
        given[flag] = value
    out = tmp_path / "out"
    result = factory5g("capacity", path, *[x for pair in given.items() for x in pair], "--out", out)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (out / "capacity.json").exists()
