"""The engine: builds the SimPy plant of a scenario, runs its replications, checks conservation.

The engine owns time and randomness. Each component (a machine's stream, a network, a background
traffic source) gets its own generator seeded from the scenario seed, the replication number and the
component's name (:func:`sim.models.draws.component_rng`), so the same scenario and seed give the same
numbers, byte for byte.

After each replication the engine checks, for every metric row, that every copy published inside the
measurement window is accounted for: delivered, dropped, or in flight at the end. In flight is counted
from what the plant still holds (arrival events not yet fired) and from deliveries and drops that fall
after the end, not by subtraction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpy

from sim.metrics import SAMPLE_LIMIT
from sim.metrics.collector import FLUSH, Completion, Row
from sim.metrics.summary import (
    ATTACK_PREFIX,
    ReplicationRow,
    network_traffic,
    replication_row,
    summarize,
)
from sim.models.attacks import AttackPublisher, Throttle
from sim.models.attacks import ConnectionStorm as StormSource
from sim.models.draws import Draws, component_rng
from sim.models.events import Offer, ordered_entry, pending_arrivals
from sim.models.laws import Sampler, sampler
from sim.models.links import build_link
from sim.models.links.ethernet import Frame
from sim.models.message import Packet
from sim.models.mqtt.broker import Broker, Session
from sim.models.mqtt.client import MachineClient, SubscriberApp, completion_recorder
from sim.models.mqtt.connection import InTransit, MqttConnection
from sim.models.mqtt.outbox import Outbox
from sim.models.mqtt.packets import DONE, Publish
from sim.models.mqtt.routing import Route, TopicPlan, plan_topic
from sim.models.traffic import ReleaseCalendar, StreamSource, payload_bytes
from sim.results import Results
from sim.scenario.hosts import host_law
from sim.scenario.schema import (
    BroadcastStorm,
    Client,
    ConnectionStorm,
    Flood,
    HostDelay,
    Jamming,
    Scenario,
    Spoof,
    attack_traffic,
)

Progress = Callable[[float], None]


class ConservationError(RuntimeError):
    """Some copies of messages were neither delivered, dropped nor in flight: a bug in a model."""


class SimulationError(RuntimeError):
    """A run that failed inside the engine: which component, when, and what went wrong.

    Bad input is refused before a run (:mod:`sim.scenario`); what still fails here is a model's
    fault, said in one line by the command line (``--debug`` shows the traceback, kept as the
    exception's cause).
    """

    def __init__(self, scenario: str, replication: int, at: float, error: BaseException) -> None:
        self.component = _component(error)
        self.at = at
        where = f" in {self.component}" if self.component else ""
        detail = str(error) or type(error).__name__
        super().__init__(
            f"the simulation of {scenario} failed{where} at {at:.6g} s of replication "
            f"{replication + 1}: {type(error).__name__}: {detail}"
        )


def _component(error: BaseException) -> str | None:
    """The innermost model object (one with a ``name``) the failure went through, if any."""
    frame = error.__traceback__
    found: str | None = None
    while frame is not None:
        owner = frame.tb_frame.f_locals.get("self")
        module = type(owner).__module__ if owner is not None else ""
        name = getattr(owner, "name", None)
        if module.startswith("sim.models") and isinstance(name, str):
            found = f"{type(owner).__name__} '{name}'"
        frame = frame.tb_next
    return found


@dataclass(frozen=True)
class StreamInfo:
    """What a message says about where it came from."""

    machine: str
    stream: str


class Plant:
    """The plant of one replication: machines, networks, brokers, bridges and subscribers in SimPy."""

    def __init__(
        self,
        scenario: Scenario,
        replication: int = 0,
        seed: int | None = None,
        samples: bool = False,
    ) -> None:
        self.scenario = scenario
        self.replication = replication
        self.seed = scenario.seed if seed is None else seed
        # exact copies each row keeps: all of them when asked for, else up to the limit
        self.limit = None if samples else SAMPLE_LIMIT
        self.env = simpy.Environment()
        self.rows: dict[tuple[str, str, str], Row] = {}
        self._plans: dict[tuple[str, str], TopicPlan] = {}
        self._build()

    def draws(self, component: str) -> Draws:
        """The random draws of one component of this replication."""
        return Draws(component_rng(self.seed, self.replication, component))

    # ------------------------------------------------------------------------------------ wiring

    def _plan(self, broker: str, topic: str) -> TopicPlan:
        key = (broker, topic)
        if key not in self._plans:
            self._plans[key] = plan_topic(self.scenario, broker, topic)
        return self._plans[key]

    def _build(self) -> None:
        self._count_feeders()
        self._build_networks()
        self.connections: list[MqttConnection] = []
        self.outboxes: list[Outbox] = []
        self.completions: dict[StreamInfo, Completion] = {}
        self._complete = completion_recorder(self._completion)
        self._build_gateway_clients()
        self.sessions: dict[str, Session] = {}
        self._build_subscribers()
        self._build_bridges()
        self.calendars: list[ReleaseCalendar] = []
        self._build_machines()
        self.attackers: list[object] = []
        self._build_attacks()

    def _count_feeders(self) -> None:
        """How many time-ordered senders feed each network direction and each broker."""
        sc = self.scenario
        up: dict[str, int] = dict.fromkeys(sc.networks, 0)
        down: dict[str, int] = dict.fromkeys(sc.networks, 0)
        brokers: dict[str, int] = dict.fromkeys(sc.brokers, 0)
        self.gateways: dict[str, str] = {}  # gateway network -> broker its connection publishes to
        for machine in sc.machines.values():
            up[machine.network] += machine.count
            if sc.networks[machine.network].kind == "gateway":
                self.gateways[machine.network] = machine.broker
            else:
                down[machine.network] += machine.count  # acknowledgements, PINGRESP
                brokers[machine.broker] += machine.count
        for name, broker in self.gateways.items():
            upstream = sc.networks[name].upstream  # type: ignore[union-attr]
            if upstream is not None:
                up[upstream] += 1
                down[upstream] += 1
            brokers[broker] += 1
        for bridge in sc.bridges.values():
            up[bridge.network] += 1
            down[bridge.network] += 1
            brokers[bridge.to] += 1
        for sub in sc.subscribers.values():
            if sub.network is not None:
                down[sub.network] += 1
                up[sub.network] += 1
            if sub.network is not None or sub.qos:
                brokers[sub.broker] += 1  # its acknowledgements, PINGREQ
        for attack in sc.attacks.values():
            if isinstance(attack, Flood | Spoof):
                traffic = attack_traffic(sc, attack)
                up[attack.network] += traffic.devices
                down[attack.network] += traffic.devices
                brokers[traffic.broker] += traffic.devices
            elif isinstance(attack, ConnectionStorm):
                brokers[attack.broker] += 1
        self.up_feeders, self.down_feeders, self.broker_feeders = up, down, brokers

    def _build_networks(self) -> None:
        """The brokers' entries and the network models the scenario uses."""
        sc = self.scenario
        env = self.env
        self.brokers = {name: Broker(name, cfg) for name, cfg in sc.brokers.items()}
        self.broker_entry = {
            name: ordered_entry(env, broker.offer, self.broker_feeders[name])
            for name, broker in self.brokers.items()
        }
        used = {m.network for m in sc.machines.values()} | {b.network for b in sc.bridges.values()}
        used |= {s.network for s in sc.subscribers.values() if s.network is not None}
        used |= {sc.networks[name].upstream for name in self.gateways} - {None}  # type: ignore[union-attr]
        used |= {a.network for a in sc.attacks.values() if isinstance(a, Flood | Spoof)}
        self.links = {
            name: build_link(env, name, cfg, self.draws, sc.tcp)
            for name, cfg in sc.networks.items()
            if name in used
        }
        for attack in sc.attacks.values():
            if isinstance(attack, Jamming | BroadcastStorm) and attack.network in self.links:
                self.links[attack.network].suffer(attack)
        for name in self.gateways:
            upstream = sc.networks[name].upstream  # type: ignore[union-attr]
            self.links[name].bind_upstream(
                self.links[upstream] if upstream else None,
                self.up_feeders[upstream] if upstream else 0,
            )

    def _connection(
        self,
        name: str,
        network: str | None,
        client: Client,
        broker: str,
        host: HostDelay,
        to_client: Offer | None = None,
    ) -> MqttConnection:
        """The MQTT connection of client ``name`` (on a host of ``host``) to ``broker`` across
        ``network`` (None: none)."""
        sc = self.scenario
        outages = getattr(sc.networks[network], "outages", []) if network else []
        conn = MqttConnection(
            self.env,
            name,
            client,
            network=network,
            min_rto=sc.tcp.min_rto,
            outages=outages,
            to_broker=self.broker_entry[broker],
            to_client=to_client,
            client_host=self._host(host, f"host:{name}:client"),
            broker_host=self._host(sc.brokers[broker].host, f"host:{name}:broker"),
            tls=sc.brokers[broker].tls,
        )
        if network is None:
            conn.attach(None, None)
        else:
            link = self.links[network]
            conn.attach(
                link.connect(name, "up", conn.arrive_up, self.up_feeders[network]),
                link.connect(name, "down", conn.arrive_down, self.down_feeders[network]),
            )
        self.connections.append(conn)
        return conn

    def _host(self, host: HostDelay, stream: str) -> tuple[Sampler, Sampler] | None:
        """Draws of a host stack's delay per packet, for what it sends and what it receives,
        each a sequence of its own (None: no host delay)."""
        law = host_law(host)
        if law is None:
            return None
        return (
            sampler(law, self.draws(f"{stream}:send")),
            sampler(law, self.draws(f"{stream}:receive")),
        )

    def _publisher(
        self, key: str, conn: MqttConnection, client: Client, acknowledged: bool
    ) -> MachineClient:
        """A publishing client on ``conn``; with a window when some of its streams use QoS 1/2."""
        outbox = None
        if acknowledged:
            outbox = Outbox(
                self.env, key, client.max_inflight, complete=self._complete, late_for="message"
            )
            outbox.transmit = conn.up
            outbox.reply = conn.down
            conn.client_outbox = outbox
            self.outboxes.append(outbox)
        return MachineClient(conn, outbox)

    def _build_gateway_clients(self) -> None:
        """Each gateway's one MQTT client, publishing for every device behind it."""
        sc = self.scenario
        for name, broker in self.gateways.items():
            behind = [m for m in sc.machines.values() if m.network == name]
            upstream = sc.networks[name].upstream  # type: ignore[union-attr]
            key = f"gateway:{name}"
            client = behind[0].client
            conn = self._connection(key, upstream, client, broker, sc.networks[name].host)  # type: ignore[union-attr]
            acknowledged = any(stream.qos for m in behind for stream in m.streams.values())
            self.links[name].publish = self._publisher(key, conn, client, acknowledged).publish  # type: ignore[attr-defined]

    def _build_subscribers(self) -> None:
        sc = self.scenario
        for name, sub in sc.subscribers.items():
            key = f"subscriber:{name}"
            broker_cfg = sc.brokers[sub.broker]
            if sub.network is None and not sub.qos:
                # beside the broker and unacknowledged: copies are delivered as the session sends
                self.sessions[key] = Session(
                    name, broker_cfg.max_queued, sub.service_time, _deliver
                )
                continue
            app = SubscriberApp(sub.service_time)
            conn = self._connection(key, sub.network, sub.client, sub.broker, sub.host, app.receive)
            outbox = None
            if sub.qos or conn.gated:
                outbox = Outbox(self.env, key, broker_cfg.max_inflight, broker_cfg.max_queued)
                outbox.reply = conn.up
                conn.broker_outbox = outbox
                self.outboxes.append(outbox)
            session = self._session(name, sub.broker, sub.service_time, conn.down, sub.qos, outbox)
            session.clean_session = sub.client.clean_session
            if sub.client.clean_session:
                conn.on_connect = session.resubscribed
            self.sessions[key] = session

    def _build_bridges(self) -> None:
        """A bridge: a session at the broker it reads from, a client of the one it writes to."""
        sc = self.scenario
        for name, bridge in sc.bridges.items():
            key = f"bridge:{name}"
            # the bridge runs in the broker it reads from, on that broker's host
            host = sc.brokers[bridge.from_].host
            conn = self._connection(key, bridge.network, bridge.client, bridge.to, host)
            outbox = None
            if bridge.qos or conn.gated:
                max_queued = sc.brokers[bridge.from_].max_queued
                outbox = Outbox(
                    self.env, key, bridge.client.max_inflight, max_queued, late_for="rows"
                )
                outbox.reply = conn.down
                conn.client_outbox = outbox
                self.outboxes.append(outbox)
            session = self._session(name, bridge.from_, 0.0, conn.up, bridge.qos, outbox)
            session.clean_session = bridge.client.clean_session
            self.sessions[key] = session

    def _session(
        self, name: str, broker: str, pace: float, send: Offer, qos: int, outbox: Outbox | None
    ) -> Session:
        broker_cfg = self.scenario.brokers[broker]
        session = Session(
            name,
            broker_cfg.max_queued,
            pace,
            send,
            qos=qos,
            outbox=outbox,
            queue_qos0=broker_cfg.queue_qos0,
        )
        session.broker = self.brokers[broker]
        return session

    def _build_machines(self) -> None:
        sc = self.scenario
        for class_name, machine in sc.machines.items():
            link = self.links[machine.network]
            behind_gateway = sc.networks[machine.network].kind == "gateway"
            acknowledged = any(stream.qos for stream in machine.streams.values())
            sources: dict[str, list[StreamSource]] = {name: [] for name in machine.streams}
            for instance in range(machine.count):
                client = f"{class_name}[{instance}]"
                if behind_gateway:
                    send = link.connect(
                        client,
                        "up",
                        self.broker_entry[machine.broker],
                        self.up_feeders[machine.network],
                    )
                else:
                    conn = self._connection(
                        client, machine.network, machine.client, machine.broker, machine.host
                    )
                    send = self._publisher(client, conn, machine.client, acknowledged).publish
                    send = self._throttled(send, machine.broker)
                for stream_name, stream in machine.streams.items():
                    info = StreamInfo(class_name, stream_name)
                    topic = stream.topic.replace("{id}", str(instance))
                    plan = self._plan(machine.broker, topic)
                    route = self._route(
                        plan, lambda s, m=class_name, n=stream_name: self._row(m, n, s)
                    )
                    rng = component_rng(
                        self.seed, self.replication, f"machine:{client}:{stream_name}"
                    )
                    sizes = self.draws(f"machine:{client}:{stream_name}:payload")
                    sources[stream_name].append(
                        StreamSource(stream, info, instance, route, send, rng, sc.warmup, sizes)
                    )
            for stream_name, stream in machine.streams.items():
                self.calendars.append(ReleaseCalendar(self.env, sources[stream_name], stream.rate))

    def _completion(self, info: object) -> Completion:
        completion = self.completions.get(info)  # type: ignore[arg-type]
        if completion is None:
            completion = Completion(self.scenario.warmup, self.scenario.duration, self.limit)
            self.completions[info] = completion  # type: ignore[index]
        return completion

    def _row(self, machine: str, stream: str, subscriber: str) -> Row:
        key = (machine, stream, subscriber)
        row = self.rows.get(key)
        if row is None:
            row = make_row(self.scenario, machine, stream, subscriber, self.limit)
            spec = self.scenario.machines[machine].streams[stream]
            if spec.qos:
                row.completion = self._completion(StreamInfo(machine, stream))
            self.rows[key] = row
        return row

    def _throttled(self, send: Offer, broker: str) -> Offer:
        """``send`` held to the broker's per-client rate limit, if it has one (:class:`Throttle`);
        the client's socket buffers a TCP window of messages."""
        cfg = self.scenario.brokers[broker]
        if cfg.messages_rate is None:
            return send
        window = self.scenario.tcp.window
        return Throttle(self.env, send, cfg.messages_rate, cfg.messages_burst, window).publish

    def _build_attacks(self) -> None:
        """The attackers of ``attacks``: publishing devices with their connections, and
        connection storms at the brokers (jamming and broadcast storms act in their networks)."""
        sc = self.scenario
        for name, attack in sc.attacks.items():
            machine = f"{ATTACK_PREFIX}{name}"
            if isinstance(attack, ConnectionStorm):
                row = self._attack_row(machine, "connect", f"broker:{attack.broker}", 1)
                cfg = sc.brokers[attack.broker]
                cost = cfg.connect_time + (cfg.tls_handshake_time if cfg.tls else 0.0)
                self.attackers.append(
                    StormSource(
                        self.env,
                        attack.rate,
                        attack.start,
                        attack.end,
                        cost,
                        cfg.max_conn_rate,
                        Route((row,), {}),
                        self.broker_entry[attack.broker],
                        self.draws(f"attack:{name}"),
                        sc.warmup,
                    )
                )
            elif isinstance(attack, Flood | Spoof):
                self._build_publishing_attack(name, machine, attack)

    def _build_publishing_attack(self, name: str, machine: str, attack: Flood | Spoof) -> None:
        sc = self.scenario
        traffic = attack_traffic(sc, attack)
        broker, devices, stream, rate = traffic.broker, traffic.devices, traffic.label, traffic.rate
        denied = (
            frozenset({self.brokers[broker]})
            if sc.brokers[broker].acl == "own-topics"
            else frozenset()
        )
        client = Client()
        for i, topic in enumerate(traffic.topics):
            key = f"{machine}[{i}]"
            conn = self._connection(key, attack.network, client, broker, attack.host)
            send = self._throttled(self._publisher(key, conn, client, False).publish, broker)
            received = self._attack_row(machine, stream, f"broker:{broker}", devices)
            route = self._route(
                self._plan(broker, topic),
                lambda s: self._attack_row(machine, stream, s, devices),
                received,
                denied,
            )
            first = attack.start + i / (devices * rate)
            self.attackers.append(
                AttackPublisher(
                    self.env,
                    StreamInfo(machine, stream),
                    i,
                    topic,
                    payload_bytes(traffic.payload),
                    rate,
                    first,
                    attack.end,
                    route,
                    send,
                    sc.warmup,
                )
            )

    def _attack_row(self, machine: str, stream: str, subscriber: str, instances: int) -> Row:
        key = (machine, stream, subscriber)
        row = self.rows.get(key)
        if row is None:
            sc = self.scenario
            row = Row(
                machine,
                stream,
                subscriber,
                instances,
                None,
                None,
                None,
                warmup=sc.warmup,
                end=sc.duration,
                limit=self.limit,
            )
            self.rows[key] = row
        return row

    def _route(
        self,
        plan: TopicPlan,
        row: Callable[[str], Row],
        received: Row | None = None,
        denied: frozenset = frozenset(),
    ) -> Route:
        """The route of a topic whose copies for subscriber ``s`` count on ``row(s)``; an
        attacker's also on ``received`` at its broker, where ``denied`` brokers refuse it."""

        def rows_of(subscribers: tuple[str, ...]) -> tuple[Row, ...]:
            return tuple(row(s) for s in subscribers)

        fanout: dict[Broker, list[tuple[Session, tuple[Row, ...], str]]] = {}
        for broker, hop in plan.hops.items():
            here = plan.topics[broker]
            entries = [
                (self.sessions[f"subscriber:{s}"], rows_of((s,)), here) for s in hop.subscribers
            ]
            entries += [
                (
                    self.sessions[f"bridge:{b}"],
                    rows_of(plan.via_bridge[b]),
                    plan.topics[self.scenario.bridges[b].to],
                )
                for b in hop.bridges
            ]
            if entries:
                fanout[self.brokers[broker]] = entries
        rows = rows_of(plan.subscribers)
        if received is not None:
            rows = (received, *rows)
        return Route(rows, fanout, received, denied)

    # ------------------------------------------------------------------------------------ running

    def run(self, progress: Progress | None = None, steps: int = 50) -> None:
        """Run until the scenario's duration; ``progress`` gets the fraction done now and then.

        The run goes in stretches of simulated time; after each, the rows hand what they buffered
        to their tallies (:meth:`Row.flush`), so memory follows the plant, not the duration. A
        stretch starts at ``duration / steps`` and halves or doubles to keep the buffers near
        :data:`~sim.metrics.collector.FLUSH` copies per row.
        """
        duration = self.scenario.duration
        longest = duration / steps
        stretch = longest
        now = 0.0
        collectors = [*self.rows.values(), *self.completions.values()]
        left = [0] * len(collectors)  # what each still buffered after the stretch before
        while now < duration:
            until = min(duration, now + stretch)
            self.env.run(until=until)
            now = until
            busiest = 0  # the most copies one collector recorded in this stretch
            for i, collector in enumerate(collectors):
                buffered = collector.buffered
                if buffered - left[i] > busiest:
                    busiest = buffered - left[i]
                if buffered >= FLUSH:
                    collector.flush(now)
                    buffered = collector.buffered
                left[i] = buffered
            if busiest > 4 * FLUSH:
                stretch = max(stretch / 2.0, longest / 2**20)
            elif busiest < FLUSH // 4:
                stretch = min(2.0 * stretch, longest)
            if progress is not None:
                progress(now / duration)

    def in_flight(self) -> dict[tuple[str, str, str], list[float]]:
        """Publish times of the copies the plant still holds, per row: in pending arrival events
        and in the buffers of the network models."""
        held: dict[tuple[str, str, str], list[float]] = {}
        items: list[object] = list(pending_arrivals(self.env))
        for link in self.links.values():
            items.extend(link.held())
        for conn in self.connections:
            items.extend(conn.held())
        for outbox in self.outboxes:
            items.extend(outbox.held())
        for item in items:
            if isinstance(item, Frame):
                if not item.count:
                    continue  # the message's last frame stands for it
                item = item.packet
            if item.__class__ is InTransit:
                item = item.inner  # type: ignore[attr-defined]
            if not isinstance(item, Packet):
                continue
            if item.__class__ is Publish and (item.released or item.state == DONE):  # type: ignore[attr-defined]
                continue  # a copy sent again though it had got through; or dropped
            for row in item.rows:
                held.setdefault(row.key, []).append(item.msg.t_pub)
        return held

    def traffic(self) -> dict[str, dict[str, list[float]]]:
        """What the MQTT connections sent across each network, each way: ``[PUBLISH packets,
        control packets (acknowledgements, keep-alive, connection set-up), MQTT bytes]``, and
        for a radio a fourth figure, the share of its resources used (:meth:`Link.usage`)."""
        traffic: dict[str, dict[str, list[float]]] = {}
        for conn in self.connections:
            if conn.network is None:
                continue
            ways = traffic.setdefault(conn.network, {"up": [0.0] * 3, "down": [0.0] * 3})
            for way, sent in (("up", conn.sent_up), ("down", conn.sent_down)):
                ways[way] = [a + b for a, b in zip(ways[way], sent, strict=True)]
        for name, link in self.links.items():
            for way, share in link.usage(self.scenario.duration).items():
                traffic.setdefault(name, {"up": [0.0] * 3, "down": [0.0] * 3})[way].append(share)
            counted = link.counters()
            if counted and name in traffic:
                traffic[name]["link"] = counted  # type: ignore[assignment]
        return dict(sorted(traffic.items()))

    def records(self) -> list[ReplicationRow]:
        """What each row saw in this replication; raises :class:`ConservationError` on a lost copy."""
        held = self.in_flight()
        records = []
        for key, row in sorted(self.rows.items()):
            records.append(replication_row(row, held.get(key, [])))
        return conserved(records)

    def close(self) -> None:
        """Drop the pending events, so the plant's reference cycles do not outlive the run."""
        self.env._queue.clear()
        self.calendars.clear()


def conserved(records: list[ReplicationRow]) -> list[ReplicationRow]:
    """``records``, once each is seen to account for every copy published in its window
    (delivered, dropped or in flight); else :class:`ConservationError`."""
    for record in records:
        accounted = record.delivered + record.dropped + record.in_flight
        if accounted != record.published:
            raise ConservationError(
                f"{'/'.join(record.key)}: published {record.published} but delivered "
                f"{record.delivered} + dropped {record.dropped} + in flight {record.in_flight} "
                f"= {accounted}"
            )
    return records


def make_row(
    scenario: Scenario, machine: str, stream: str, subscriber: str, limit: int | None
) -> Row:
    """The metric row of (machine class, stream, subscriber), with its requirement's deadline
    and survival time, keeping at most ``limit`` exact copies (None: all)."""
    cfg = scenario.machines[machine]
    spec = cfg.streams[stream]
    requirement = scenario.subscribers[subscriber].requirement_for(
        machine, stream, spec.requirement
    )
    return Row(
        machine,
        stream,
        subscriber,
        cfg.count,
        requirement.deadline if requirement else None,
        requirement.survival_time if requirement else None,
        spec.every,
        warmup=scenario.warmup,
        end=scenario.duration,
        limit=limit,
    )


def _deliver(packet: Packet, when: float) -> None:
    msg = packet.msg
    for row in packet.rows:
        row.deliver(msg, when)


def replicate(
    scenario: Scenario, replication: int, progress: Progress | None = None, samples: bool = False
) -> tuple[list[ReplicationRow], dict[str, dict[str, list[float]]]]:
    """Build and run one replication: its per-row records (conservation checked) and what its
    MQTT connections sent across each network (:meth:`Plant.traffic`). ``samples``: keep every
    delivered copy exactly, not only up to :data:`~sim.metrics.SAMPLE_LIMIT` per row."""
    from sim.engines import choose

    if choose(scenario)[0] == "fast":
        from sim.fast import FastPlant, OutOfScope

        try:
            fast = FastPlant(scenario, replication, samples)
            fast.run(progress)
            records = conserved(fast.records())
            for record in records:
                record.engine = "fast"
            return records, fast.traffic()
        except OutOfScope as error:
            if scenario.engine == "fast":
                raise SimulationError(scenario.name, replication, 0.0, error) from error
        except (ConservationError, KeyboardInterrupt):
            raise
        except Exception as error:
            raise SimulationError(scenario.name, replication, 0.0, error) from error
    plant: Plant | None = None
    try:
        plant = Plant(scenario, replication, samples=samples)
        plant.run(progress)
        records = plant.records()
        traffic = plant.traffic()
    except (ConservationError, KeyboardInterrupt):
        raise
    except Exception as error:
        at = plant.env.now if plant is not None else 0.0
        raise SimulationError(scenario.name, replication, at, error) from error
    plant.close()
    return records, traffic


def run_replication(
    scenario: Scenario, replication: int, progress: Progress | None = None
) -> list[ReplicationRow]:
    """Build and run one replication; the per-row records after the conservation check."""
    records, _ = replicate(scenario, replication, progress)
    return records


def run_scenario(
    scenario: Scenario,
    progress: Callable[[int, float], None] | None = None,
    keep_samples: bool = True,
    samples: bool = False,
) -> Results:
    """Run every replication of ``scenario`` and summarise them.

    ``progress(replication, fraction)`` is called as the run advances; ``keep_samples``: the
    results hold the exact latencies the rows kept; ``samples``: the rows keep all of them.
    """
    replications = []
    for replication in range(scenario.replications):
        callback: Any = None
        if progress is not None:

            def callback(fraction: float, _r: int = replication) -> None:
                progress(_r, fraction)

        replications.append(replicate(scenario, replication, callback, samples))
    return merge_replications(scenario, replications, keep_samples)


def merge_replications(
    scenario: Scenario,
    replications: list[tuple[list[ReplicationRow], dict[str, dict[str, list[float]]]]],
    keep_samples: bool = True,
) -> Results:
    """The results of ``scenario`` from what its replications gave (:func:`replicate`), in
    replication order: wherever and whenever each ran, the same figures."""
    results = summarize(scenario, [records for records, _ in replications], keep_samples)
    results.networks = network_traffic([traffic for _, traffic in replications], scenario.duration)
    return results
