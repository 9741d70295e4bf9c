"""The bare SimPy reference model of benchmarks/ does the accounting its sources imply.

Not a timing test: it runs the model for one simulated second and checks what it counted, never how
long it took.
"""

from __future__ import annotations

import importlib.util
import math
import sys

import pytest
from helpers import FIXTURES, ROOT


def _load_bare():
    """benchmarks/bare_simpy.py, imported by path (benchmarks/ is not an installed package)."""
    name = "benchmarks_bare_simpy"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "bare_simpy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


bare = _load_bare()

DURATION = 1.0


@pytest.fixture(scope="module")
def model():
    built = bare.BareModel(seed=7)
    built.env.run(until=DURATION)
    return built


def test_periodic_sources_publish_once_per_period(model):
    # 24 CNC every 10 ms, 8 robots every 4 ms, 2 cameras every 100 ms: each source publishes
    # duration / period messages, one more or one fewer depending on its phase and jitter.
    for name, count, every in (("cnc", 24, 0.010), ("robot", 8, 0.004), ("vision", 2, 0.100)):
        expected = count * round(DURATION / every)
        assert abs(model.published[name] - expected) <= count, (name, model.published[name])
    periodic = sum(model.published[name] for name in ("cnc", "robot", "vision"))
    assert abs(periodic - (24 * 100 + 8 * 250 + 2 * 10)) <= 24 + 8 + 2


def test_poisson_sensors_publish_at_their_rate(model):
    # 200 sensors at 2/s: a Poisson count of mean 400 per second, standard deviation 20.
    mean = 200 * 2.0 * DURATION
    assert abs(model.published["sensors"] - mean) <= 5 * math.sqrt(mean)


def test_every_published_message_is_delivered_queued_or_in_service(model):
    published = sum(model.published.values())
    delivered = len(model.sink.latency)
    queued = len(model.store.items)
    assert delivered <= published
    # At most one message is in service on the link when the run stops.
    assert published - delivered - queued in (0, 1)


def test_latency_is_at_least_one_serialisation_time(model):
    assert model.sink.latency, "the link delivered nothing"
    for latency, size in zip(model.sink.latency, model.sink.size, strict=True):
        assert latency >= size * 8 / bare.RATE - 1e-12


def test_run_bare_reports_its_accounting():
    result = bare.run_bare(duration=DURATION, seed=7)
    assert result["messages"] == sum(result["published_by_class"].values())
    assert result["events_processed"] <= result["events_scheduled"]
    # At least a timeout and a store put/get per message.
    assert result["events_processed"] >= 3 * result["delivered"]


def test_sources_match_the_line3_scenario():
    """The bare model's sources are those of the line 3 scenario the benchmark runs the engine on."""
    from sim.scenario.loader import load_scenario

    scenario = load_scenario(FIXTURES / "line3-intranet.yaml")
    assert scenario.networks["plant-lan"].rate == bare.RATE
    classes = {cls.name: cls for cls in bare.SOURCES}
    assert set(classes) == set(scenario.machines)
    for name, machine in scenario.machines.items():
        (stream,) = machine.streams.values()
        cls = classes[name]
        assert cls.count == machine.count
        assert cls.every == stream.every
        assert cls.jitter == stream.jitter
        assert cls.poisson == stream.poisson
        payload = stream.payload
        if payload.kind == "constant":
            assert cls.payload == payload.value
        else:
            assert cls.payload == (payload.low, payload.high)
