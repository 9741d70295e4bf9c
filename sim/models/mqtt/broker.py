"""An MQTT broker as one service loop, like Mosquitto's single-threaded event loop.

Each incoming PUBLISH costs ``service_time`` (parse, match topic filters), then each copy for a
matching subscription costs ``fanout_time`` to queue; copies leave one after another. Each
subscription (a subscriber application, or a bridge that is a client of this broker) has an outgoing
queue of at most ``max_queued`` messages (Mosquitto's ``max_queued_messages``): a copy that finds it
full is dropped and counted. The queue drains at the pace the client consumes (its ``service_time``).

Defaults come from published Mosquitto figures (see :mod:`sim.scenario.schema`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sim.metrics.collector import Row
from sim.models.message import Message, Packet
from sim.scenario.schema import Broker as BrokerConfig

Send = Callable[[Packet, float], None]


class Session:
    """The broker's side of one subscription: an outgoing queue drained at the client's pace."""

    __slots__ = ("free_at", "max_queued", "name", "pace", "send", "waiting")

    def __init__(self, name: str, max_queued: int, pace: float, send: Send) -> None:
        self.name = name
        self.max_queued = max_queued
        self.pace = pace
        self.send = send
        self.free_at = 0.0
        self.waiting: deque[float] = deque()  # when each queued copy will be taken by the client

    def enqueue(self, msg: Message, rows: tuple[Row, ...], when: float) -> None:
        """A copy of ``msg`` joins the queue at ``when`` (calls come in time order)."""
        if not self.pace:
            self.send(Packet(msg, rows), when)
            return
        waiting = self.waiting
        while waiting and waiting[0] <= when:
            waiting.popleft()
        if len(waiting) >= self.max_queued:
            for row in rows:
                row.drop(msg, when)
            return
        start = when if when > self.free_at else self.free_at
        self.free_at = start + self.pace
        waiting.append(start)
        self.send(Packet(msg, rows), start)


class Broker:
    """One broker: a FIFO service loop, then fan-out to the matching sessions."""

    __slots__ = ("config", "fanout_time", "free_at", "name", "routes", "service_time")

    def __init__(self, name: str, config: BrokerConfig) -> None:
        self.name = name
        self.config = config
        self.service_time = config.service_time
        self.fanout_time = config.fanout_time
        self.free_at = 0.0

    def offer(self, packet: Packet, when: float) -> None:
        """A PUBLISH arrives at ``when``; calls must come in time order."""
        msg = packet.msg
        start = when if when > self.free_at else self.free_at
        done = start + self.service_time
        fanout_time = self.fanout_time
        for session, rows in msg.route.fanout.get(self, ()):  # type: ignore[attr-defined]
            done += fanout_time
            session.enqueue(msg, rows, done)
        self.free_at = done
