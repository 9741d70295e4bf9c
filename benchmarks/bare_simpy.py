"""The reference "bare SimPy model": line3-intranet's traffic, written the plainest idiomatic way.

It is the yardstick for the engine's speed: what a SimPy model costs per message when every source is
a process and the network is one FIFO queue drained by one process. It has the same sources as the
contract scenario ``line3-intranet.yaml`` (same counts, periods, jitter, Poisson rates and payload
sizes) and nothing else:

- one process per source: ``yield env.timeout(gap)``, then ``store.put(msg)``;
  periodic sources start at a uniform random phase in ``[0, period)`` and are released late by a
  uniform draw in ``[0, jitter]`` (as the engine's :class:`sim.models.traffic.StreamSource`);
  Poisson sources draw exponential gaps of mean ``1 / rate``;
- one FIFO link, a :class:`simpy.Store` drained by one process that does ``yield store.get()`` and then
  ``yield env.timeout(size * 8 / rate)`` at 100 Mbit/s (the payload bytes only: no framing, no
  hops, no cross traffic, no broker, no subscribers);
- a sink that records each message's latency (publication to end of serialisation).

All draws come from one seeded :class:`numpy.random.Generator`, one scalar draw per call (the plain
way; the engine buffers its draws in blocks, :mod:`sim.models.draws`).

Events are counted without touching SimPy: :class:`simpy.Environment` numbers every event it schedules
from the counter ``env._eid`` (an ``itertools.count``), so ``next(env._eid)`` after the run is the
number of events scheduled; those still in ``env._queue`` were not processed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

RATE = 100e6  # bit/s, the plant LAN of line3-intranet


@dataclass(frozen=True)
class SourceClass:
    """A machine class of line3-intranet with its one stream."""

    name: str
    count: int
    every: float | None = None  # s, periodic sources
    jitter: float = 0.0  # s, periodic sources
    poisson: float | None = None  # messages/s, Poisson sources
    payload: float | tuple[float, float] = 0.0  # bytes, constant or uniform (low, high)


# The streams of tests/scenarios/line3-intranet.yaml (machining line 3).
SOURCES: tuple[SourceClass, ...] = (
    SourceClass("cnc", 24, every=0.010, jitter=200e-6, payload=200.0),
    SourceClass("robot", 8, every=0.004, payload=120.0),
    SourceClass("vision", 2, every=0.100, payload=150e3),
    SourceClass("sensors", 200, poisson=2.0, payload=(48.0, 96.0)),
)


@dataclass(slots=True)
class Msg:
    """One published message."""

    source: str
    size: int  # bytes
    t_pub: float


class Sink:
    """Records what the link delivered: latency and serialisation time of each message."""

    def __init__(self) -> None:
        self.latency: list[float] = []
        self.service: list[float] = []
        self.size: list[int] = []

    def record(self, msg: Msg, now: float, service: float) -> None:
        self.latency.append(now - msg.t_pub)
        self.service.append(service)
        self.size.append(msg.size)


class BareModel:
    """The model, built and ready to run: ``env``, the link's ``store``, ``published`` and ``sink``."""

    def __init__(
        self, seed: int = 7, rate: float = RATE, sources: tuple[SourceClass, ...] = SOURCES
    ) -> None:
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.rate = rate
        self.store: simpy.Store = simpy.Store(self.env)
        self.sink = Sink()
        self.published: Counter[str] = Counter()
        for cls in sources:
            payload = self._payload(cls.payload)
            for _ in range(cls.count):
                if cls.every is not None:
                    self.env.process(self.periodic(cls.name, cls.every, cls.jitter, payload))
                else:
                    assert cls.poisson is not None
                    self.env.process(self.poisson(cls.name, cls.poisson, payload))
        self.env.process(self.link())

    def _payload(self, law: float | tuple[float, float]) -> Callable[[], int]:
        if isinstance(law, tuple):
            low, high = law
            uniform = self.rng.uniform
            return lambda: max(1, round(uniform(low, high)))
        size = max(1, round(law))
        return lambda: size

    def periodic(
        self, name: str, every: float, jitter: float, payload: Callable[[], int]
    ) -> Generator[simpy.Event, object, None]:
        env, rng = self.env, self.rng
        nominal = every * rng.random()
        while True:
            release = nominal + jitter * rng.random() if jitter else nominal
            yield env.timeout(release - env.now)
            self.published[name] += 1
            self.store.put(Msg(name, payload(), env.now))
            nominal += every

    def poisson(
        self, name: str, rate: float, payload: Callable[[], int]
    ) -> Generator[simpy.Event, object, None]:
        env, rng = self.env, self.rng
        mean_gap = 1.0 / rate
        while True:
            yield env.timeout(rng.exponential(mean_gap))
            self.published[name] += 1
            self.store.put(Msg(name, payload(), env.now))

    def link(self) -> Generator[simpy.Event, Msg, None]:
        env = self.env
        while True:
            msg = yield self.store.get()
            service = msg.size * 8 / self.rate
            yield env.timeout(service)
            self.sink.record(msg, env.now, service)

    def events(self) -> tuple[int, int]:
        """``(scheduled, processed)`` SimPy events so far (reads the environment's event counter)."""
        scheduled = next(self.env._eid)  # the id the next event would get = events scheduled
        return scheduled, scheduled - len(self.env._queue)


def run_bare(duration: float = 30.0, seed: int = 7) -> dict[str, object]:
    """Build and run the bare model for ``duration`` simulated seconds; what it did and how fast.

    ``wall_s`` covers building and running (as the engine's ``run_scenario`` does); ``messages`` is
    the number of messages the sources published (all of the run: the bare model has no warm-up).
    """
    start = time.perf_counter()
    model = BareModel(seed)
    built = time.perf_counter()
    model.env.run(until=duration)
    end = time.perf_counter()
    scheduled, processed = model.events()
    messages = sum(model.published.values())
    latency = np.asarray(model.sink.latency)
    wall = end - start
    return {
        "duration": duration,
        "seed": seed,
        "messages": messages,
        "delivered": len(latency),
        "published_by_class": dict(model.published),
        "wall_s": wall,
        "build_s": built - start,
        "run_s": end - built,
        "messages_per_s": messages / wall if wall > 0 else float("inf"),
        "events_scheduled": scheduled,
        "events_processed": processed,
        "events_per_message": processed / messages if messages else float("nan"),
        "latency_mean_s": float(latency.mean()) if latency.size else float("nan"),
        "latency_p99_s": float(np.percentile(latency, 99)) if latency.size else float("nan"),
        "utilisation": sum(model.sink.service) / duration,
    }


if __name__ == "__main__":
    for key, value in run_bare().items():
        print(f"{key:>20}: {value}")
