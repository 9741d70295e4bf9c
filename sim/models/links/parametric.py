"""A network given by its measured behaviour rather than its mechanism (``kind: parametric``).

Each direction is one FIFO of capacity ``rate`` shared by every connection that crosses the network
(a saturated link therefore shows its capacity and a growing queue), followed by a delay drawn from
the ``latency`` law for each message (propagation, processing, radio access as measured).

TCP (:class:`sim.models.links.tcp.TcpConnection`, settings from the scenario's ``tcp`` block): each
segment is lost with probability ``loss`` and resent by fast retransmit or after the retransmission
timeout (``min_rto`` + the round trip of twice the latency law's mean); in-order delivery holds back
the connection's later messages meanwhile. The window counts bytes that entered the FIFO and are not
yet acknowledged; an ACK takes the latency law's mean to come back. A message the window splits
leaves in runs of segments, each run queued and delayed (one latency draw) on its own.

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
    Deliver,
    Direction,
    Frame,
    Link,
)
from sim.models.links.tcp import TcpConnection, TcpPath
from sim.models.message import Packet
from sim.scenario.schema import ParametricNetwork
from sim.scenario.schema import Tcp as TcpSettings


class _Port:
    __slots__ = ("free_at",)

    def __init__(self) -> None:
        self.free_at = 0.0


class _Run(Frame):
    """``n`` segments of a message that the window let leave together (``nbytes`` of TCP payload,
    ``seg`` per segment)."""

    __slots__ = ("n", "nbytes", "seg")

    def __init__(
        self,
        packet: Packet,
        conn: TcpConnection,
        size: float,
        count: int,
        n: int,
        nbytes: float,
        seg: float,
    ) -> None:
        super().__init__(packet, conn, size, count)
        self.n = n
        self.nbytes = nbytes
        self.seg = seg


class ParametricLink(Link):
    """Shared capacity, then a random delay, per direction."""

    kind = "parametric"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        config: ParametricNetwork,
        rng_for: Callable[[str], Draws],
        tcp: TcpSettings | None = None,
    ) -> None:
        super().__init__(env, name, rng_for, tcp)
        self.config = config
        self.framing = Framing(config.mtu, config.overhead)
        self.header = self.framing.header
        self.draws = rng_for(f"network:{name}")
        # each direction's delays, a sequence of its own (in the order messages reach the FIFO)
        self.latency = {
            way: sampler(config.latency, rng_for(f"network:{name}:latency:{way}"))
            for way in ("up", "down")
        }
        self.constant_latency = config.latency.mean if is_constant(config.latency) else None
        self.ports: dict[Direction, _Port] = {"up": _Port(), "down": _Port()}
        self.connections: list[TcpConnection] = []
        self._path: TcpPath | None = None

    @property
    def rto(self) -> float:
        """The retransmission timeout: ``min_rto`` plus the round trip (twice the mean latency)."""
        return self.tcp_path().rto

    def tcp_path(self) -> TcpPath:
        """TCP's view of this network: ACKs take the latency law's mean to come back."""
        if self._path is None:
            mean = self.config.latency.mean
            self._path = TcpPath(
                self.env,
                self.tcp,
                loss=self.config.loss,
                draws=self.draws,
                reverse=mean,
                rtt=2.0 * mean,
            )
        return self._path

    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        port = self.ports[direction]
        frames_of = self.framing.frames
        seconds_per_byte = 8.0 / self.config.rate if self.config.rate else 0.0
        latency = self.latency[direction]
        constant = self.constant_latency
        header = self.header
        direct = feeders <= 1  # ordered_entry would call transmit at once

        def carry(
            packet: Packet,
            when: float,
            n: int,
            complete: int,
            wire: float,
            nbytes: float,
            seg: float,
        ) -> None:
            """``n`` segments of a message (``wire`` bytes) join the FIFO at ``when``."""
            sent = when
            spacing = 0.0
            if seconds_per_byte:
                start = when if when > port.free_at else port.free_at
                when = start + wire * seconds_per_byte
                port.free_at = when
                spacing = seg * seconds_per_byte
            when += constant if constant is not None else latency()
            if n == 1:
                conn.receive_frame(when, nbytes, packet if complete else None, when - sent)
            else:
                conn.receive(
                    when, nbytes, packet if complete else None, n, seg, spacing, when - sent
                )

        def transmit(item: Packet | _Run, when: float) -> None:
            """A message, or a run of its segments, reaches the FIFO (several feeders: in order)."""
            if item.__class__ is _Run:
                run: _Run = item  # type: ignore[assignment]
                carry(run.packet, when, run.n, run.count, run.size, run.nbytes, run.seg)
                return
            msg = item.msg  # type: ignore[union-attr]
            count, full, last = frames_of(msg.payload, item.topic, item.qos, item.record)  # type: ignore[union-attr]
            data = last - header
            if data < 1.0:
                data = 1.0
            nbytes = (count - 1) * (full - header) + data
            carry(item, when, count, count, (count - 1) * full + last, nbytes, full - header)  # type: ignore[arg-type]

        entry = ordered_entry(self.env, transmit, feeders)

        def emit(packet: Packet, first: int, n: int, when: float) -> None:
            msg = packet.msg
            count, full, last = frames_of(msg.payload, packet.topic, packet.qos, packet.record)
            seg = full - header
            if first + n == count:
                data = last - header
                wire = (n - 1) * full + last
                nbytes = (n - 1) * seg + (data if data > 1.0 else 1.0)
                run = _Run(packet, conn, wire, count, n, nbytes, seg)
            else:
                run = _Run(packet, conn, n * full, 0, n, n * seg, seg)
            entry(run, when)

        conn = TcpConnection(client, direction, sink, self.tcp_path(), emit)
        self.connections.append(conn)

        def send(packet: Packet, when: float) -> None:
            msg = packet.msg
            count, full, last = frames_of(msg.payload, packet.topic, packet.qos, packet.record)
            data = last - header
            if data < 1.0:
                data = 1.0
            seg = full - header
            nbytes = (count - 1) * seg + data
            start = conn.clearance(nbytes, when, count == 1)
            if start is None:
                conn.submit(packet, when, count, seg, data)
            elif not direct:
                entry(packet, start)
            elif count == 1:
                # inlined carry() for the common case: one segment, one feeder
                sent = start
                if seconds_per_byte:
                    if start < port.free_at:
                        start = port.free_at
                    start += last * seconds_per_byte
                    port.free_at = start
                arrival = start + (constant if constant is not None else latency())
                conn.receive_frame(arrival, nbytes, packet, arrival - sent)
            else:
                carry(packet, start, count, count, (count - 1) * full + last, nbytes, seg)

        return send

    def held(self) -> list[Packet]:
        return [packet for conn in self.connections for packet in conn.pending()]
