"""Telemetry streams: when each machine publishes, and how large each message is.

- Periodic (``every``): a machine's cycle timer fires every period from a random phase (machines of
  a line are not synchronised with each other); each release is late by a uniform draw in
  ``[0, jitter]`` (task scheduling on the machine controller), never early.
- Poisson (``poisson``): independent exponential gaps of mean ``1 / rate`` (event-driven sensors).

Payload sizes are drawn per message from the stream's law and rounded to whole bytes (at least 1),
from a generator of their own, so that the release times and the sizes are each one sequence of
draws.

Both engines take a stream's releases from :class:`Releases`, which draws them as arrays, a stretch
of time at a time. The event engine keeps one :class:`ReleaseCalendar` per stream of a machine
class: the releases of all its instances merged in time order, with one pending SimPy event for
them all (not one per machine, which would make SimPy's heap, and the cost of each event, grow
with the plant).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence

import numpy as np
import simpy

from sim.models.draws import Draws
from sim.models.events import Arrival
from sim.models.laws import LawStream, sampler
from sim.models.message import Message, Packet
from sim.models.mqtt.routing import Route
from sim.scenario.schema import MAX_PAYLOAD, Stream

Send = Callable[[Packet, float], None]


def payload_bytes(draw: float) -> int:
    """A drawn payload size as a message carries it: whole bytes, at least one, and at most what
    an MQTT packet can hold (a law's tail beyond that is cut there, as a client could not send it)."""
    size = round(draw)
    return 1 if size < 1 else MAX_PAYLOAD if size > MAX_PAYLOAD else size


class Releases:
    """When one stream of one machine instance publishes, drawn a stretch at a time as arrays
    from the stream's generator: periodic, a random phase ``every * u`` and each release
    ``jitter * u`` late (two uniforms first, then one per release); or Poisson, exponential gaps
    of mean ``1 / rate``. The first release after the stretch stays pending, its draw made."""

    __slots__ = ("every", "gaps", "jitter", "mean_gap", "nominal", "pending", "uniform")

    def __init__(self, stream: Stream, rng: np.random.Generator) -> None:
        self.every = stream.every
        self.jitter = stream.jitter
        if self.every is not None:
            self.uniform = LawStream.blocks(rng.random)
            u = self.uniform.take(2)
            self.nominal = self.every * float(u[0])
            self.pending = self.nominal + self.jitter * float(u[1])
        else:
            self.mean_gap = 1.0 / stream.poisson  # type: ignore[operator]
            self.gaps = LawStream.blocks(rng.standard_exponential)
            self.pending = self.mean_gap * float(self.gaps.take(1)[0])

    def until(self, end: float) -> np.ndarray:
        """The releases before ``end``, in order."""
        if self.pending >= end:
            return np.empty(0)
        if self.every is not None:
            return self._periodic(end)
        return self._poisson(end)

    def _periodic(self, end: float) -> np.ndarray:
        every = self.every
        m = int((end - self.nominal) / every) + 2
        # each nominal time is the one before plus the period, added one by one
        nominal = np.cumsum(np.concatenate([[self.nominal], np.full(m, every)]))[1:]
        if self.jitter:
            u = self.uniform.take(m)
            following = nominal + self.jitter * u
        else:
            following = nominal
        j = int(np.searchsorted(following, end))  # increasing, as jitter < every
        if self.jitter:
            self.uniform.untake(u[j + 1 :])
        out = np.concatenate([[self.pending], following[:j]])
        self.nominal = float(nominal[j])
        self.pending = float(following[j])
        return out

    def _poisson(self, end: float) -> np.ndarray:
        parts = [np.asarray([self.pending])]
        now = self.pending
        while True:
            m = int(1.2 * (end - now) / self.mean_gap) + 16
            gaps = self.gaps.take(m)
            following = np.cumsum(np.concatenate([[now], self.mean_gap * gaps]))[1:]
            j = int(np.searchsorted(following, end))
            if j < m:
                self.gaps.untake(gaps[j + 1 :])
                parts.append(following[:j])
                self.pending = float(following[j])
                return np.concatenate(parts)
            parts.append(following)
            now = float(following[-1])


class StreamSource:
    """One stream of one machine instance: publishes its messages into the machine's connection
    when its :class:`ReleaseCalendar` says."""

    __slots__ = (
        "first",
        "info",
        "instance",
        "payload",
        "priority",
        "qos",
        "releases",
        "retain",
        "route",
        "send",
        "topic",
        "warmup",
    )

    def __init__(
        self,
        stream: Stream,
        info: object,
        instance: int,
        route: Route,
        send: Send,
        rng: np.random.Generator,
        warmup: float,
        sizes: Draws,
    ) -> None:
        self.info = info
        self.instance = instance
        self.topic = stream.topic.replace("{id}", str(instance))
        self.qos = stream.qos
        self.priority = stream.priority
        self.retain = stream.retain
        self.route = route
        self.send = send
        self.warmup = warmup
        self.payload = sampler(stream.payload, sizes)
        self.releases = Releases(stream, rng)
        self.first = self.releases.pending  # its first release

    def publish(self, when: float) -> None:
        """The stream's release at ``when`` (now): a message of a drawn size into the connection."""
        msg = Message(
            self.info,
            self.instance,
            self.topic,
            payload_bytes(self.payload()),
            self.qos,
            when,
            self.route,
            self.priority,
            self.retain,
        )
        rows = self.route.rows
        if when >= self.warmup:
            for row in rows:
                row.published += 1
        self.send(Packet(msg, rows), when)


class ReleaseCalendar:
    """The releases of one stream of every instance of a machine class, merged in time order
    (ties: in instance order), drawn about :data:`AHEAD` releases per instance at a time; one
    pending SimPy event at a time calls each source at its release."""

    __slots__ = ("at", "end", "env", "i", "sources", "stretch", "who")

    AHEAD = 64

    def __init__(
        self, env: simpy.Environment, sources: Sequence[StreamSource], rate: float
    ) -> None:
        self.env = env
        self.sources = sources
        self.stretch = self.AHEAD / rate
        self.end = 0.0
        self.at = array("d")
        self.who = array("q")
        self.i = 0
        self._draw()
        Arrival(env, self.at[0], self._release, None)

    def _draw(self) -> None:
        """The releases of the next stretch with any (the first ones of the plant's future)."""
        while True:
            self.end += self.stretch
            parts = [source.releases.until(self.end) for source in self.sources]
            times = np.concatenate(parts)
            if times.size:
                break
        who = np.repeat(np.arange(len(parts), dtype=np.int64), [part.size for part in parts])
        order = np.argsort(times, kind="stable")
        self.at = array("d", times[order].tobytes())  # (8 bytes a release, not a float object)
        self.who = array("q", who[order].tobytes())
        self.i = 0

    def _release(self, _item: None, when: float) -> None:
        source = self.sources[self.who[self.i]]
        self.i += 1
        source.publish(when)
        if self.i == len(self.at):
            self._draw()
        Arrival(self.env, self.at[self.i], self._release, None)
