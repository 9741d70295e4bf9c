"""Telemetry streams: when each machine publishes, and how large each message is.

- Periodic (``every``): a machine's cycle timer fires every period from a random phase (machines of
  a line are not synchronised with each other); each release is late by a uniform draw in
  ``[0, jitter]`` (task scheduling on the machine controller), never early.
- Poisson (``poisson``): independent exponential gaps of mean ``1 / rate`` (event-driven sensors).

Payload sizes are drawn per message from the stream's law and rounded to whole bytes (at least 1),
from a generator of their own, so that the release times and the sizes are each one sequence of
draws (which the fast engine draws as arrays, :mod:`sim.fast`).
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.events import Arrival
from sim.models.laws import sampler
from sim.models.message import Message, Packet
from sim.models.mqtt.routing import Route
from sim.scenario.schema import MAX_PAYLOAD, Stream

Send = Callable[[Packet, float], None]


def payload_bytes(draw: float) -> int:
    """A drawn payload size as a message carries it: whole bytes, at least one, and at most what
    an MQTT packet can hold (a law's tail beyond that is cut there, as a client could not send it)."""
    size = round(draw)
    return 1 if size < 1 else MAX_PAYLOAD if size > MAX_PAYLOAD else size


class StreamSource:
    """One stream of one machine instance: publishes its messages into the machine's connection."""

    __slots__ = (
        "draws",
        "env",
        "every",
        "info",
        "instance",
        "jitter",
        "mean_gap",
        "nominal",
        "payload",
        "priority",
        "qos",
        "retain",
        "route",
        "send",
        "topic",
        "warmup",
    )

    def __init__(
        self,
        env: simpy.Environment,
        stream: Stream,
        info: object,
        instance: int,
        route: Route,
        send: Send,
        draws: Draws,
        warmup: float,
        sizes: Draws,
    ) -> None:
        self.env = env
        self.info = info
        self.instance = instance
        self.topic = stream.topic.replace("{id}", str(instance))
        self.qos = stream.qos
        self.priority = stream.priority
        self.retain = stream.retain
        self.route = route
        self.send = send
        self.draws = draws
        self.warmup = warmup
        self.payload = sampler(stream.payload, sizes)
        self.every = stream.every
        self.jitter = stream.jitter
        self.mean_gap = 1.0 / stream.poisson if stream.poisson else 0.0
        if self.every is not None:
            self.nominal = self.every * draws.uniform()
            first = self.nominal + self.jitter * draws.uniform()
        else:
            self.nominal = 0.0
            first = self.mean_gap * draws.exponential()
        Arrival(env, first, self._publish, None)

    def _publish(self, _item: None, when: float) -> None:
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
        if self.every is not None:
            self.nominal += self.every
            following = (
                self.nominal + self.jitter * self.draws.uniform() if self.jitter else self.nominal
            )
        else:
            following = when + self.mean_gap * self.draws.exponential()
        Arrival(self.env, following, self._publish, None)
