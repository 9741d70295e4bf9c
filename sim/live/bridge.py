"""``factory5g bridge``: a real MQTT bridge between two brokers through a simulated network.

A paho-mqtt client subscribes to the topic filters on the ``--from`` broker; every message it
receives enters the named network model of the scenario (the simulator's own model, built with
:func:`sim.models.links.build_link`, one ``up`` connection like a scenario bridge's) at the wall
clock time it arrived. The model says when the message comes out at the far end (queueing at the
network's rate, its latency law, TCP's retransmissions for its loss, or a drop where the model
drops); at that time a second client republishes it on the ``--to`` broker with the same topic,
payload, QoS and retain flag.

Time: the model runs in a plain SimPy environment whose clock is seconds since the bridge started.
One worker thread owns it: it feeds arrivals in at their arrival time, advances the environment to
the wall clock (timeouts, events of shared ports) and publishes what is due.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.live import LiveError
from sim.live.mqtt import BrokerURL, connect, disconnect, make_client, subscribe
from sim.models.draws import Draws, component_rng
from sim.models.links import build_link
from sim.models.message import Message, Packet
from sim.scenario.schema import Scenario


class _Info:
    """What the network models read of a message's origin (a gateway keys its registers by it)."""

    __slots__ = ("machine", "stream")

    def __init__(self, topic: str) -> None:
        self.machine = "bridge"
        self.stream = topic


@dataclass
class BridgeStats:
    received: int = 0
    forwarded: int = 0
    delays: list[float] = field(default_factory=list)  # model delay actually applied, seconds

    @property
    def dropped_or_held(self) -> int:
        return self.received - self.forwarded

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.delays, q)) if self.delays else None


class NetworkPath:
    """One direction of one network of a scenario, driven by the wall clock."""

    def __init__(self, scenario: Scenario, network: str, seed: int | None = None) -> None:
        if network not in scenario.networks:
            known = ", ".join(scenario.networks) or "none"
            raise LiveError(f"no network {network!r} in scenario {scenario.name} (has: {known})")
        self.env = simpy.Environment()
        seed = scenario.seed if seed is None else seed

        def draws(component: str) -> Draws:
            return Draws(component_rng(seed, 0, component))

        config = scenario.networks[network]
        self.link = build_link(self.env, network, config, draws, scenario.tcp)
        if config.kind == "gateway":
            upstream = config.upstream  # type: ignore[union-attr]
            up = (
                build_link(self.env, upstream, scenario.networks[upstream], draws, scenario.tcp)
                if upstream
                else None
            )
            if up is not None:
                up.connect("bridge:gateway", "up", lambda *_: None, 1)
            self.link.bind_upstream(up, 1 if up else 0)
        self.out: list[tuple[float, int, Packet]] = []  # (due, order, packet)
        self._order = itertools.count()
        self.send = self.link.connect("bridge:live", "up", self._arrived, 1)

    def _arrived(self, packet: Packet, when: float) -> None:
        heapq.heappush(self.out, (when, next(self._order), packet))

    def advance(self, now: float) -> None:
        """Process every model event up to and including ``now``, then set the clock to ``now``."""
        env = self.env
        while env.peek() <= now:
            env.step()
        if now > env.now:
            env.run(until=now)

    def offer(self, message: Message, now: float) -> None:
        """A message enters the network at ``now`` (seconds on the bridge's clock)."""
        self.advance(now)
        self.send(Packet(message, ()), now)

    def due(self, now: float) -> list[Packet]:
        """The packets out of the network by ``now``, in order."""
        self.advance(now)
        ready = []
        while self.out and self.out[0][0] <= now:
            ready.append(heapq.heappop(self.out)[2])
        return ready

    def next_time(self) -> float:
        """The earliest time something may happen: a delivery or a model event."""
        times = [self.out[0][0]] if self.out else []
        peek = self.env.peek()
        if peek != float("inf"):
            times.append(peek)
        return min(times, default=float("inf"))


def run_bridge(
    scenario: Scenario,
    network: str,
    source: BrokerURL,
    target: BrokerURL,
    topics: Sequence[str],
    *,
    duration: float | None = None,
    qos: int = 1,
    seed: int | None = None,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
    log: Callable[[str], None] | None = None,
) -> BridgeStats:
    """Bridge ``topics`` from ``source`` to ``target`` through ``network`` of ``scenario``, for
    ``duration`` seconds or until ``stop`` is set; ``ready`` is set once both ends are connected."""
    stop = stop or threading.Event()
    path = NetworkPath(scenario, network, seed)
    stats = BridgeStats()
    inbox: queue.SimpleQueue[tuple[float, str, bytes, int, bool]] = queue.SimpleQueue()
    t0 = time.monotonic()

    out = make_client(target, f"factory5g-bridge-out-{uuid.uuid4().hex[:8]}", max_inflight=1000)
    out.reconnect_delay_set(0.1, 1)
    inp = make_client(source, f"factory5g-bridge-in-{uuid.uuid4().hex[:8]}", max_inflight=1000)
    inp.reconnect_delay_set(0.1, 1)

    def on_message(client, userdata, message) -> None:
        inbox.put(
            (time.monotonic() - t0, message.topic, message.payload, message.qos, message.retain)
        )

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure and subscribed.is_set():
            for topic in topics:
                client.subscribe(topic, qos)  # again, after a reconnection

    subscribed = threading.Event()
    inp.on_message = on_message
    inp.on_connect = on_connect
    connect(out, target)
    try:
        connect(inp, source)
        try:
            for topic in topics:
                subscribe(inp, topic, qos)
            subscribed.set()
            if log:
                log(
                    f"bridging {', '.join(topics)} from {source} to {target} "
                    f"through network {network} ({scenario.networks[network].kind})"
                )
            if ready is not None:
                ready.set()
            end = float("inf") if duration is None else duration
            entered: dict[int, float] = {}
            while not stop.is_set():
                now = time.monotonic() - t0
                if now >= end:
                    break
                for packet in path.due(now):
                    msg = packet.msg
                    out.publish(msg.topic, msg.payload_bytes, qos=msg.qos, retain=msg.retain)
                    stats.forwarded += 1
                    stats.delays.append(now - entered.pop(id(msg), now))
                wake = min(path.next_time(), end) - (time.monotonic() - t0)
                try:
                    item = inbox.get(timeout=max(0.0002, min(wake, 0.1)))
                except queue.Empty:
                    continue
                while True:
                    when, topic, payload, msg_qos, retain = item
                    message = _BridgeMessage(topic, payload, msg_qos, retain, when)
                    entered[id(message)] = when
                    stats.received += 1
                    path.offer(message, when)
                    try:
                        item = inbox.get_nowait()
                    except queue.Empty:
                        break
        finally:
            disconnect(inp)
    finally:
        # Let QoS 1/2 messages handed to paho reach the target broker before leaving.
        deadline = time.monotonic() + 2.0
        while out.want_write() and time.monotonic() < deadline:
            time.sleep(0.01)
        disconnect(out)
    return stats


class _BridgeMessage(Message):
    """A received MQTT message as the network models see it (``payload`` is its size)."""

    __slots__ = ("payload_bytes", "retain")

    def __init__(self, topic: str, payload: bytes, qos: int, retain: bool, when: float) -> None:
        super().__init__(_Info(topic), 0, topic, max(len(payload), 1), qos, when, None)  # type: ignore[arg-type]
        self.payload_bytes = payload
        self.retain = retain


def format_bridge(stats: BridgeStats) -> str:
    p50, p99 = stats.percentile(50), stats.percentile(99)
    figures = (
        f", model delay p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms" if p50 is not None else ""
    )
    return (
        f"{stats.received} received, {stats.forwarded} forwarded, "
        f"{stats.dropped_or_held} dropped or still in the network{figures}"
    )
