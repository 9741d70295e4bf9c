"""Switched Ethernet, the legacy plant intranet (``kind: ethernet``).

Uplink, from a machine to the broker: the machine's own access link (its NIC serialises its frames
onto the cable to the first switch), then ``hops - 1`` shared store-and-forward hops: at each switch
the frame waits ``switch_latency`` (lookup and forwarding, GarrettCom S14: 5 us at 100 Mbit/s), then
joins the FIFO output queue of the next link, shared by every machine of the network and by Poisson
``cross_traffic`` (office traffic entering and leaving at that switch), and is serialised at ``rate``.
Downlink, from the broker to a subscriber, crosses the same hops the other way (full duplex: separate
queues), the broker's own port first and the subscriber's access link last.

Messages are cut into frames (see :mod:`sim.models.framing`) and store-and-forward applies per frame:
a long message is pipelined over the hops, so it takes about one serialisation time, not one per hop.

What it omits: 802.1p priority classes, flow control (PAUSE frames), finite switch buffers, cable
propagation (5 ns/m, below a microsecond in a plant hall), bursty cross traffic.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.events import ordered_entry
from sim.models.framing import Framing
from sim.models.links.base import (
    MIN_RTO,
    Connection,
    CrossTraffic,
    Deliver,
    Direction,
    Link,
    retransmission_delay,
)
from sim.models.message import Packet
from sim.scenario.schema import EthernetNetwork


class Frame:
    """One Ethernet frame of a message; the last frame completes the message."""

    __slots__ = ("conn", "count", "packet", "size")

    def __init__(self, packet: Packet, conn: Connection, size: float, count: int) -> None:
        self.packet = packet
        self.conn = conn
        self.size = size
        self.count = count  # frames of the message; 0 for every frame but the last


class SwitchPort:
    """A FIFO output port of rate ``rate``, with optional background traffic."""

    __slots__ = ("cross", "free_at")

    def __init__(self, cross: CrossTraffic | None) -> None:
        self.cross = cross
        self.free_at = 0.0


class EthernetLink(Link):
    """Access link per machine, shared switch hops, per-frame store-and-forward."""

    kind = "ethernet"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        config: EthernetNetwork,
        rng_for: Callable[[str], Draws],
    ) -> None:
        super().__init__(env, name, rng_for)
        self.config = config
        self.framing = Framing(config.mtu, config.overhead)
        self.seconds_per_byte = 8.0 / config.rate
        self.draws = rng_for(f"network:{name}")
        self.ports: dict[Direction, list[SwitchPort]] = {
            direction: [
                SwitchPort(self._cross_traffic(f"{direction}:{hop}"))
                for hop in range(config.hops - 1)
            ]
            for direction in ("up", "down")
        }
        self._entries: dict[Direction, Callable[[Frame, float], None]] = {}

    def _cross_traffic(self, port: str) -> CrossTraffic | None:
        cross = self.config.cross_traffic
        if cross is None or cross.load == 0:
            return None
        frames_per_second = cross.load * self.config.rate / (8.0 * cross.size)
        draws = self.rng_for(f"network:{self.name}:cross:{port}")
        return CrossTraffic(frames_per_second, cross.size * self.seconds_per_byte, draws)

    def _shared_hops(self, direction: Direction) -> Callable[[Frame, float], None]:
        """Carries a frame through this direction's shared hops, in arrival order at the first."""
        ports = self.ports[direction]
        switch_latency = self.config.switch_latency
        seconds_per_byte = self.seconds_per_byte
        access = self._access_down if direction == "down" else self._arrive

        def through(frame: Frame, when: float) -> None:
            service = frame.size * seconds_per_byte
            for i, port in enumerate(ports):
                if i or direction == "up":
                    when += switch_latency
                free_at = port.free_at
                if port.cross is not None:
                    free_at = port.cross.absorb(free_at, when)
                when = (when if when > free_at else free_at) + service
                port.free_at = when
            access(frame, when)

        return through

    def _arrive(self, frame: Frame, when: float) -> None:
        if frame.count:
            if self.config.loss:
                when += retransmission_delay(self.draws, frame.count, self.config.loss, MIN_RTO)
            frame.conn.deliver(frame.packet, when)

    def _access_down(self, frame: Frame, when: float) -> None:
        conn = frame.conn
        if self.ports["down"]:
            when += self.config.switch_latency
        start = when if when > conn.free_at else conn.free_at
        conn.free_at = start + frame.size * self.seconds_per_byte
        self._arrive(frame, conn.free_at)

    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        conn = Connection(client, direction, sink)
        frames_of = self.framing.frames
        seconds_per_byte = self.seconds_per_byte
        if self.ports[direction]:
            shared = ordered_entry(self.env, self._shared_hops(direction), feeders)
        else:
            shared = self._arrive if direction == "up" else self._access_down

        def send_up(packet: Packet, when: float) -> None:
            msg = packet.msg
            count, full, last = frames_of(msg.payload, msg.topic, msg.qos)
            free_at = when if when > conn.free_at else conn.free_at
            for _ in range(1, count):
                free_at += full * seconds_per_byte
                shared(Frame(packet, conn, full, 0), free_at)
            free_at += last * seconds_per_byte
            conn.free_at = free_at
            shared(Frame(packet, conn, last, count), free_at)

        def send_down(packet: Packet, when: float) -> None:
            msg = packet.msg
            count, full, last = frames_of(msg.payload, msg.topic, msg.qos)
            for _ in range(1, count):
                shared(Frame(packet, conn, full, 0), when)
            shared(Frame(packet, conn, last, count), when)

        return send_up if direction == "up" else send_down
