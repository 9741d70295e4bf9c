"""Switched Ethernet, the legacy plant intranet (``kind: ethernet``).

Uplink, from a machine to the broker: the machine's own access link (its NIC serialises its frames
onto the cable to the first switch), then ``hops - 1`` shared store-and-forward hops: at each switch
the frame waits ``switch_latency`` (lookup and forwarding, GarrettCom S14: 5 us at 100 Mbit/s), then
joins the output queue of the next link, shared by every machine of the network and by
``cross_traffic`` (office traffic entering and leaving at that switch), and is serialised at ``rate``
(10 Mbit/s to 10 Gbit/s). Downlink, from the broker to a subscriber, crosses the same hops the other
way (full duplex: separate queues), the broker's own port first and the subscriber's access link last.

Messages are cut into frames (see :mod:`sim.models.framing`) and store-and-forward applies per frame:
a long message is pipelined over the hops, so it takes about one serialisation time, not one per hop.

Cross traffic: Poisson frames of ``size`` at ``load``; or, with ``burst``, bursts of that many bytes
(rounded to whole frames of ``size``) arriving at once, the bursts a Poisson process of the same load
(file transfers, camera streams).

Output queues. With ``priority_queues: 1`` (the default) a port is one FIFO, computed by the Lindley
recursion with cross traffic folded in (no SimPy events). With ``priority_queues: N`` (2 to 8) a port
has N queues served by non-preemptive strict priority (IEEE 802.1Q-2018 section 8.6.8.1, strict
priority transmission selection): a frame waits only for the frame being sent and for frames of its
own or a higher traffic class. A frame's 802.1p priority (PCP) is its stream's ``priority`` (cross
traffic: ``cross_traffic.priority``), mapped to a traffic class by the recommended mapping of
IEEE 802.1Q-2018 Table 8-5 (:data:`TRAFFIC_CLASSES`; note that priority 1, background, ranks below 0,
best effort). Such a port keeps real queues and takes a SimPy event per telemetry frame arrival and per
service completion while telemetry waits; cross traffic is still generated lazily, up to the time
the port is next examined.

TCP (:class:`sim.models.links.tcp.TcpConnection`): each frame is one TCP segment; a lost frame is
resent by fast retransmit or after the timeout, and the window counts bytes sent on the wire and not
yet acknowledged (frames still waiting in the machine's own NIC queue do not count). ACKs return over
the same hops: one 64 B frame (84 B on the wire with preamble and gap) per hop plus the switch
latencies, with no queueing.

What it omits: flow control (PAUSE frames), finite switch buffers (no tail drop), cable propagation
(5 ns/m, below a microsecond in a plant hall), per-hop queueing of ACKs and retransmissions,
credit-based and time-aware shapers (802.1Qav, 802.1Qbv), frame preemption (802.1Qbu).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.events import Arrival, ordered_entry
from sim.models.framing import ETHERNET_MIN_ON_WIRE, Framing
from sim.models.links.base import (
    CrossTraffic,
    Deliver,
    Direction,
    Frame,
    Link,
    MergedTraffic,
    StormTraffic,
)
from sim.models.links.tcp import TcpConnection, TcpPath
from sim.models.message import Packet
from sim.scenario.schema import BroadcastStorm, EthernetNetwork
from sim.scenario.schema import Tcp as TcpSettings

__all__ = [
    "TRAFFIC_CLASSES",
    "EthernetLink",
    "Frame",
    "PriorityPort",
    "SwitchPort",
    "ack_delay",
    "cross_traffic",
]

# IEEE 802.1Q-2018 Table 8-5, recommended priority to traffic class mapping: for N traffic classes
# (queues), the class of each priority 0..7. The highest class is served first.
TRAFFIC_CLASSES: dict[int, tuple[int, ...]] = {
    1: (0, 0, 0, 0, 0, 0, 0, 0),
    2: (0, 0, 0, 0, 1, 1, 1, 1),
    3: (0, 0, 0, 0, 1, 1, 2, 2),
    4: (0, 0, 1, 1, 2, 2, 3, 3),
    5: (0, 0, 1, 1, 2, 2, 3, 4),
    6: (1, 0, 2, 2, 3, 3, 4, 5),
    7: (1, 0, 2, 3, 4, 4, 5, 6),
    8: (1, 0, 2, 3, 4, 5, 6, 7),
}


def cross_traffic(config: EthernetNetwork) -> tuple[float, float, int] | None:
    """Each shared port's background traffic: ``(frames per second, seconds a frame takes on the
    wire, frames per burst)`` (:class:`CrossTraffic`), or ``None`` without any."""
    cross = config.cross_traffic
    if cross is None or cross.load == 0:
        return None
    frames_per_second = cross.load * config.rate / (8.0 * cross.size)
    burst = max(1, round(cross.burst / cross.size)) if cross.burst else 1
    return frames_per_second, cross.size * (8.0 / config.rate), burst


def ack_delay(config: EthernetNetwork) -> float:
    """The time a TCP ACK takes back across the network: one minimum frame per hop and the
    switches' latencies, without queueing (see the module)."""
    seconds_per_byte = 8.0 / config.rate
    return (
        config.hops * ETHERNET_MIN_ON_WIRE * seconds_per_byte
        + (config.hops - 1) * config.switch_latency
    )


class SwitchPort:
    """A FIFO output port of rate ``rate``, with optional background traffic."""

    __slots__ = ("cross", "free_at")

    def __init__(self, cross: CrossTraffic | None) -> None:
        self.cross = cross
        self.free_at = 0.0


class _CrossRun:
    """Background frames waiting in a priority queue, one after another."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n


class PriorityPort:
    """An output port with strict-priority queues, one per traffic class, non-preemptive.

    ``offer(frame, when)`` must be called at simulated time ``when``. When the port is free it sends
    the head of the highest non-empty class; a frame that finds it busy waits, and the port takes an
    event at each completion while telemetry waits, so that a later frame of a higher class goes
    first. ``forward(frame, done)`` is called when a frame starts, with the time its last bit leaves.

    Background frames (one traffic class, ``cross_class``) are generated lazily: before each
    decision at time ``t`` the arrivals before ``t`` join their queue, and while no telemetry waits
    they are served in FIFO order without events.
    """

    __slots__ = (
        "class_of",
        "cross",
        "cross_class",
        "env",
        "forward",
        "free_at",
        "queues",
        "seconds_per_byte",
        "waiting",
        "wake",
    )

    def __init__(
        self,
        env: simpy.Environment,
        classes: tuple[int, ...],
        seconds_per_byte: float,
        cross: CrossTraffic | None,
        cross_priority: int,
        forward: Callable[[Frame, float], None],
    ) -> None:
        self.env = env
        self.class_of = classes
        self.seconds_per_byte = seconds_per_byte
        self.queues: list[deque] = [deque() for _ in range(max(classes) + 1)]
        self.cross = cross
        self.cross_class = classes[cross_priority]
        self.forward = forward
        self.free_at = 0.0
        self.waiting = 0  # telemetry frames queued, not in service
        self.wake = False  # an event is due at free_at

    def offer(self, frame: Frame, when: float) -> None:
        """A telemetry frame arrives (at the current simulated time ``when``)."""
        self._cross_until(when)
        self.queues[self.class_of[frame.packet.msg.priority]].append(frame)
        self.waiting += 1
        if self.free_at <= when:
            self._start(when)
        elif not self.wake:
            self.wake = True
            Arrival(self.env, self.free_at, self._completed, self)

    def _completed(self, _port: PriorityPort, now: float) -> None:
        self.wake = False
        self._cross_until(now)
        if self.free_at <= now:
            self._start(now)
        elif self.waiting:
            self.wake = True
            Arrival(self.env, self.free_at, self._completed, self)

    def _start(self, now: float) -> None:
        """The port is free at ``now``: send the head of the highest non-empty class."""
        for queue in reversed(self.queues):
            if queue:
                break
        else:
            return
        head = queue[0]
        if head.__class__ is _CrossRun:
            head.n -= 1
            if not head.n:
                queue.popleft()
            self.free_at = now + self.cross.service  # type: ignore[union-attr]
        else:
            queue.popleft()
            self.waiting -= 1
            self.free_at = now + head.size * self.seconds_per_byte
            self.forward(head, self.free_at)
        if self.waiting and not self.wake:
            self.wake = True
            Arrival(self.env, self.free_at, self._completed, self)

    def _cross_until(self, until: float) -> None:
        """Background arrivals before ``until`` join their queue; while no telemetry waits, the port
        serves them in order (decisions before ``until`` only: one at ``until`` waits for the caller)."""
        cross = self.cross
        if cross is None:
            return
        queue = self.queues[self.cross_class]
        service = cross.service
        while True:
            arrival = cross.next_arrival
            if not self.waiting and queue:
                # only background frames wait (a single run): serve those starting before both the
                # next arrival (ties: the waiting frame first) and ``until``
                run = queue[0]
                free_at = self.free_at
                while run.n and free_at < until and free_at <= arrival:
                    free_at += service
                    run.n -= 1
                self.free_at = free_at
                if not run.n:
                    queue.popleft()
                    continue
            if arrival >= until:
                return
            frames = cross.frames
            if not self.waiting and not queue and self.free_at <= arrival:
                self.free_at = arrival + service  # an idle port starts it at once
                frames -= 1
            if frames:
                if queue and queue[-1].__class__ is _CrossRun:
                    queue[-1].n += frames
                else:
                    queue.append(_CrossRun(frames))
            cross.advance()

    def held(self) -> list[Packet]:
        """Messages whose last frame waits in this port's queues."""
        return [
            item.packet
            for queue in self.queues
            for item in queue
            if item.__class__ is not _CrossRun and item.count
        ]


class EthernetLink(Link):
    """Access link per machine, shared switch hops, per-frame store-and-forward."""

    kind = "ethernet"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        config: EthernetNetwork,
        rng_for: Callable[[str], Draws],
        tcp: TcpSettings | None = None,
    ) -> None:
        super().__init__(env, name, rng_for, tcp)
        self.config = config
        self.framing = Framing(config.mtu, config.overhead)
        self.header = self.framing.header
        self.seconds_per_byte = 8.0 / config.rate
        self.draws = rng_for(f"network:{name}")
        self.classes = TRAFFIC_CLASSES[config.priority_queues]
        self.priority = config.priority_queues > 1
        self.connections: list[TcpConnection] = []
        self._path: TcpPath | None = None
        self.ports: dict[Direction, list[SwitchPort]] = {}
        self.priority_ports: dict[Direction, list[PriorityPort]] = {}
        for direction in ("up", "down"):
            crosses = [self._cross_traffic(f"{direction}:{hop}") for hop in range(config.hops - 1)]
            if self.priority:
                self.priority_ports[direction] = self._priority_chain(direction, crosses)
                self.ports[direction] = []
            else:
                self.ports[direction] = [SwitchPort(cross) for cross in crosses]

    def suffer(self, attack: BroadcastStorm) -> None:
        """A broadcast storm: its frames flooded to every shared hop, both ways, from its start
        to its end, besides the cross traffic (each port's storm a Poisson stream of its own)."""
        frames_per_second = attack.load * self.config.rate / (8.0 * attack.size)
        service = attack.size * self.seconds_per_byte
        for direction in ("up", "down"):
            ports: list = self.priority_ports[direction] if self.priority else self.ports[direction]
            for hop, port in enumerate(ports):
                draws = self.rng_for(f"network:{self.name}:storm:{direction}:{hop}")
                storm = StormTraffic(frames_per_second, service, draws, attack.start, attack.end)
                if self.priority:
                    # the schema admits a storm on priority ports only without cross traffic
                    port.cross = storm
                    port.cross_class = self.classes[attack.priority]
                else:
                    port.cross = storm if port.cross is None else MergedTraffic(port.cross, storm)

    def _cross_traffic(self, port: str) -> CrossTraffic | None:
        figures = cross_traffic(self.config)
        if figures is None:
            return None
        frames_per_second, service, burst = figures
        draws = self.rng_for(f"network:{self.name}:cross:{port}")
        return CrossTraffic(frames_per_second, service, draws, burst)

    def _priority_chain(
        self, direction: Direction, crosses: list[CrossTraffic | None]
    ) -> list[PriorityPort]:
        """The shared hops of one direction as priority ports, each forwarding to the next."""
        env = self.env
        switch_latency = self.config.switch_latency
        cross_priority = self.config.cross_traffic.priority if self.config.cross_traffic else 0
        ports: list[PriorityPort] = []
        forward: Callable[[Frame, float], None] = (
            self._access_down if direction == "down" else self._arrive
        )
        for cross in reversed(crosses):
            port = PriorityPort(
                env, self.classes, self.seconds_per_byte, cross, cross_priority, forward
            )
            ports.insert(0, port)
            forward = _hand_over(env, port, switch_latency)
        return ports

    def tcp_path(self) -> TcpPath:
        """TCP's view of this network: ACKs are one minimum frame per hop plus the switch latencies."""
        if self._path is None:
            reverse = ack_delay(self.config)
            self._path = TcpPath(
                self.env,
                self.tcp,
                loss=self.config.loss,
                draws=self.draws,
                reverse=reverse,
                rtt=2.0 * reverse,
            )
        return self._path

    def _shared_hops(self, direction: Direction) -> Callable[[Frame, float], None]:
        """Carries a frame through this direction's shared FIFO hops, in arrival order at the first."""
        ports = self.ports[direction]
        switch_latency = self.config.switch_latency
        seconds_per_byte = self.seconds_per_byte
        access = self._access_down if direction == "down" else self._arrive
        header = self.header
        up_lossless = direction == "up" and not self.config.loss

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
            if up_lossless:  # inlined _arrive
                size = frame.size - header
                frame.conn.receive_frame(  # type: ignore[attr-defined]
                    when, size if size > 1.0 else 1.0, frame.packet if frame.count else None, 0.0
                )
            else:
                access(frame, when)

        return through

    def _priority_entry(self, direction: Direction) -> Callable[[Frame, float], None]:
        """Hands a frame to this direction's first priority port at its arrival time."""
        env = self.env
        first = self.priority_ports[direction][0]
        delay = self.config.switch_latency if direction == "up" else 0.0

        def enter(frame: Frame, when: float) -> None:
            when += delay
            if when <= env.now:
                first.offer(frame, when)
            else:
                Arrival(env, when, first.offer, frame)

        return enter

    def _arrive(self, frame: Frame, when: float) -> None:
        """The frame reached the far end: TCP takes it (each frame is one segment)."""
        size = frame.size - self.header
        if size < 1.0:
            size = 1.0
        fwd = 0.0
        if self.config.loss:
            config = self.config
            fwd = (
                config.hops * frame.size * self.seconds_per_byte
                + (config.hops - 1) * config.switch_latency
            )
        frame.conn.receive_frame(when, size, frame.packet if frame.count else None, fwd)  # type: ignore[attr-defined]

    def _access_down(self, frame: Frame, when: float) -> None:
        conn = frame.conn
        if self.config.hops > 1:
            when += self.config.switch_latency
        start = when if when > conn.free_at else conn.free_at
        conn.free_at = start + frame.size * self.seconds_per_byte
        self._arrive(frame, conn.free_at)

    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        frames_of = self.framing.frames
        seconds_per_byte = self.seconds_per_byte
        header = self.header
        if self.priority and self.priority_ports[direction]:
            shared = self._priority_entry(direction)
        elif self.ports[direction]:
            shared = ordered_entry(self.env, self._shared_hops(direction), feeders)
        else:
            shared = self._arrive if direction == "up" else self._access_down

        def emit_up(packet: Packet, first: int, n: int, when: float) -> None:
            """Frames ``first`` to ``first + n - 1`` leave the machine's NIC from ``when``."""
            msg = packet.msg
            count, full, last = frames_of(msg.payload, packet.topic, packet.qos, packet.record)
            free_at = when if when > conn.free_at else conn.free_at
            for k in range(first, first + n):
                if k < count - 1:
                    free_at += full * seconds_per_byte
                    shared(Frame(packet, conn, full, 0), free_at)
                else:
                    free_at += last * seconds_per_byte
                    shared(Frame(packet, conn, last, count), free_at)
            conn.free_at = free_at

        def emit_down(packet: Packet, first: int, n: int, when: float) -> None:
            """Frames ``first`` to ``first + n - 1`` enter the broker's port at ``when``."""
            msg = packet.msg
            count, full, last = frames_of(msg.payload, packet.topic, packet.qos, packet.record)
            for k in range(first, first + n):
                if k < count - 1:
                    shared(Frame(packet, conn, full, 0), when)
                else:
                    shared(Frame(packet, conn, last, count), when)

        conn = TcpConnection(
            client, direction, sink, self.tcp_path(), emit_up if direction == "up" else emit_down
        )
        self.connections.append(conn)
        if direction == "up":
            conn.pace = seconds_per_byte
            conn.overhead = header

        def send_up(packet: Packet, when: float) -> None:
            msg = packet.msg
            count, full, last = frames_of(msg.payload, packet.topic, packet.qos, packet.record)
            free_at = when if when > conn.free_at else conn.free_at
            data = last - header
            if data < 1.0:
                data = 1.0
            start = conn.clearance((count - 1) * (full - header) + data, free_at, count == 1)
            if start is None:
                conn.submit(packet, when, count, full - header, data)
                return
            free_at = start
            for _ in range(1, count):
                free_at += full * seconds_per_byte
                shared(Frame(packet, conn, full, 0), free_at)
            free_at += last * seconds_per_byte
            conn.free_at = free_at
            shared(Frame(packet, conn, last, count), free_at)

        def send_down(packet: Packet, when: float) -> None:
            msg = packet.msg
            count, full, last = frames_of(msg.payload, packet.topic, packet.qos, packet.record)
            data = last - header
            if data < 1.0:
                data = 1.0
            start = conn.clearance((count - 1) * (full - header) + data, when, count == 1)
            if start is None:
                conn.submit(packet, when, count, full - header, data)
                return
            when = start
            for _ in range(1, count):
                shared(Frame(packet, conn, full, 0), when)
            shared(Frame(packet, conn, last, count), when)

        return send_up if direction == "up" else send_down

    def held(self) -> list[Packet]:
        held = [packet for conn in self.connections for packet in conn.pending()]
        for ports in self.priority_ports.values():
            for port in ports:
                held += port.held()
        return held


def _hand_over(
    env: simpy.Environment, port: PriorityPort, delay: float
) -> Callable[[Frame, float], None]:
    """Forwarding from one priority port to the next, ``delay`` (the switch) after the frame left."""

    def to_next(frame: Frame, done: float) -> None:
        Arrival(env, done + delay, port.offer, frame)

    return to_next
