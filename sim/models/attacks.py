"""Attackers in the plant, and the broker's rate limits that hold clients back.

An attack is built from the plant's own components (docs/models.md, "Attacks and defences"):

- A **flood** or a **spoofing** device (:class:`AttackPublisher`) is an MQTT client on its network,
  with its own connection, host stack and TCP, publishing QoS 0 messages periodically at ``rate``
  from ``start`` to ``start + duration`` (devices of a flood staggered evenly over the period). Its
  messages take the network's queues, the broker's loop, the subscribers' sessions like any other;
  their rows are ``attack:<name>``: one per subscriber the topic reaches, and one for the broker it
  publishes to (``broker:<name>``: received, or refused by the broker's defences).
- A **connection storm** (:class:`ConnectionStorm`) offers the broker Poisson connection attempts;
  each one the listener accepts (``max_conn_rate``) occupies the broker's loop for a TLS handshake
  (on a TLS listener) and a CONNECT whose password check fails. Its row counts attempts
  (published), attempts the broker worked through (delivered, when it finished each) and attempts
  the listener did not accept (refused).
- A per-client **rate limit** (:class:`Throttle`, EMQX's ``messages_rate`` and ``messages_burst``)
  is back-pressure: the broker stops reading a client above its rate, TCP's window fills, and the
  client's socket holds its messages; a message that finds the socket's buffer (the TCP window,
  in MQTT bytes) full is refused at the client. A generic cell rate algorithm (ITU-T I.371 virtual scheduling)
  decides when each message may go.

Jamming and broadcast storms act inside their network models (:mod:`sim.models.links.nr5g`,
:mod:`sim.models.links.ethernet`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import simpy

from sim.metrics.collector import Row
from sim.models.draws import Draws
from sim.models.events import Arrival
from sim.models.framing import mqtt_publish_size
from sim.models.message import Message, Packet
from sim.models.mqtt.routing import Route

Send = Callable[[Packet, float], None]


class AttackPublisher:
    """One attacking device: a QoS 0 PUBLISH of ``payload`` bytes on ``topic`` every ``1 / rate``
    seconds from ``first`` until ``end``, into ``send`` (its client's connection)."""

    __slots__ = (
        "end",
        "env",
        "first",
        "gap",
        "info",
        "instance",
        "payload",
        "route",
        "send",
        "topic",
        "warmup",
    )

    def __init__(
        self,
        env: simpy.Environment,
        info: object,
        instance: int,
        topic: str,
        payload: int,
        rate: float,
        first: float,
        end: float,
        route: Route,
        send: Send,
        warmup: float,
    ) -> None:
        self.env = env
        self.info = info
        self.instance = instance
        self.topic = topic
        self.payload = payload
        self.gap = 1.0 / rate
        self.end = end
        self.route = route
        self.send = send
        self.warmup = warmup
        self.first = first
        if first < end:
            Arrival(env, first, self._release, 0)

    def _release(self, n: int, when: float) -> None:
        msg = Message(self.info, self.instance, self.topic, self.payload, 0, when, self.route)
        rows = self.route.rows
        if when >= self.warmup:
            for row in rows:
                row.published += 1
        self.send(Packet(msg, rows), when)
        following = self.first + (n + 1) * self.gap  # not a sum of gaps: no drift
        if following < self.end:
            Arrival(self.env, following, self._release, n + 1)


class Throttle:
    """A broker's per-client rate limit seen from the client: ``rate`` messages per second with
    ``burst`` at once; a message waits in the client's socket until the broker reads again, and
    is refused when it does not fit beside those waiting in the socket's ``buffer`` bytes."""

    __slots__ = ("buffer", "env", "held", "increment", "send", "tat", "tolerance", "waiting")

    def __init__(
        self, env: simpy.Environment, send: Send, rate: float, burst: int, buffer: float
    ) -> None:
        self.env = env
        self.send = send
        self.increment = 1.0 / rate
        self.tolerance = (burst - 1) * self.increment
        self.buffer = buffer
        self.tat = 0.0  # theoretical arrival time of the next message (virtual scheduling)
        self.waiting: deque[tuple[float, float]] = deque()  # (release, bytes) in the socket
        self.held = 0.0

    def publish(self, packet: Packet, when: float) -> None:
        """The client publishes ``packet`` at ``when`` (now)."""
        tat = self.tat if self.tat > when else when
        release = tat - self.tolerance
        if release <= when:
            self.tat = tat + self.increment
            self.send(packet, when)
            return
        waiting = self.waiting
        while waiting and waiting[0][0] <= when:
            self.held -= waiting.popleft()[1]
        size = mqtt_publish_size(packet.msg.payload, packet.topic, packet.qos)
        if self.held + size > self.buffer:
            for row in packet.rows:
                row.refuse(packet.msg, when)
            return
        self.tat = tat + self.increment
        waiting.append((release, size))
        self.held += size
        Arrival(self.env, release, self.send, packet)


class Attempt(Packet):
    """One connection attempt of a storm at the broker: ``cost`` seconds of its loop."""

    __slots__ = ("cost",)

    def __init__(self, msg: Message, rows: tuple[Row, ...], cost: float) -> None:
        super().__init__(msg, rows)
        self.cost = cost

    def handled(self, when: float) -> None:
        """The broker finished with the attempt at ``when`` (its CONNACK refuses it)."""
        for row in self.rows:
            row.deliver(self.msg, when)


class ConnectionStorm:
    """Poisson connection attempts at ``rate`` from ``start`` to ``end`` against a broker's
    listener; ``max_conn_rate`` (None: none) is the most it accepts per second, one at a time."""

    __slots__ = (
        "accept",
        "cost",
        "draws",
        "end",
        "env",
        "gap",
        "next_accept",
        "offer",
        "route",
        "warmup",
    )

    def __init__(
        self,
        env: simpy.Environment,
        rate: float,
        start: float,
        end: float,
        cost: float,
        max_conn_rate: float | None,
        route: Route,
        offer: Callable[[Attempt, float], None],
        draws: Draws,
        warmup: float,
    ) -> None:
        self.env = env
        self.gap = 1.0 / rate
        self.end = end
        self.cost = cost
        self.accept = None if max_conn_rate is None else 1.0 / max_conn_rate
        self.next_accept = 0.0
        self.route = route
        self.offer = offer
        self.draws = draws
        self.warmup = warmup
        first = start + self.gap * draws.exponential()
        if first < end:
            Arrival(env, first, self._attempt, None)

    def _attempt(self, _item: None, when: float) -> None:
        msg = Message(None, 0, "", 0, 0, when, self.route)
        rows = self.route.rows
        if when >= self.warmup:
            for row in rows:
                row.published += 1
        if self.accept is not None and when < self.next_accept:
            for row in rows:
                row.refuse(msg, when)  # not accepted: it waits unread and times out
        else:
            if self.accept is not None:
                self.next_accept = when + self.accept
            self.offer(Attempt(msg, rows, self.cost), when)
        following = when + self.gap * self.draws.exponential()
        if following < self.end:
            Arrival(self.env, following, self._attempt, None)


__all__ = ["AttackPublisher", "Attempt", "ConnectionStorm", "Throttle"]
