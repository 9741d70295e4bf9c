"""The fast engine's plant: one replication, chunk by chunk (see :mod:`sim.fast`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.engines import OutOfScope, out_of_scope
from sim.fast.kernels import broker_loop, keep_alive, sessions, window_binds
from sim.fast.networks import (
    PING,
    PUBLISH,
    Ethernet,
    Items,
    Parametric,
    in_time_order,
    network,
    publish_bytes,
    take,
)
from sim.fast.sources import Hosts, Stream, payload_bytes
from sim.metrics.collector import Row
from sim.metrics.summary import ReplicationRow, replication_row
from sim.models.mqtt.packets import PINGREQ, PINGRESP, SIZES
from sim.models.mqtt.routing import plan_topic
from sim.scenario.hosts import host_law
from sim.scenario.schema import Scenario

Progress = Callable[[float], None]
CHUNK_MESSAGES = 2_000_000  # messages a chunk aims at (some 300 MB of arrays in hand)


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
        self.streams: list[Stream] = []
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
                        Stream(sc, replication, client, stream_name, stream, conn, route)
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
        self.networks: dict[str, Parametric | Ethernet] = {
            name: network(sc, replication, name, n) for name in sorted(set(conn_network))
        }
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
        self.client_send = Hosts(sc, replication, client_laws, clients, "send")
        self.client_receive = Hosts(sc, replication, client_laws, clients, "receive")
        self.broker_receive = Hosts(sc, replication, broker_laws, at_broker, "receive")
        self.broker_send = Hosts(sc, replication, broker_laws, at_broker, "send")
        self.timer = self.keep_alive.copy()  # each connection's first keep-alive check
        self.received = np.zeros(n)
        self.last_up = np.zeros(n)
        self.broker_free = np.zeros(len(sc.brokers))
        self.deferred: list[Items | None] = [None] * len(
            sc.brokers
        )  # at each broker, for the next chunk
        self.sent = {
            name: {"up": [0.0, 0.0, 0.0], "down": [0.0, 0.0, 0.0]} for name in self.networks
        }
        self.awaiting = np.zeros(n, dtype=bool)  # a ping sent, its PINGRESP not yet computed
        self.unacked: dict[str, tuple[np.ndarray, ...]] = {}  # per network, for window_binds
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
            released = source.releases.until(end)
            if released.size:
                times.append(released)
                stream.append(np.full(released.size, index, dtype=np.int64))
                sizes.append(source.sizes.take(released.size))
        t = np.concatenate(times) if times else np.empty(0)
        s = np.concatenate(stream) if stream else np.empty(0, dtype=np.int64)
        c = self.stream_conn[s]
        payload = payload_bytes(np.concatenate(sizes)) if sizes else np.empty(0)
        route = self.stream_route[s]
        topic = self.stream_topic[s]
        self._count_published(route[t >= warmup])
        # 2. keep-alive: each connection's ping in this chunk (NaN: none)
        if (self.awaiting & (self.timer < end)).any():
            raise OutOfScope("a keep-alive check falls before its last PINGRESP is known")
        ptr = np.searchsorted(c, np.arange(self.keep_alive.size + 1))
        ping = keep_alive(self.timer, self.received, self.last_up, self.keep_alive, end, ptr, t)
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
        # 3. up each network, in each connection's order
        network_of = self.conn_network[c]
        reached = []
        for k, (name, net) in enumerate(self.networks.items()):
            mine = np.flatnonzero(network_of == k) if len(self.networks) > 1 else np.arange(t.size)
            mine = mine[np.argsort(sent[mine], kind="stable")]
            msgs = {
                "sent": sent[mine],
                "c": c[mine],
                "kind": kind[mine],
                "payload": payload[mine],
                "topic": topic[mine],
                "route": route[mine],
                "published": t[mine],
            }
            self._count_up(name, msgs)
            done = net.carry(msgs, "up", end, last)
            self._check_window(done, net, name, end)
            reached.append(
                {
                    "t": self.broker_receive(done["c"], done["released"]),
                    **{key: done[key] for key in ("c", "kind", "payload", "route", "published")},
                }
            )
        items = {key: np.concatenate([r[key] for r in reached]) for key in reached[0]}
        # 4. each broker, in time order (ties: what waited from before, then in send order)
        brokers = len(self.scenario.brokers)
        answers: list[Items] = []
        for b, broker in enumerate(self.scenario.brokers.values()):
            mine = items if brokers == 1 else take(items, self.conn_broker[items["c"]] == b)
            got, self.deferred[b] = in_time_order(self.deferred[b], mine, "t", end, last)
            item, session, at, answered, self.broker_free[b] = broker_loop(
                got["t"],
                got["kind"],
                got["payload"],
                got["route"],
                self.route_ptr,
                self.route_sessions,
                broker.publish_time,
                broker.per_byte_time,
                broker.copy_time,
                self.broker_free[b],
            )
            pings = np.flatnonzero(got["kind"] == PING)
            # the broker sends each PINGRESP as it takes the PINGREQ (before the end: counted)
            answers.append(
                {
                    "c": got["c"][pings],
                    "when": answered[pings],
                    "counted": got["t"][pings] < self.scenario.duration,
                }
            )
            # 5. the sessions: deliveries and drops, into the rows' tallies
            start = sessions(
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
        self._pingresp(
            {key: np.concatenate([a[key] for a in answers]) for key in answers[0]}, end, last
        )

    def _count_up(self, name: str, msgs: Items) -> None:
        """The MQTT packets and bytes the connections send up network ``name`` this chunk."""
        counts = self.sent[name]["up"]
        control = msgs["kind"] == PING
        pings = int(np.count_nonzero(control))
        counts[0] += float(control.size - pings)
        counts[1] += float(pings)
        mqtt = publish_bytes(msgs["payload"], msgs["topic"])
        counts[2] += float(np.where(control, msgs["payload"], mqtt).sum())

    def _count_published(self, routes: np.ndarray) -> None:
        counts = np.bincount(routes, minlength=self.route_row_ptr.size - 1)
        for r in np.flatnonzero(counts):
            for k in range(self.route_row_ptr[r], self.route_row_ptr[r + 1]):
                self.row_list[self.route_rows[k]].published += int(counts[r])

    def _pingresp(self, answers: Items, end: float, last: bool) -> None:
        """The PINGRESPs the brokers sent this chunk (``c``, ``when``, whether ``counted``), down
        each network to their clients, with those held from before: the client's receipt moves
        its keep-alive clock (:meth:`MqttConnection.from_broker`)."""
        network_of = self.conn_network[answers["c"]]
        for k, (name, net) in enumerate(self.networks.items()):
            mine = take(answers, network_of == k)
            held = net.held["down"]
            if not mine["c"].size and (held is None or not held["c"].size):
                continue
            counted = int(np.count_nonzero(mine["counted"]))
            sent = self.sent[name]["down"]
            sent[1] += float(counted)
            sent[2] += float(counted * SIZES[PINGRESP])
            n = mine["c"].size
            msgs = {
                "sent": self.broker_send(mine["c"], mine["when"]),  # (in the brokers' order)
                "c": mine["c"],
                "kind": np.full(n, PING),
                "payload": np.full(n, float(SIZES[PINGRESP])),
                "topic": np.zeros(n),
            }
            done = net.carry(msgs, "down", end, last)
            receipt = self.client_receive(done["c"], done["released"])
            if (receipt > self.timer[done["c"]]).any():
                raise OutOfScope("a PINGRESP arrives after the client's next keep-alive check")
            np.maximum.at(self.received, done["c"], receipt)
            self.awaiting[done["c"]] = False

    def _check_window(self, done: Items, net: Parametric | Ethernet, name: str, end: float) -> None:
        """Stop (:class:`OutOfScope`) where the TCP window would bind: the fast engine sends
        every message at once, which is exact only while the window has room. What is not yet
        acknowledged at the chunk's end is carried into the next chunk's check."""
        reverse = net.reverse
        conn, sent, released, tcp = done["c"], done["start"], done["released"], done["tcp"]
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
        if window_binds(conn, sent, released, tcp, checked, reverse, window, connections):
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
