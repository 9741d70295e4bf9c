"""What every network model shares: the TCP connection that carries MQTT, and a FIFO output port.

A network model answers one question: when does this message come out at the other end? It offers
*connections*: a connection carries the MQTT packets of one client (a machine, a bridge, a
subscriber's session) in one direction, ``up`` (client to broker) or ``down`` (broker to client).

TCP under MQTT delivers in order: a message that is late (queued, retransmitted, unlucky in a random
latency draw) holds back every later message of the same connection. A lost frame is not a lost
message: TCP retransmits it after a retransmission timeout (RTO, Linux minimum 200 ms, RFC 6298 with
the Linux floor), doubling the timeout for each further loss of the same segment.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal

import simpy

from sim.models.draws import Draws
from sim.models.message import Packet

Direction = Literal["up", "down"]
Deliver = Callable[[Packet, float], None]

MIN_RTO = 0.200  # Linux TCP_RTO_MIN


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


def retransmission_delay(draws: Draws, frames: int, loss: float, rto: float = MIN_RTO) -> float:
    """Extra delay TCP adds to a message of ``frames`` frames on a link losing each frame with ``loss``.

    The first transmission fails when any of its frames is lost; each retransmission of the lost
    segment is lost again with probability ``loss`` and doubles the timeout (RFC 6298 section 5.5).
    """
    if loss <= 0.0 or draws.uniform() >= 1.0 - (1.0 - loss) ** frames:
        return 0.0
    delay = rto
    while draws.uniform() < loss:
        rto *= 2.0
        delay += rto
    return delay


class CrossTraffic:
    """Poisson background frames offered to one output port, generated only when traffic looks.

    Background frames interact with the telemetry only through the port's queue, so they need no
    events: before a telemetry frame joins the queue at time ``t``, every background frame that
    arrived before ``t`` is served first (FIFO), advancing the time the port becomes free.
    """

    __slots__ = ("draws", "mean_gap", "next_arrival", "service")

    def __init__(self, frames_per_second: float, service: float, draws: Draws) -> None:
        self.draws = draws
        self.mean_gap = 1.0 / frames_per_second
        self.service = service
        self.next_arrival = self.mean_gap * draws.exponential()

    def absorb(self, free_at: float, until: float) -> float:
        """Serve the background frames that arrive before ``until``; the port's new free time."""
        arrival = self.next_arrival
        service = self.service
        gap = self.mean_gap
        exponential = self.draws.exponential
        while arrival < until:
            free_at = (arrival if arrival > free_at else free_at) + service
            arrival += gap * exponential()
        self.next_arrival = arrival
        return free_at


class Link(ABC):
    """A network model: builds connections across one network of the scenario."""

    kind: str

    def __init__(self, env: simpy.Environment, name: str, rng_for: Callable[[str], Draws]) -> None:
        self.env = env
        self.name = name
        self.rng_for = rng_for

    @abstractmethod
    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        """A connection for ``client`` in ``direction`` delivering to ``sink``.

        ``feeders`` is the number of connections that will share this network in this direction.
        Returns the function the sender calls, in time order, as ``send(packet, when)``.
        """

    def bind_upstream(self, upstream: Link | None, feeders: int) -> None:
        """For a model whose traffic continues over another network (a fieldbus gateway publishing
        across the plant LAN): that network, and how many connections share it in the up direction.
        ``None`` means the model delivers straight to the broker."""
        raise NotImplementedError(f"a {self.kind} network has no upstream network")

    def held(self) -> list[Packet]:
        """Packets the model holds outside SimPy events (none for the models here)."""
        return []
