"""The fast engine's networks: each way of a network as recursions over one chunk's messages.

A network takes, each chunk, the messages its connections hand it (in each connection's order)
and returns those whose last byte reaches the far end, with when TCP releases them there:

- a parametric network (:mod:`sim.models.links.parametric`): one FIFO of the network's rate each
  way, then each message's latency draw, in the order messages reach the FIFO;
- switched Ethernet with FIFO ports (:mod:`sim.models.links.ethernet`): messages cut into frames
  (:class:`~sim.models.framing.Framing`); up, each machine's NIC, then ``hops - 1`` shared
  store-and-forward ports, each after a switch's latency, each with its Poisson or bursty cross
  traffic drawn from the event engine's generators (:class:`~sim.models.links.base.CrossTraffic`);
  down, the shared ports from the broker's, then the client's access port.

Where a network's connections meet (the first shared stage) arrivals must be taken in time order
across connections: what reaches it at or after the chunk's end is held for the next chunk, whose
arrivals all come at or after that end (no delay is negative), and merged with them.
"""

from __future__ import annotations

import math

import numpy as np

from sim.fast.kernels import access_link, fifo_port, in_order, shared_port
from sim.models.draws import component_rng
from sim.models.framing import IP_TCP_HEADERS, Framing
from sim.models.laws import LawStream, is_constant
from sim.models.links.base import cross_gap_and_work
from sim.models.links.ethernet import ack_delay, cross_traffic
from sim.scenario.schema import EthernetNetwork, ParametricNetwork, Scenario

Items = dict[str, np.ndarray]
PUBLISH, PING = 0, 1
_NO_DRAWS = np.empty(0)


def take(items: Items, index: np.ndarray | slice) -> Items:
    """The items at ``index``, every field."""
    return {key: value[index] for key, value in items.items()}


def in_time_order(
    held: Items | None, items: Items, key: str, end: float, last: bool
) -> tuple[Items, Items | None]:
    """What a stage merging several feeders takes this chunk, in the time order of ``key`` (ties:
    what was held first, then in the order given), and what it holds for the next chunk: what
    comes at or after ``end`` (nothing on the ``last`` chunk)."""
    if held is not None:
        items = {name: np.concatenate([held[name], value]) for name, value in items.items()}
    items = take(items, np.argsort(items[key], kind="stable"))
    if last:
        return items, None
    cut = int(np.searchsorted(items[key], end))
    return take(items, slice(None, cut)), take(items, slice(cut, None))


def frames(
    framing: Framing, payload: np.ndarray, topic: np.ndarray, control: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """:meth:`Framing.frames` on arrays: each message's number of frames, the bytes of a full
    frame, and of its last one (written again because the scalar one must not need numpy, which
    ``validate`` runs without). ``topic``: the topic's bytes; ``control``: a control packet, whose
    ``payload`` is the whole MQTT packet."""
    if framing.overhead is None:
        remaining = 2 + topic + payload
        length = np.where(
            remaining < 128, 1, np.where(remaining < 16384, 2, np.where(remaining < 2097152, 3, 4))
        )
        data = np.where(control, payload, 1 + length + remaining)
        per_frame = IP_TCP_HEADERS + framing.link_bytes
    else:
        data = payload
        per_frame = framing.overhead
    segment = framing.segment
    count = np.maximum(1, np.ceil(data / segment))
    last = data - (count - 1) * segment
    last_bytes = last + per_frame
    if framing.overhead is None:
        last_bytes = np.where(last_bytes < framing.min_frame, framing.min_frame, last_bytes)
    return count, segment + per_frame, last_bytes


def tcp_bytes(framing: Framing, count: np.ndarray, full: float, last: np.ndarray) -> np.ndarray:
    """The TCP payload bytes of each message, as the links count them for the window."""
    header = framing.header
    return (count - 1) * (full - header) + np.maximum(last - header, 1.0)


def publish_bytes(payload: np.ndarray, topic: np.ndarray) -> np.ndarray:
    """MQTT bytes of a QoS 0 PUBLISH (:meth:`MqttConnection._count`)."""
    remaining = 2 + topic + payload
    return remaining + np.where(remaining < 128, 2, np.where(remaining < 16384, 3, 4))


class Network:
    """One network, both ways: what the parametric and Ethernet models share in this engine."""

    def __init__(self, framing: Framing, reverse: float, connections: int) -> None:
        self.framing = framing
        self.reverse = reverse  # the time an ACK takes back (TcpPath.reverse)
        self.held: dict[str, Items | None] = {"up": None, "down": None}
        self.tcp = {"up": np.zeros(connections), "down": np.zeros(connections)}

    def carry(self, items: Items, way: str, end: float, last: bool) -> Items:
        """The messages handed to the network ``way`` this chunk (fields ``sent``, ``c``, ``kind``,
        ``payload``, ``topic`` and any to carry along; in each connection's order): those whose
        last byte reaches the far end from what reaches the shared stage before ``end``, with
        ``released`` (TCP's in-order release there), ``start`` (when the window was asked) and
        ``tcp`` (TCP payload bytes)."""
        control = items["kind"] == PING
        entries = self._enter(items, control, way)
        entries, self.held[way] = in_time_order(self.held[way], entries, "entry", end, last)
        released = in_order(entries["c"], self._through(entries, way), self.tcp[way])
        final = entries.pop("final", None)
        if final is not None:
            entries = take(entries, final)
            released = released[final]
        entries["released"] = released
        return entries

    def _enter(self, items: Items, control: np.ndarray, way: str) -> Items:
        """The entries to the shared stage, with their time ``entry``."""
        raise NotImplementedError

    def _through(self, entries: Items, way: str) -> np.ndarray:
        """When each entry (in ``entry`` order) reaches the far end."""
        raise NotImplementedError


class Parametric(Network):
    """A parametric network: one FIFO each way, then the latency law's draws."""

    def __init__(
        self, scenario: Scenario, replication: int, name: str, config: ParametricNetwork, n: int
    ) -> None:
        super().__init__(Framing(config.mtu, config.overhead), config.latency.mean, n)
        self.per_byte = 8.0 / config.rate if config.rate else 0.0
        self.free = {"up": 0.0, "down": 0.0}
        self.latency: dict[str, LawStream | float] = {}
        for way in ("up", "down"):
            if is_constant(config.latency):
                self.latency[way] = config.latency.mean
            else:
                rng = component_rng(scenario.seed, replication, f"network:{name}:latency:{way}")
                self.latency[way] = LawStream(config.latency, rng)

    def _enter(self, items: Items, control: np.ndarray, way: str) -> Items:
        count, full, last = frames(self.framing, items["payload"], items["topic"], control)
        wire = (count - 1) * full + last
        tcp = tcp_bytes(self.framing, count, full, last)
        return {**items, "entry": items["sent"], "start": items["sent"], "wire": wire, "tcp": tcp}

    def _through(self, entries: Items, way: str) -> np.ndarray:
        n = entries["entry"].size
        law = self.latency[way]
        latency = np.full(n, law) if isinstance(law, float) else law.take(n)
        out, self.free[way] = fifo_port(
            entries["entry"], entries["wire"], self.per_byte, self.free[way], latency
        )
        return out


class Port:
    """A shared FIFO output port of a switch, with its cross traffic (none: ``figures`` None)."""

    def __init__(
        self,
        per_byte: float,
        figures: tuple[float, float, int] | None,
        rng: np.random.Generator,
    ) -> None:
        self.per_byte = per_byte
        self.free = 0.0
        self.draws: LawStream | None = None
        self.gap = self.work = 0.0
        self.arrival = math.inf
        if figures is not None:
            self.gap, self.work = cross_gap_and_work(*figures)
            self.draws = LawStream.blocks(rng.standard_exponential)
            self.arrival = self.gap * float(self.draws.take(1)[0])

    def __call__(self, times: np.ndarray, size: np.ndarray) -> np.ndarray:
        """When each frame (arriving at ``times``, in order, ``size`` bytes) has left the port."""
        out = np.empty_like(times)
        first = 0
        while first < times.size:
            draws = _NO_DRAWS
            if self.draws is not None and times[-1] > self.arrival:
                draws = self.draws.take(int(1.05 * (times[-1] - self.arrival) / self.gap) + 64)
            first, self.free, self.arrival, used = shared_port(
                times, size, self.per_byte, self.free, self.arrival, self.gap, self.work, draws,
                first, out,
            )  # fmt: skip
            if used < draws.size:
                self.draws.untake(draws[used:])  # type: ignore[union-attr]
        return out


class Ethernet(Network):
    """Switched Ethernet of FIFO ports (``priority_queues: 1``), lossless."""

    def __init__(
        self, scenario: Scenario, replication: int, name: str, config: EthernetNetwork, n: int
    ) -> None:
        super().__init__(Framing(config.mtu, config.overhead), ack_delay(config), n)
        self.per_byte = 8.0 / config.rate
        self.switch = config.switch_latency
        self.hops = config.hops
        figures = cross_traffic(config)
        self.ports = {
            way: [
                Port(
                    self.per_byte,
                    figures,
                    component_rng(scenario.seed, replication, f"network:{name}:cross:{way}:{hop}"),
                )
                for hop in range(config.hops - 1)
            ]
            for way in ("up", "down")
        }
        self.access = {"up": np.zeros(n), "down": np.zeros(n)}  # each connection's own port

    def _enter(self, items: Items, control: np.ndarray, way: str) -> Items:
        count, full, last = frames(self.framing, items["payload"], items["topic"], control)
        tcp = tcp_bytes(self.framing, count, full, last)
        n = count.astype(np.int64)
        if (n == 1).all():
            entries = {**items, "tcp": tcp, "size": last, "final": np.ones(n.size, dtype=bool)}
            first = None
        else:
            which = np.repeat(np.arange(n.size), n)
            final = np.zeros(which.size, dtype=bool)
            ends = np.cumsum(n)
            final[ends - 1] = True
            first = (ends - n)[which]  # each frame's message's first frame
            entries = take(items, which)
            entries["tcp"] = tcp[which]
            entries["size"] = np.where(final, last[which], full)
            entries["final"] = final
        if way == "up":  # the machine's NIC serialises its frames onto the cable
            start, entry = access_link(
                entries["c"], entries["sent"], entries["size"], self.per_byte, self.access["up"]
            )
            entries["start"] = start if first is None else start[first]
        else:  # the broker's frames go to the shared port at once
            entry = entries["sent"]
            entries["start"] = entry
        entries["entry"] = entry
        return entries

    def _through(self, entries: Items, way: str) -> np.ndarray:
        times = entries["entry"]
        size = entries["size"]
        for hop, port in enumerate(self.ports[way]):
            if hop or way == "up":
                times = times + self.switch
            times = port(times, size)
        if way == "down":  # the client's own port
            if self.hops > 1:
                times = times + self.switch
            _, times = access_link(entries["c"], times, size, self.per_byte, self.access["down"])
        return times


def network(
    scenario: Scenario, replication: int, name: str, connections: int
) -> Parametric | Ethernet:
    """The fast engine's model of network ``name``."""
    config = scenario.networks[name]
    if isinstance(config, ParametricNetwork):
        return Parametric(scenario, replication, name, config, connections)
    assert isinstance(config, EthernetNetwork)
    return Ethernet(scenario, replication, name, config, connections)
