"""The fast engine: the plants it can compute exactly, as recursions over arrays instead of events.

A plant of FIFO stages needs no event loop: each stage's departures follow from its arrivals by a
recursion (``start = max(arrival, free); free = start + service``), which a compiled loop (numba)
runs at tens of nanoseconds a message. This engine computes, with the event engine's own
operations in the same order (so the same floats, not just close ones):

- each stream's releases and payloads, drawn as arrays from the generators the event engine's
  sources use (periodic with jitter from a random phase, or Poisson; :class:`~sim.models.laws.LawStream`);
- each machine's MQTT keep-alive (PINGREQ when it has sent or received nothing for a keep-alive,
  paho-mqtt's rule; :mod:`sim.models.mqtt.connection`) and the broker's PINGRESP;
- the host stacks at both ends, in order per connection each way;
- a parametric network's shared FIFO each way and its latency draws, in the order messages reach
  the FIFO (:mod:`sim.models.links.parametric`), and TCP's in-order release per connection as a
  running maximum;
- the broker's service loop and fan-out (:mod:`sim.models.mqtt.broker`), and each subscriber
  session's pace and ``max_queued`` drop-tail queue.

Time goes in chunks, at most half the shortest keep-alive long (so a chunk's pings are known at its
start); a stage that merges several feeders in time order (the broker) keeps back what arrives at or
after the chunk's end and merges it with the next chunk's, so every stage sees its arrivals in time
order, as the event engine does. Deliveries go into the rows' tallies (:mod:`sim.metrics.tally`)
chunk by chunk: memory follows the chunk, not the duration.

Its scope (:func:`~sim.engines.out_of_scope` says why a scenario is outside it): machines on
parametric networks without loss or outages, QoS 0 streams, host stacks at the machines and the
broker (:class:`~sim.models.laws.InOrderDelay` per connection and way), subscribers beside their
broker at QoS 0, no bridges or gateways; a TCP window that never binds (checked as it runs: the engine stops
with :class:`OutOfScope` if it would, and ``auto`` then runs the event engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.engines import out_of_scope
from sim.metrics.collector import Row
from sim.metrics.summary import ReplicationRow, replication_row
from sim.models.draws import component_rng
from sim.models.framing import IP_TCP_HEADERS, Framing
from sim.models.laws import LawStream, is_constant
from sim.models.mqtt.packets import PINGREQ, PINGRESP, SIZES
from sim.models.mqtt.routing import plan_topic
from sim.scenario.hosts import host_law
from sim.scenario.schema import MAX_PAYLOAD, Scenario

Progress = Callable[[float], None]
PUBLISH, PING = 0, 1
CHUNK_MESSAGES = 2_000_000  # messages a chunk aims at (some 300 MB of arrays in hand)


class OutOfScope(RuntimeError):
    """The scenario (or, found while running, its traffic) is beyond what this engine computes
    exactly; the message says what."""


# ------------------------------------------------------------------------------------ kernels


@njit(cache=True)
def _port(times, wire, per_byte, free, latency):  # pragma: no cover - compiled
    """A FIFO of ``per_byte`` seconds a byte (0: no capacity limit), then each one's latency."""
    out = np.empty_like(times)
    for i in range(times.size):
        start = times[i]
        if per_byte:
            if start < free:
                start = free
            start += wire[i] * per_byte
            free = start
        out[i] = start + latency[i]
    return out, free


@njit(cache=True)
def _in_order(conn, times, last):  # pragma: no cover - compiled
    """TCP's in-order release: not before what came before on the same connection."""
    out = np.empty_like(times)
    for i in range(times.size):
        c = conn[i]
        t = times[i]
        if t < last[c]:
            t = last[c]
        last[c] = t
        out[i] = t
    return out


@njit(cache=True)
def _host_stack(conn, times, draws, ptr, used, last):  # pragma: no cover - compiled
    """A host's stack, in order per connection (:class:`~sim.models.laws.InOrderDelay`): each
    packet leaves its draw after it came and not before the one ahead (:func:`_in_order`);
    connection ``c``'s draws are ``draws[ptr[c]:]``, of which ``used[c]`` are spent."""
    delayed = np.empty_like(times)
    for i in range(times.size):
        c = conn[i]
        delayed[i] = times[i] + draws[ptr[c] + used[c]]
        used[c] += 1
    return _in_order(conn, delayed, last)


@njit(cache=True)
def _broker(
    times, kind, payload, route, ptr, sessions, service, per_byte, fanout, free
):  # pragma: no cover
    """The broker's loop: each PUBLISH's service and fan-out; a PINGREQ keeps its place."""
    copies = 0
    for i in range(times.size):
        if kind[i] == 0:
            copies += ptr[route[i] + 1] - ptr[route[i]]
    item = np.empty(copies, np.int64)
    session = np.empty(copies, np.int64)
    at = np.empty(copies)
    answered = np.full(times.size, np.nan)
    n = 0
    for i in range(times.size):
        start = times[i] if times[i] > free else free
        if kind[i] != 0:
            answered[i] = start
            continue
        done = start + service + per_byte * payload[i]
        for k in range(ptr[route[i]], ptr[route[i] + 1]):
            done += fanout
            item[n] = i
            session[n] = sessions[k]
            at[n] = done
            n += 1
        free = done
    return item, session, at, answered, free


@njit(cache=True)
def _sessions(
    session, when, pace, limit, free, last, ring, ring_at, head, size
):  # pragma: no cover
    """Each subscriber session: copies taken at the client's pace; a QoS 0 copy that finds
    ``max_queued`` waiting is dropped (NaN)."""
    out = np.empty_like(when)
    for i in range(when.size):
        s = session[i]
        w = when[i]
        p = pace[s]
        if p:
            q = limit[s]
            base = ring_at[s]
            while size[s] and ring[base + head[s]] <= w:
                head[s] = (head[s] + 1) % q
                size[s] -= 1
            if size[s] >= q:
                out[i] = np.nan
                continue
            start = w if w > free[s] else free[s]
            free[s] = start + p
            ring[base + (head[s] + size[s]) % q] = start
            size[s] += 1
        else:
            start = w if w > last[s] else last[s]
        last[s] = start
        out[i] = start
    return out


@njit(cache=True)
def _keep_alive(timer, received, last_up, keep_alive, end, pub_ptr, pub_times):  # pragma: no cover
    """Each connection's keep-alive timer up to ``end``: the ping it sends there (NaN: none).

    ``pub_times[pub_ptr[c]:pub_ptr[c + 1]]`` are connection ``c``'s publishes of the chunk (its
    streams one after another); ``last_up`` its last send before the chunk."""
    ping = np.full(timer.size, np.nan)
    for c in range(timer.size):
        w = timer[c]
        while w < end:
            sent = last_up[c]
            for k in range(pub_ptr[c], pub_ptr[c + 1]):
                if sent < pub_times[k] < w:
                    sent = pub_times[k]
            quiet = sent if sent < received[c] else received[c]
            due = quiet + keep_alive[c]
            if due <= w:
                ping[c] = w
                received[c] = w
                last_up[c] = w
                w = w + keep_alive[c]
            else:
                w = due
        timer[c] = w
        sent = last_up[c]
        for k in range(pub_ptr[c], pub_ptr[c + 1]):
            if pub_times[k] > sent:
                sent = pub_times[k]
        last_up[c] = sent
    return ping


@njit(cache=True)
def _window_binds(
    conn, sent, released, nbytes, checked, reverse, window, connections
):  # pragma: no cover
    """Whether some message leaves while more than ``window`` bytes, its own included, are not
    yet acknowledged: an ACK comes back ``reverse`` after the receiver released the message
    (:meth:`TcpConnection.clearance`, counting a message acknowledged once it is all released).
    Items in each connection's send order (connections interleaved); only ``checked`` ones are
    tested. A connection's unacknowledged messages are a run of its latest, kept as a list."""
    following = np.full(sent.size, -1, np.int64)
    newest = np.full(connections, -1, np.int64)
    oldest = np.full(connections, -1, np.int64)  # its oldest message not yet acknowledged
    total = np.zeros(connections)
    acked = np.zeros(connections)
    for i in range(sent.size):
        c = conn[i]
        if newest[c] >= 0:
            following[newest[c]] = i
        else:
            oldest[c] = i
        newest[c] = i
        total[c] += nbytes[i]
        k = oldest[c]
        while k != -1 and k < i and released[k] + reverse <= sent[i]:
            acked[c] += nbytes[k]
            k = following[k]
        oldest[c] = k
        if checked[i] and total[c] - acked[c] > window:
            return True
    return False


# ------------------------------------------------------------------------------------ sources


class _Stream:
    """One stream of one machine instance: its releases and payload sizes, drawn in chunks with
    the operations of :class:`sim.models.traffic.StreamSource`, from the same generators."""

    __slots__ = (
        "conn",
        "every",
        "gaps",
        "jitter",
        "mean_gap",
        "nominal",
        "pending",
        "route",
        "sizes",
        "uniform",
    )

    def __init__(
        self,
        scenario: Scenario,
        replication: int,
        client: str,
        name: str,
        stream: object,
        conn: int,
        route: int,
    ) -> None:
        seed = scenario.seed
        rng = component_rng(seed, replication, f"machine:{client}:{name}")
        sizes = component_rng(seed, replication, f"machine:{client}:{name}:payload")
        self.sizes = LawStream(stream.payload, sizes)  # type: ignore[attr-defined]
        self.conn = conn
        self.route = route
        self.every = stream.every  # type: ignore[attr-defined]
        self.jitter = stream.jitter  # type: ignore[attr-defined]
        if self.every is not None:
            self.uniform = LawStream.blocks(rng.random)
            u = self.uniform.take(2)
            self.nominal = self.every * float(u[0])
            self.pending = self.nominal + self.jitter * float(u[1])
        else:
            self.mean_gap = 1.0 / stream.poisson  # type: ignore[attr-defined]
            self.gaps = LawStream.blocks(rng.standard_exponential)
            self.pending = self.mean_gap * float(self.gaps.take(1)[0])

    def releases(self, end: float) -> np.ndarray:
        """The releases before ``end`` (the first one after stays pending, its draw made)."""
        if self.pending >= end:
            return np.empty(0)
        if self.every is not None:
            return self._periodic(end)
        return self._poisson(end)

    def _periodic(self, end: float) -> np.ndarray:
        every = self.every
        m = int((end - self.nominal) / every) + 2
        nominal = np.cumsum(np.concatenate([[self.nominal], np.full(m, every)]))[1:]
        if self.jitter:
            u = self.uniform.take(m)
            following = nominal + self.jitter * u
        else:
            following = nominal
        j = int(np.searchsorted(following, end))  # increasing, as jitter < every
        if self.jitter:
            self.uniform.untake(u[j + 1 :])
        out = np.concatenate([[self.pending], following[:j]])
        self.nominal = float(nominal[j])
        self.pending = float(following[j])
        return out

    def _poisson(self, end: float) -> np.ndarray:
        parts = [np.asarray([self.pending])]
        now = self.pending
        while True:
            m = int(1.2 * (end - now) / self.mean_gap) + 16
            gaps = self.gaps.take(m)
            following = np.cumsum(np.concatenate([[now], self.mean_gap * gaps]))[1:]
            j = int(np.searchsorted(following, end))
            if j < m:
                self.gaps.untake(gaps[j + 1 :])
                parts.append(following[:j])
                self.pending = float(following[j])
                return np.concatenate(parts)
            parts.append(following)
            now = float(following[-1])


class _Hosts:
    """One end's host stack for every connection, one way (a client sending, a broker receiving,
    ...): a draw sequence per connection, from the generator the event engine's stack uses."""

    def __init__(
        self, scenario: Scenario, replication: int, laws: list, names: list[str], way: str
    ) -> None:
        self.streams = [
            None
            if law is None
            else law.mean
            if is_constant(law)
            else LawStream(law, component_rng(scenario.seed, replication, f"{name}:{way}"))
            for law, name in zip(laws, names, strict=True)
        ]
        self.last = np.zeros(len(laws))
        self.active = any(stream is not None for stream in self.streams)

    def __call__(self, conn: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The times ``times`` (in each connection's order) leave the stack."""
        if not self.active or not times.size:
            return times
        counts = np.bincount(conn, minlength=len(self.streams))
        parts = []
        for c in np.flatnonzero(counts):
            stream = self.streams[c]
            n = int(counts[c])
            if stream is None:
                parts.append(np.zeros(n))
            elif isinstance(stream, float):
                parts.append(np.full(n, stream))
            else:
                parts.append(stream.take(n))
        ptr = np.zeros(len(self.streams) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(counts)
        used = np.zeros(len(self.streams), dtype=np.int64)
        return _host_stack(conn, times, np.concatenate(parts), ptr, used, self.last)


@dataclass
class _Network:
    """A parametric network's two FIFOs and latency draws."""

    per_byte: float
    framing: Framing
    latency: dict[str, LawStream | float]
    free: dict[str, float]


def _payload_bytes(draws: np.ndarray) -> np.ndarray:
    """:func:`sim.models.traffic.payload_bytes` of an array of draws."""
    return np.clip(np.round(draws), 1, MAX_PAYLOAD)


def _publish_bytes(payload: np.ndarray, topic: np.ndarray) -> np.ndarray:
    """MQTT bytes of a QoS 0 PUBLISH (:meth:`MqttConnection._count`)."""
    remaining = 2 + topic + payload
    return remaining + np.where(remaining < 128, 2, np.where(remaining < 16384, 3, 4))


def _wire(
    framing: Framing, payload: np.ndarray, topic: np.ndarray, control: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bytes on the wire and TCP payload bytes of each message: :meth:`Framing.frames` on
    arrays (written again because the scalar one must not need numpy, which ``validate`` does
    without), and the TCP bytes as the parametric link counts them."""
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
    full = segment + per_frame
    last_bytes = last + per_frame
    if framing.overhead is None:
        last_bytes = np.where(last_bytes < framing.min_frame, framing.min_frame, last_bytes)
    wire = (count - 1) * full + last_bytes
    header = framing.header
    tcp = (count - 1) * (full - header) + np.maximum(last_bytes - header, 1.0)
    return wire, tcp


class FastPlant:
    """One replication of a scenario within the fast engine's scope (see the module)."""

    def __init__(self, scenario: Scenario, replication: int = 0, samples: bool = False) -> None:
        reasons = out_of_scope(scenario)
        if reasons:
            raise OutOfScope("; ".join(reasons))
        from sim.engine import make_row
        from sim.metrics import SAMPLE_LIMIT

        sc = self.scenario = scenario
        self.replication = replication
        limit = None if samples else SAMPLE_LIMIT
        seed = scenario.seed
        # networks
        self.networks: dict[str, _Network] = {}
        for name in sorted({m.network for m in sc.machines.values()}):
            cfg = sc.networks[name]
            latency: dict[str, LawStream | float] = {}
            for way in ("up", "down"):
                if is_constant(cfg.latency):
                    latency[way] = cfg.latency.mean
                else:
                    rng = component_rng(seed, replication, f"network:{name}:latency:{way}")
                    latency[way] = LawStream(cfg.latency, rng)
            self.networks[name] = _Network(
                8.0 / cfg.rate if cfg.rate else 0.0,
                Framing(cfg.mtu, cfg.overhead),
                latency,
                {"up": 0.0, "down": 0.0},
            )
        # subscribers' sessions, rows, routes
        session_of = {name: i for i, name in enumerate(sc.subscribers)}
        subs = list(sc.subscribers.values())
        self.pace = np.asarray([s.service_time for s in subs], dtype=float)
        self.limit = np.asarray([sc.brokers[s.broker].max_queued for s in subs], dtype=np.int64)
        self.ring_at = np.concatenate([[0], np.cumsum(self.limit)[:-1]]).astype(np.int64)
        self.ring = np.zeros(max(int(self.limit.sum()), 1))
        self.head = np.zeros(len(subs), dtype=np.int64)
        self.size = np.zeros(len(subs), dtype=np.int64)
        self.session_free = np.zeros(len(subs))
        self.session_last = np.zeros(len(subs))
        self.rows: dict[tuple[str, str, str], Row] = {}
        self.row_list: list[Row] = []
        routes: dict[tuple, int] = {}
        row_index: dict[tuple[str, str, str], int] = {}
        route_sessions: list[list[int]] = []
        route_rows: list[list[int]] = []
        # connections and streams
        self.streams: list[_Stream] = []
        conn_network: list[str] = []
        conn_broker: list[str] = []
        keep_alive: list[float] = []
        topic_bytes: list[list[float]] = []
        stream_route: list[int] = []
        conn_instance: list[int] = []
        client_names: list[str] = []
        client_laws: list = []
        broker_laws: list = []
        for class_name, machine in sc.machines.items():
            for instance in range(machine.count):
                conn = len(conn_network)
                conn_network.append(machine.network)
                conn_broker.append(machine.broker)
                keep_alive.append(machine.client.keep_alive)
                conn_instance.append(instance)
                client = f"{class_name}[{instance}]"
                client_names.append(client)
                client_laws.append(host_law(machine.host))
                broker_laws.append(host_law(sc.brokers[machine.broker].host))
                for stream_name, stream in machine.streams.items():
                    topic = stream.topic.replace("{id}", str(instance))
                    plan = plan_topic(sc, machine.broker, topic)
                    hop = plan.hops.get(machine.broker)
                    subscribers = tuple(hop.subscribers) if hop is not None else ()
                    key = (class_name, stream_name, subscribers)
                    if key not in routes:
                        routes[key] = len(route_sessions)
                        route_sessions.append([session_of[s] for s in subscribers])
                        rows = []
                        for s in plan.subscribers:
                            row_key = (class_name, stream_name, s)
                            if row_key not in self.rows:
                                row = make_row(sc, class_name, stream_name, s, limit)
                                self.rows[row_key] = row
                                row_index[row_key] = len(self.row_list)
                                self.row_list.append(row)
                            rows.append(row_index[row_key])
                        route_rows.append(rows)
                    route = routes[key]
                    self.streams.append(
                        _Stream(sc, replication, client, stream_name, stream, conn, route)
                    )
                    stream_route.append(route)
                    topic_bytes.append(float(len(topic.encode("utf-8"))))
        self.stream_topic = np.asarray(topic_bytes)
        self.stream_conn = np.asarray([s.conn for s in self.streams], dtype=np.int64)
        self.stream_route = np.asarray(stream_route, dtype=np.int64)
        self.route_ptr = np.concatenate([[0], np.cumsum([len(r) for r in route_sessions])]).astype(
            np.int64
        )
        self.route_sessions = np.asarray([s for r in route_sessions for s in r], dtype=np.int64)
        self.route_rows = np.asarray([r for rows in route_rows for r in rows], dtype=np.int64)
        self.route_row_ptr = np.concatenate([[0], np.cumsum([len(r) for r in route_rows])]).astype(
            np.int64
        )
        n = len(conn_network)
        self.conn_network = np.asarray(
            [list(self.networks).index(x) for x in conn_network], dtype=np.int64
        )
        self.conn_broker = np.asarray(
            [list(sc.brokers).index(x) for x in conn_broker], dtype=np.int64
        )
        self.conn_instance = np.asarray(conn_instance, dtype=np.int64)
        self.keep_alive = np.asarray(keep_alive, dtype=float)
        # the host stacks at both ends of each connection, each way (MqttConnection)
        clients = [f"host:{name}:client" for name in client_names]
        at_broker = [f"host:{name}:broker" for name in client_names]
        self.client_send = _Hosts(sc, replication, client_laws, clients, "send")
        self.client_receive = _Hosts(sc, replication, client_laws, clients, "receive")
        self.broker_receive = _Hosts(sc, replication, broker_laws, at_broker, "receive")
        self.broker_send = _Hosts(sc, replication, broker_laws, at_broker, "send")
        self.timer = self.keep_alive.copy()  # each connection's first keep-alive check
        self.received = np.zeros(n)
        self.last_up = np.zeros(n)
        self.tcp_up = np.zeros(n)  # TCP's last release each way
        self.tcp_down = np.zeros(n)
        self.broker_free = np.zeros(len(sc.brokers))
        self.deferred: list[dict[str, np.ndarray]] = []  # at the broker, for the next chunk
        self.sent = {
            name: {"up": [0.0, 0.0, 0.0], "down": [0.0, 0.0, 0.0]} for name in self.networks
        }
        self.awaiting = np.zeros(n, dtype=bool)  # a ping sent, its PINGRESP not yet computed
        self.unacked: dict[str, tuple[np.ndarray, ...]] = {}  # per network, for _window_binds
        self.single = all(len(r) == 1 for r in route_sessions)
        if any(
            len(route_rows[i]) != self.route_ptr[i + 1] - self.route_ptr[i]
            for i in range(len(route_rows))
        ):
            raise OutOfScope("a topic reaches subscribers of another broker")

    # ------------------------------------------------------------------------------ running

    def chunk_length(self) -> float:
        sc = self.scenario
        rate = sum(m.count * s.rate for m in sc.machines.values() for s in m.streams.values())
        length = CHUNK_MESSAGES / rate if rate else sc.duration
        return min(length, 0.5 * float(self.keep_alive.min()), sc.duration)

    def run(self, progress: Progress | None = None) -> None:
        duration = self.scenario.duration
        step = self.chunk_length()
        start = 0.0
        while start < duration:
            end = min(duration, start + step)
            self._chunk(end, last=end >= duration)
            start = end
            if progress is not None:
                progress(start / duration)

    def _chunk(self, end: float, last: bool) -> None:
        warmup = self.scenario.warmup
        # 1. releases and sizes, stream by stream (so connection by connection)
        times, stream, sizes = [], [], []
        for index, source in enumerate(self.streams):
            released = source.releases(end)
            if released.size:
                times.append(released)
                stream.append(np.full(released.size, index, dtype=np.int64))
                sizes.append(source.sizes.take(released.size))
        t = np.concatenate(times) if times else np.empty(0)
        s = np.concatenate(stream) if stream else np.empty(0, dtype=np.int64)
        c = self.stream_conn[s]
        payload = _payload_bytes(np.concatenate(sizes)) if sizes else np.empty(0)
        route = self.stream_route[s]
        topic = self.stream_topic[s]
        self._count_published(route[t >= warmup])
        # 2. keep-alive: each connection's ping in this chunk (NaN: none)
        if (self.awaiting & (self.timer < end)).any():
            raise OutOfScope("a keep-alive check falls before its last PINGRESP is known")
        ptr = np.searchsorted(c, np.arange(self.keep_alive.size + 1))
        ping = _keep_alive(self.timer, self.received, self.last_up, self.keep_alive, end, ptr, t)
        pinging = np.flatnonzero(~np.isnan(ping))
        self.awaiting[pinging] = True
        # every message and ping leaving a connection this chunk, in the order each network's
        # FIFO takes them (send time)
        kind = np.concatenate([np.full(t.size, PUBLISH), np.full(pinging.size, PING)])
        t = np.concatenate([t, ping[pinging]])
        c = np.concatenate([c, pinging])
        payload = np.concatenate([payload, np.full(pinging.size, float(SIZES[PINGREQ]))])
        topic = np.concatenate([topic, np.zeros(pinging.size)])
        route = np.concatenate([route, np.zeros(pinging.size, dtype=np.int64)])
        sent = t  # into the network, after the client's stack
        if self.client_send.active:
            by_time = np.argsort(t, kind="stable")
            sent = np.empty(t.size)
            sent[by_time] = self.client_send(c[by_time], t[by_time])
        network_of = self.conn_network[c]
        parts = []
        for k in range(len(self.networks)):
            mine = np.flatnonzero(network_of == k) if len(self.networks) > 1 else np.arange(t.size)
            parts.append(mine[np.argsort(sent[mine], kind="stable")])
        order = np.concatenate(parts)
        t, sent, c, kind, payload, topic, route = (
            x[order] for x in (t, sent, c, kind, payload, topic, route)
        )
        # 3. up each network: FIFO, latency, TCP in order
        arrival = np.empty(t.size)
        first = 0
        for part, (name, net) in zip(parts, self.networks.items(), strict=True):
            mine = slice(first, first + part.size)
            first += part.size
            control = kind[mine] == PING
            wire, tcp = _wire(net.framing, payload[mine], topic[mine], control)
            lat = self._latency(net, "up", part.size)
            out, net.free["up"] = _port(sent[mine], wire, net.per_byte, net.free["up"], lat)
            released = _in_order(c[mine], out, self.tcp_up)
            self._check_window(c[mine], sent[mine], released, tcp, net, name, end)
            arrival[mine] = self.broker_receive(c[mine], released)
            counts = self.sent[name]["up"]
            pings = int(np.count_nonzero(control))
            counts[0] += float(part.size - pings)
            counts[1] += float(pings)
            publish_bytes = _publish_bytes(payload[mine], topic[mine])
            counts[2] += float(np.where(control, payload[mine], publish_bytes).sum())
        # 4. each broker, in time order (ties: in send order), with what waited from before
        items = {
            "t": arrival,
            "c": c,
            "kind": kind,
            "payload": payload,
            "route": route,
            "published": t,
        }
        for held in self.deferred:
            items = {key: np.concatenate([held[key], items[key]]) for key in items}
        self.deferred = []
        brokers = len(self.scenario.brokers)
        for b, broker in enumerate(self.scenario.brokers.values()):
            mine = (
                np.flatnonzero(self.conn_broker[items["c"]] == b)
                if brokers > 1
                else np.arange(items["t"].size)
            )
            mine = mine[np.argsort(items["t"][mine], kind="stable")]
            if not last:
                cut = int(np.searchsorted(items["t"][mine], end))
                self.deferred.append({key: value[mine[cut:]] for key, value in items.items()})
                mine = mine[:cut]
            got = {key: value[mine] for key, value in items.items()}
            item, session, at, answered, self.broker_free[b] = _broker(
                got["t"],
                got["kind"],
                got["payload"],
                got["route"],
                self.route_ptr,
                self.route_sessions,
                broker.service_time,
                broker.per_byte_time,
                broker.fanout_time,
                self.broker_free[b],
            )
            self._pingresp(got, answered, end)
            # 5. the sessions: deliveries and drops, into the rows' tallies
            start = _sessions(
                session,
                at,
                self.pace,
                self.limit,
                self.session_free,
                self.session_last,
                self.ring,
                self.ring_at,
                self.head,
                self.size,
            )
            self._tally(got, item, at, start)

    def _latency(self, net: _Network, way: str, n: int) -> np.ndarray:
        law = net.latency[way]
        return np.full(n, law) if isinstance(law, float) else law.take(n)

    def _count_published(self, routes: np.ndarray) -> None:
        counts = np.bincount(routes, minlength=self.route_row_ptr.size - 1)
        for r in np.flatnonzero(counts):
            for k in range(self.route_row_ptr[r], self.route_row_ptr[r + 1]):
                self.row_list[self.route_rows[k]].published += int(counts[r])

    def _pingresp(self, got: dict[str, np.ndarray], answered: np.ndarray, end: float) -> None:
        """The PINGRESPs the broker sent, down each network to their clients: the client's
        receipt moves its keep-alive clock (:meth:`MqttConnection.from_broker`)."""
        pings = np.flatnonzero(got["kind"] == PING)
        if not pings.size:
            return
        conns = got["c"][pings]
        when = answered[pings]
        # the broker sends each one as it takes the PINGREQ (before the end: counted)
        before = got["t"][pings] < self.scenario.duration
        network_of = self.conn_network[conns]
        for k, (name, net) in enumerate(self.networks.items()):
            mine = np.flatnonzero(network_of == k)
            if not mine.size:
                continue
            leaving = self.broker_send(conns[mine], when[mine])  # (mine: in the broker's order)
            by_time = np.argsort(leaving, kind="stable")
            mine, leaving = mine[by_time], leaving[by_time]
            size = np.full(mine.size, float(SIZES[PINGRESP]))
            wire, _ = _wire(net.framing, size, np.zeros(mine.size), np.ones(mine.size, dtype=bool))
            lat = self._latency(net, "down", mine.size)
            out, net.free["down"] = _port(leaving, wire, net.per_byte, net.free["down"], lat)
            receipt = self.client_receive(conns[mine], _in_order(conns[mine], out, self.tcp_down))
            sent = self.sent[name]["down"]
            sent[1] += float(np.count_nonzero(before[mine]))
            sent[2] += float(size[before[mine]].sum())
            late = receipt > self.timer[conns[mine]]
            if late.any():
                raise OutOfScope("a PINGRESP arrives after the client's next keep-alive check")
            np.maximum.at(self.received, conns[mine], receipt)
            self.awaiting[conns[mine]] = False

    def _check_window(
        self, conn, sent, released, tcp, net: _Network, name: str, end: float
    ) -> None:
        """Stop (:class:`OutOfScope`) where the TCP window would bind: the fast engine sends
        every message at once, which is exact only while the window has room. What is not yet
        acknowledged at the chunk's end is carried into the next chunk's check."""
        reverse = self.scenario.networks[name].latency.mean
        carried = self.unacked.get(name)
        checked = np.ones(sent.size, dtype=bool)
        if carried is not None:
            conn = np.concatenate([carried[0], conn])
            sent = np.concatenate([carried[1], sent])
            released = np.concatenate([carried[2], released])
            tcp = np.concatenate([carried[3], tcp])
            checked = np.concatenate([np.zeros(carried[0].size, dtype=bool), checked])
        window = self.scenario.tcp.window
        connections = self.keep_alive.size
        if _window_binds(conn, sent, released, tcp, checked, reverse, window, connections):
            raise OutOfScope(f"the TCP window would bind on network {name}")
        waiting = released + reverse > end
        self.unacked[name] = (conn[waiting], sent[waiting], released[waiting], tcp[waiting])

    def _tally(self, got, item, at, start) -> None:
        """Each copy into its row's tally: delivered at its session's start, or dropped."""
        published = got["published"][item]
        payload = got["payload"][item]
        instance = self.conn_instance[got["c"][item]]
        route = got["route"][item]
        if self.single:  # every route reaches one session: its row is the route's
            row_of = self.route_rows[self.route_row_ptr[route]]
        else:
            first = np.ones(item.size, dtype=bool)
            first[1:] = item[1:] != item[:-1]
            group = np.cumsum(first) - 1
            offset = np.arange(item.size) - np.flatnonzero(first)[group]
            row_of = self.route_rows[self.route_row_ptr[route] + offset]
        dropped = np.isnan(start)
        anything_dropped = bool(dropped.any())
        if len(self.row_list) == 1 and not anything_dropped:
            self.row_list[0].tally.deliver(published, start, payload, instance)
            return
        for r, row in enumerate(self.row_list):
            mine = row_of == r if len(self.row_list) > 1 else np.ones(item.size, dtype=bool)
            kept = mine & ~dropped if anything_dropped else mine
            row.tally.deliver(published[kept], start[kept], payload[kept], instance[kept])
            if anything_dropped:
                lost = mine & dropped
                row.tally.drop(published[lost], at[lost])

    # ------------------------------------------------------------------------------ results

    def records(self) -> list[ReplicationRow]:
        return [replication_row(row, []) for _, row in sorted(self.rows.items())]

    def traffic(self) -> dict[str, dict[str, list[float]]]:
        return dict(sorted(self.sent.items()))
