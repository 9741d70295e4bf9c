"""What every network model shares: the link contract, a connection, a frame, cross traffic.

A network model answers one question: when does this message come out at the other end? It offers
*connections*: a connection carries the MQTT packets of one client (a machine, a bridge, a
subscriber's session) in one direction, ``up`` (client to broker) or ``down`` (broker to client).
TCP's part (loss recovery, the window) is :mod:`sim.models.links.tcp`.

The contract every link element keeps (a new kind of network is one module holding a :class:`Link`
subclass, plus one line in ``LINK_MODELS`` of :mod:`sim.models.links`):

- **Calls in time order.** ``send(packet, when)``, the function :meth:`Link.connect` returns, is
  called by one sender with non-decreasing ``when``, and ``when`` may lie in the future
  (``when >= env.now``): a FIFO stage ahead of it (an end host's stack, a TCP connection) already
  knows when the packet leaves. A model that shares something between connections (a port, a
  medium, a cell) must see the arrivals of *all* its senders in time order: it wraps its entry in
  :func:`sim.models.events.ordered_entry` with the ``feeders`` it is given, which holds a future
  arrival in an event only when several senders feed it.
- **Who counts the feeders.** The engine (``Plant._count_feeders``) counts the connections that will
  send into each network direction and passes the count to every :meth:`Link.connect`; a model
  that forwards into another network (a gateway) is told that network's count by
  :meth:`Link.bind_upstream`. A model never counts its own senders.
- **Deliveries in order.** A connection hands packets to ``sink(packet, when)`` with non-decreasing
  ``when`` (TCP delivers in order: :class:`Connection` does this), possibly ahead of ``env.now``,
  so the next stage may again take them directly.
- **What may sit in events.** Only :class:`sim.models.events.Arrival` events hold packets in
  flight (the engine finds them at the end of a run); anything a model keeps outside events
  (queues, buffers, HARQ processes) it returns from :meth:`Link.held`, so that every message is
  delivered, dropped and counted, or reported in flight.
- **Loss is delay.** Under TCP a frame the medium loses is sent again (:mod:`sim.models.links.tcp`,
  or the model's own retransmission ahead of new data); a link never makes a message vanish.

:class:`CrossTraffic` is background traffic at a FIFO output port, folded into the port's recursion
without SimPy events.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

import simpy

from sim.models.draws import Draws
from sim.models.message import Packet
from sim.scenario.schema import Tcp as TcpSettings

Direction = Literal["up", "down"]
Deliver = Callable[[Packet, float], None]


class Connection:
    """One direction of a TCP connection across a network: hands packets to ``sink`` in order."""

    __slots__ = ("direction", "free_at", "last", "name", "sink")

    def __init__(self, name: str, direction: Direction, sink: Deliver) -> None:
        self.name = name
        self.direction = direction
        self.sink = sink
        self.last = 0.0
        self.free_at = 0.0  # the connection's own (unshared) port, where the model has one

    def deliver(self, packet: Packet, when: float) -> None:
        """The packet is complete at the far end at ``when``; TCP releases it after its predecessors."""
        if when < self.last:
            when = self.last
        self.last = when
        self.sink(packet, when)


class Frame:
    """A piece of a message in flight: one Ethernet frame, or a run of TCP segments.

    ``size`` is its bytes on the wire; ``count`` is the message's number of frames on the piece that
    completes the message and 0 on every other piece, so the piece with ``count`` stands for the
    message while it is in flight.
    """

    __slots__ = ("conn", "count", "packet", "size")

    def __init__(self, packet: Packet, conn: Connection, size: float, count: int) -> None:
        self.packet = packet
        self.conn = conn
        self.size = size
        self.count = count


def cross_gap_and_work(
    frames_per_second: float, service: float, frames_per_burst: int
) -> tuple[float, float]:
    """Background traffic's mean time between bursts and the work a burst brings to the port."""
    return frames_per_burst / frames_per_second, service * frames_per_burst


class CrossTraffic:
    """Background frames offered to one output port, generated only when traffic looks.

    Frames of ``service`` seconds each arrive as a Poisson process of ``frames_per_second``; with
    ``frames_per_burst`` above 1 they come in bursts of that many back to back (all at once, as from a
    faster link), the bursts a Poisson process of the same mean load.

    Background frames interact with the telemetry only through the port's queue, so they need no
    events: before a telemetry frame joins a FIFO queue at time ``t``, every background frame that
    arrived before ``t`` is served first, advancing the time the port becomes free (a burst is one
    block of work there). A priority port takes the arrivals one at a time (``next_arrival``,
    ``frames``, :meth:`advance`).
    """

    __slots__ = ("draws", "frames", "mean_gap", "next_arrival", "service", "work")

    def __init__(
        self, frames_per_second: float, service: float, draws: Draws, frames_per_burst: int = 1
    ) -> None:
        self.draws = draws
        self.frames = frames_per_burst
        self.mean_gap, self.work = cross_gap_and_work(frames_per_second, service, frames_per_burst)
        self.service = service
        self.next_arrival = self.mean_gap * draws.exponential()

    def absorb(self, free_at: float, until: float) -> float:
        """Serve the background frames that arrive before ``until``; the port's new free time."""
        arrival = self.next_arrival
        work = self.work
        gap = self.mean_gap
        exponential = self.draws.exponential
        while arrival < until:
            free_at = (arrival if arrival > free_at else free_at) + work
            arrival += gap * exponential()
        self.next_arrival = arrival
        return free_at

    def advance(self) -> None:
        """Draw the arrival after ``next_arrival``."""
        self.next_arrival += self.mean_gap * self.draws.exponential()


class StormTraffic(CrossTraffic):
    """Background frames that arrive only from ``start`` to ``end`` (a broadcast storm)."""

    __slots__ = ("end",)

    def __init__(
        self, frames_per_second: float, service: float, draws: Draws, start: float, end: float
    ) -> None:
        super().__init__(frames_per_second, service, draws)
        self.end = end
        self.next_arrival += start
        if self.next_arrival >= end:
            self.next_arrival = math.inf

    def absorb(self, free_at: float, until: float) -> float:
        free_at = super().absorb(free_at, min(until, self.end))
        if self.next_arrival >= self.end:
            self.next_arrival = math.inf
        return free_at

    def advance(self) -> None:
        super().advance()
        if self.next_arrival >= self.end:
            self.next_arrival = math.inf


class MergedTraffic:
    """Two background sources at one FIFO port, served in the order their frames arrive."""

    __slots__ = ("a", "b")

    def __init__(self, a: CrossTraffic, b: CrossTraffic) -> None:
        self.a = a
        self.b = b

    def absorb(self, free_at: float, until: float) -> float:
        a, b = self.a, self.b
        while True:
            source = a if a.next_arrival <= b.next_arrival else b
            arrival = source.next_arrival
            if arrival >= until:
                return free_at
            free_at = (arrival if arrival > free_at else free_at) + source.work
            source.advance()


class Link(ABC):
    """A network model: builds connections across one network of the scenario.

    ``tcp`` holds the scenario's TCP settings (the engine sets it; models that use
    :class:`TcpConnection` read it when they build connections).
    """

    kind: str

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        rng_for: Callable[[str], Draws],
        tcp: TcpSettings | None = None,
    ) -> None:
        self.env = env
        self.name = name
        self.rng_for = rng_for
        self.tcp = tcp if tcp is not None else TcpSettings()

    @abstractmethod
    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        """A connection for ``client`` in ``direction`` delivering to ``sink``.

        ``feeders`` is the number of connections that will share this network in this direction.
        Returns the function the sender calls, in time order, as ``send(packet, when)``.
        """

    def suffer(self, attack: Any) -> None:
        """An attack that acts inside this network (jamming a cell, a broadcast storm)."""
        raise NotImplementedError(f"a {self.kind} network cannot suffer a {attack.kind} attack")

    def bind_upstream(self, upstream: Link | None, feeders: int) -> None:
        """For a model whose traffic continues over another network (a fieldbus gateway publishing
        across the plant LAN): that network, and how many connections share it in the up direction.
        ``None`` means the model delivers straight to the broker."""
        raise NotImplementedError(f"a {self.kind} network has no upstream network")

    def held(self) -> list[Packet]:
        """Packets the model holds outside SimPy events (none unless the model says otherwise)."""
        return []

    def counters(self) -> dict[str, float]:
        """What the medium did over the run, for a model that counts it (Wi-Fi: frames sent,
        collisions, frames the MAC gave up on or a queue refused, segments sent again, the
        longest queue); empty otherwise."""
        return {}

    def usage(self, duration: float) -> dict[str, float]:
        """Per direction, the share of the medium's capacity over ``duration`` that carried
        transmissions, for a model that knows it (a radio); empty otherwise."""
        return {}
