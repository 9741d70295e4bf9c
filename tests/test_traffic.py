"""Telemetry streams (sim.models.traffic): the release times the physics says, whatever stretches
they are drawn in, and one pending release event per stream of a machine class, not per machine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine import Plant
from sim.models.draws import component_rng
from sim.models.events import Arrival
from sim.models.traffic import ReleaseCalendar, Releases
from sim.scenario.schema import Scenario, Stream


def stream(**timing: str) -> Stream:
    return Stream.model_validate({"topic": "t", "payload": "100B", **timing})


def drawn(releases: Releases, ends: np.ndarray) -> np.ndarray:
    return np.concatenate([releases.until(float(end)) for end in ends])


@pytest.mark.parametrize(
    "timing", [{"every": "10ms"}, {"every": "10ms", "jitter": "4ms"}, {"poisson": "100/s"}]
)
def test_releases_do_not_depend_on_the_stretches_they_are_drawn_in(timing: dict) -> None:
    """One stretch of 60 s, or 1,000 stretches of random lengths: the same releases, bit for bit."""
    once = Releases(stream(**timing), component_rng(1, 0, "m")).until(60.0)
    ends = np.sort(np.random.default_rng(2).uniform(0, 60, 999))
    pieces = drawn(Releases(stream(**timing), component_rng(1, 0, "m")), np.append(ends, 60.0))
    assert np.array_equal(once, pieces)
    assert np.all(np.diff(once) > 0)


def test_a_periodic_release_is_late_by_a_uniform_draw_within_the_jitter() -> None:
    """Every 10 ms from a phase in [0, 10 ms), each release 0 to 4 ms after its nominal time,
    the lateness uniform: its mean 2 ms and its variance 4^2/12 ms^2, within 3 standard errors."""
    every, jitter = 0.010, 0.004
    releases = Releases(stream(every="10ms", jitter="4ms"), component_rng(3, 0, "m"))
    phase = releases.nominal
    assert 0 <= phase < every
    times = releases.until(600.0)
    nominal = phase + every * np.arange(times.size)
    late = times - nominal
    assert late.min() >= -1e-9 and late.max() <= jitter + 1e-9
    n = late.size
    assert abs(late.mean() - jitter / 2) < 3 * jitter / math.sqrt(12 * n)
    # the variance of a uniform's sample variance: (1/n)(mu4 - sigma^4), mu4 = J^4/80
    sigma2 = jitter**2 / 12
    assert abs(late.var() - sigma2) < 3 * math.sqrt((jitter**4 / 80 - sigma2**2) / n)


def test_poisson_releases_have_exponential_gaps_of_the_mean_rate() -> None:
    """100/s for 600 s: the gaps' mean 10 ms and their coefficient of variation 1, each within 3
    standard errors (the CV of an exponential sample: SE about 1/sqrt(n))."""
    times = Releases(stream(poisson="100/s"), component_rng(4, 0, "m")).until(600.0)
    gaps = np.diff(np.concatenate([[0.0], times]))
    n = gaps.size
    assert abs(gaps.mean() - 0.01) < 3 * 0.01 / math.sqrt(n)
    assert abs(gaps.std() / gaps.mean() - 1.0) < 3 / math.sqrt(n)


def plant(machines: int) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "calendar",
            "duration": "3s",
            "seed": 5,
            "networks": {"lan": {"kind": "parametric", "latency": "1ms"}},
            "brokers": {"b": {"host": "none"}},
            "machines": {
                "cnc": {
                    "count": machines,
                    "network": "lan",
                    "broker": "b",
                    "host": "none",
                    "streams": {
                        "state": {"topic": "cnc/{id}", "every": "20ms", "jitter": "5ms",
                                  "payload": "100B"},
                        "alarm": {"topic": "alarm/{id}", "poisson": "7/s", "payload": "50B"},
                    },
                },
                "robot": {
                    "count": 3,
                    "network": "lan",
                    "broker": "b",
                    "host": "none",
                    "streams": {"joint": {"topic": "r/{id}", "every": "2ms", "payload": "120B"}},
                },
            },
            "subscribers": {"sink": {"broker": "b", "topics": ["#"], "host": "none"}},
        }
    )  # fmt: skip


def pending_releases(plant: Plant) -> int:
    return sum(
        1
        for (_, _, _, event) in plant.env._queue
        if isinstance(event, Arrival) and isinstance(getattr(event.offer, "__self__", None), ReleaseCalendar)
    )  # fmt: skip


def test_one_pending_release_per_stream_of_a_class_whatever_the_machine_count() -> None:
    """Three streams of two classes: three release events pending, with 5 machines or 500,
    at the start and in the middle of the run."""
    for machines in (5, 500):
        built = Plant(plant(machines))
        assert len(built.calendars) == 3
        assert pending_releases(built) == 3
        built.env.run(until=1.5)
        assert pending_releases(built) == 3


def test_each_machine_publishes_its_own_schedule() -> None:
    """Every message the plant publishes comes from its stream's schedule (the Releases of the
    machine's own generator, drawn at once): per machine and stream, the same times."""
    scenario = plant(7)
    built = Plant(scenario, samples=True)
    built.run()
    for (machine, name, _), row in built.rows.items():
        assert not row.dropped_at
        published = np.asarray(row.delivered_published_at)
        instance = np.asarray(row.delivered_instance)
        config = scenario.machines[machine]
        for k in range(config.count):
            expected = Releases(
                config.streams[name], component_rng(5, 0, f"machine:{machine}[{k}]:{name}")
            ).until(scenario.duration)
            got = np.sort(published[instance == k])
            assert np.array_equal(got, expected[: got.size]), (machine, name, k)
            assert got.size >= expected.size - 2  # (the last few may still be on their way)
