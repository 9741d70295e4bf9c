"""A network given by its measured behaviour rather than its mechanism (``kind: parametric``).

Each direction is one FIFO of capacity ``rate`` shared by every connection that crosses the network
(a saturated link therefore shows its capacity and a growing queue), followed by a delay drawn from
the ``latency`` law for each message (propagation, processing, radio access as measured). A frame
lost with probability ``loss`` costs a TCP retransmission timeout (see :mod:`sim.models.links.base`);
TCP's in-order delivery then holds back the connection's later messages.

What it omits: retransmissions do not consume capacity again; the latency draws of successive
messages are independent (measured radio delays are correlated over a few ms); no flow control from a
full receiver back to the sender.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.events import ordered_entry
from sim.models.framing import Framing
from sim.models.laws import is_constant, sampler
from sim.models.links.base import (
    MIN_RTO,
    Connection,
    Deliver,
    Direction,
    Link,
    retransmission_delay,
)
from sim.models.message import Packet
from sim.scenario.schema import ParametricNetwork


class _Port:
    __slots__ = ("free_at",)

    def __init__(self) -> None:
        self.free_at = 0.0


class ParametricLink(Link):
    """Shared capacity, then a random delay, per direction."""

    kind = "parametric"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        config: ParametricNetwork,
        rng_for: Callable[[str], Draws],
    ) -> None:
        super().__init__(env, name, rng_for)
        self.config = config
        self.framing = Framing(config.mtu, config.overhead)
        self.draws = rng_for(f"network:{name}")
        self.latency = sampler(config.latency, self.draws)
        self.constant_latency = config.latency.mean if is_constant(config.latency) else None
        self.rto = MIN_RTO + 2.0 * config.latency.mean
        self.ports: dict[Direction, _Port] = {"up": _Port(), "down": _Port()}

    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        conn = Connection(client, direction, sink)
        port = self.ports[direction]
        frames_of = self.framing.frames
        seconds_per_byte = 8.0 / self.config.rate if self.config.rate else 0.0
        latency = self.latency
        constant = self.constant_latency
        loss = self.config.loss
        draws = self.draws
        rto = self.rto

        def transmit(packet: Packet, when: float) -> None:
            msg = packet.msg
            count, full, last = frames_of(msg.payload, msg.topic, msg.qos)
            if seconds_per_byte:
                start = when if when > port.free_at else port.free_at
                when = start + ((count - 1) * full + last) * seconds_per_byte
                port.free_at = when
            when += constant if constant is not None else latency()
            if loss:
                when += retransmission_delay(draws, count, loss, rto)
            conn.deliver(packet, when)

        return ordered_entry(self.env, transmit, feeders)
