"""Arrival events (sim.models.events) and the private part of SimPy they rely on.

``Arrival`` pushes itself onto the environment's event heap directly (``env._queue``, entries
``(time, priority, id, event)``, ids from ``env._eid``) so that its time is exactly the one given,
and ``pending_arrivals`` reads that heap at the end of a run. Neither is SimPy's public interface:
``pyproject.toml`` pins ``simpy<5``, and these tests fail loudly, naming what changed, if a SimPy
release rearranges it.
"""

from __future__ import annotations

import itertools

import simpy
from simpy.core import NORMAL

from sim.models.events import Arrival, ordered_entry, pending_arrivals


def test_simpy_is_the_major_version_the_events_were_written_for() -> None:
    major = int(simpy.__version__.split(".")[0])
    assert major == 4, f"SimPy {simpy.__version__}: sim/models/events.py was written for SimPy 4"


def test_simpy_keeps_its_events_in_a_heap_of_time_priority_id_event() -> None:
    """The structure Arrival writes into and pending_arrivals reads."""
    env = simpy.Environment()
    timeout = env.timeout(1.5)
    assert isinstance(env._queue, list), "Environment._queue is no longer a list"
    assert isinstance(env._eid, itertools.count), "Environment._eid is no longer a counter"
    ((when, priority, eid, event),) = env._queue
    assert (when, priority, event) == (1.5, NORMAL, timeout)
    assert isinstance(eid, int)


def test_an_arrival_fires_at_its_exact_time_in_schedule_order() -> None:
    """Events at the same time fire in the order they were scheduled, arrivals included; an
    arrival at 0.1 + 0.2 fires at that float, not at now + (when - now)."""
    env = simpy.Environment()
    log: list[tuple[str, float, float]] = []
    env.run(until=0.1)
    when = 0.1 + 0.2

    def offer(item: str, at: float) -> None:
        log.append((item, at, env.now))

    first = env.timeout(when - env.now)
    first.callbacks.append(lambda _e: log.append(("timeout", when, env.now)))
    Arrival(env, when, offer, "a")
    Arrival(env, 0.2, offer, "b")
    Arrival(env, when, offer, "c")
    assert sorted(pending_arrivals(env)) == ["a", "b", "c"]
    env.run()
    assert [item for item, _, _ in log] == ["b", "timeout", "a", "c"]
    assert [(at, now) for item, at, now in log if item in "ac"] == [(when, when), (when, when)]
    assert pending_arrivals(env) == []


def test_one_feeder_is_offered_at_once_several_wait_for_their_time() -> None:
    """With one feeder the component is called at once with the future time; with two, a future
    arrival waits in an event until its time and one already due is offered at once."""
    env = simpy.Environment()
    seen: list[tuple[str, float, float]] = []

    def component(item: str, at: float) -> None:
        seen.append((item, at, env.now))

    ordered_entry(env, component, 1)("direct", 5.0)
    assert seen == [("direct", 5.0, 0.0)]
    shared = ordered_entry(env, component, 2)
    shared("later", 3.0)
    shared("now", 0.0)
    assert seen[-1] == ("now", 0.0, 0.0)
    assert pending_arrivals(env) == ["later"]
    env.run()
    assert seen[-1] == ("later", 3.0, 3.0)
