"""An MQTT broker as one service loop, like Mosquitto's single-threaded event loop.

Each incoming PUBLISH costs ``service_time`` plus ``per_byte_time`` per payload byte (read, parse,
match topic filters); then each copy for a matching subscription costs ``fanout_time`` to queue, and
copies leave one after another. A QoS 1 PUBLISH is answered with PUBACK once it is matched; a QoS 2
PUBLISH is stored and answered with PUBREC, and passed on only when its PUBREL arrives (then PUBCOMP
goes back), as Mosquitto does (``handle__pubrel`` releases the stored message). Control packets cost
the loop nothing but keep their place in it.

Each subscription (a subscriber application, or a bridge that is a client of this broker) has a
:class:`Session`: the client reads its socket at its own pace (its ``service_time``), so copies wait
for it; a QoS 0 copy that finds ``max_queued`` copies waiting is dropped and counted (Mosquitto drops
QoS 0 when the client's outgoing packets reach ``max_queued_messages``). QoS 1/2 copies go through the
session's in-flight window (``max_inflight``), and wait in its queue when the window is full: a slow
network, whose acknowledgements come back late, fills the queue, and beyond ``max_queued`` copies
drop. A message published with ``retain`` is kept, the latest per topic, and sent to a client that
subscribes again (a clean session reconnecting).

Security (docs/models.md, "Attacks and defences"). On a TLS listener each incoming PUBLISH costs
``tls_read_time`` more (its record read and decrypted), each copy sent ``tls_write_time``; the server's
side of a handshake costs ``tls_handshake_time`` when the ClientHello is answered, and each CONNECT
``connect_time`` (the password check). A PUBLISH the broker's defences refuse (``acl: own-topics``
and a client publishing outside its own topics; a payload above ``message_size_limit``) is read and
parsed, then dropped and counted as refused on every row it would have reached, matching nothing;
at QoS 1/2 it is still acknowledged, as Mosquitto does for a denied PUBLISH. An attacker's route
also names the row of its messages reaching this broker (``Route.received``), delivered when the
broker accepts one. A connection-storm attempt (:class:`~sim.models.attacks.Attempt`) occupies the
loop for its cost.

Defaults come from published Mosquitto figures (see :mod:`sim.scenario.schema`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import simpy

from sim.metrics.collector import Row
from sim.models.attacks import Attempt
from sim.models.events import Arrival
from sim.models.message import Message, Packet
from sim.models.mqtt.outbox import Outbox
from sim.models.mqtt.packets import (
    CONNECT,
    DONE,
    HELD,
    PINGREQ,
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    TLS_CLIENT_HELLO,
    Control,
    Publish,
    Retained,
)
from sim.scenario.schema import Broker as BrokerConfig

Send = Callable[[Packet, float], None]


class Session:
    """The broker's side of one subscription: copies wait for the client, at its pace.

    A session with QoS 0 on a connection that cannot fail works ahead of time without events (the
    copies' times are known when they are queued); a session that has a window (QoS 1/2) or a
    connection that can drop is ``timed``: it takes each copy at its time.
    """

    __slots__ = (
        "broker",
        "clean_session",
        "env",
        "free_at",
        "last_start",
        "max_queued",
        "name",
        "outbox",
        "pace",
        "qos",
        "queue_qos0",
        "send",
        "waiting",
    )

    def __init__(
        self,
        name: str,
        max_queued: int,
        pace: float,
        send: Send,
        *,
        qos: int = 0,
        outbox: Outbox | None = None,
        queue_qos0: bool = False,
        clean_session: bool = False,
    ) -> None:
        self.name = name
        self.clean_session = clean_session
        self.max_queued = max_queued
        self.pace = pace
        self.send = send
        self.qos = qos
        self.outbox = outbox  # the window; present when the session is timed
        self.env: simpy.Environment | None = outbox.env if outbox is not None else None
        self.queue_qos0 = queue_qos0
        self.broker: Broker | None = None
        self.free_at = 0.0
        self.last_start = 0.0
        self.waiting: deque[float] = deque()  # when each queued copy will be taken by the client
        if outbox is not None:
            outbox.transmit = self.write

    def enqueue(self, msg: Message, rows: tuple[Row, ...], when: float, topic: str) -> None:
        """A copy of ``msg`` on ``topic`` joins the queue at ``when`` (calls come in time order)."""
        qos = msg.qos if msg.qos < self.qos else self.qos
        outbox = self.outbox
        if outbox is not None:
            if outbox.online and not outbox.queue:
                # Ahead of time is safe while the window has room: acknowledgements due before
                # ``when`` only make more room, and a copy sent into a connection lost meanwhile is
                # caught by the outage like any other.
                if not qos:
                    self.write(Packet(msg, rows, topic, 0), when)
                    return
                if outbox.has_room(self.env.now):  # type: ignore[union-attr]
                    outbox.transmit_now(Publish(msg, rows, qos, outbox, topic), when)
                    return
            packet = Packet(msg, rows, topic, qos)
            env = self.env
            if when > env.now:  # type: ignore[union-attr]
                Arrival(env, when, self._take, packet)  # type: ignore[arg-type]
            else:
                self._take(packet, when)
            return
        self.write(Packet(msg, rows, topic, qos), when)

    def _take(self, packet: Packet, when: float) -> None:
        msg = packet.msg
        outbox: Outbox = self.outbox  # type: ignore[assignment]
        qos = packet.qos
        if not outbox.online and self.clean_session:
            for row in packet.rows:  # no session while the client is away: nothing to keep it in
                row.drop(msg, when)
        elif qos:
            outbox.send(Publish(msg, packet.rows, qos, outbox, packet.topic), when)
        elif outbox.online:
            self.write(packet, when)
        elif self.queue_qos0:
            outbox.send(Publish(msg, packet.rows, 0, outbox, packet.topic), when)
        else:
            for row in packet.rows:
                row.drop(msg, when)

    def write(self, packet: Packet, when: float) -> None:
        """Into the client's socket at ``when``: a message is taken at the client's pace (a QoS 0
        copy is dropped if ``max_queued`` wait already); a control packet keeps its place."""
        if packet.__class__ is Control:
            start = when if when > self.last_start else self.last_start
            self.last_start = start
            self.send(packet, start)
            return
        pace = self.pace
        if pace:
            waiting = self.waiting
            while waiting and waiting[0] <= when:
                waiting.popleft()
            if packet.__class__ is Packet and len(waiting) >= self.max_queued:
                for row in packet.rows:
                    row.drop(packet.msg, when)
                return
            start = when if when > self.free_at else self.free_at
            self.free_at = start + pace
            waiting.append(start)
        else:
            start = when if when > self.last_start else self.last_start
        self.last_start = start
        self.send(packet, start)

    def resubscribed(self, when: float) -> None:
        """The client subscribed again (a clean session reconnecting): it gets the retained
        messages of the topics it receives."""
        broker = self.broker
        if broker is None:
            return
        for msg in broker.retained.values():
            for session, rows, topic in msg.route.fanout.get(broker, ()):  # type: ignore[attr-defined]
                if session is self:
                    self.write(Retained(msg, rows, topic), when)


class Broker:
    """One broker: a FIFO service loop, then fan-out to the matching sessions."""

    __slots__ = (
        "config",
        "connect_time",
        "fanout_time",
        "free_at",
        "handshake_time",
        "name",
        "per_byte_time",
        "retained",
        "routes",
        "service_time",
        "size_limit",
    )

    def __init__(self, name: str, config: BrokerConfig) -> None:
        self.name = name
        self.config = config
        self.service_time = config.publish_time
        self.fanout_time = config.copy_time
        self.per_byte_time = config.per_byte_time
        self.connect_time = config.connect_time
        self.handshake_time = config.tls_handshake_time if config.tls else 0.0
        limit = config.message_size_limit
        self.size_limit = float("inf") if limit is None else limit
        self.free_at = 0.0
        self.retained: dict[str, Message] = {}

    def offer(self, packet: Packet, when: float) -> None:
        """A packet arrives at ``when``; calls must come in time order."""
        cls = packet.__class__
        if cls is Packet:  # a QoS 0 PUBLISH: _fanout inlined, for the most common message
            msg = packet.msg
            start = when if when > self.free_at else self.free_at
            done = start + self.service_time + self.per_byte_time * msg.payload
            if (msg.route.guarded or msg.payload > self.size_limit) and self._refused(packet, done):
                return
            if msg.retain:
                self.retained[msg.topic] = msg
            fanout_time = self.fanout_time
            for session, rows, topic in msg.route.fanout.get(self, ()):  # type: ignore[attr-defined]
                done += fanout_time
                session.enqueue(msg, rows, done, topic)
            self.free_at = done
        elif cls is Publish:
            self._publish(packet, when)  # type: ignore[arg-type]
        elif cls is Attempt:
            start = when if when > self.free_at else self.free_at
            self.free_at = start + packet.cost  # type: ignore[attr-defined]
            packet.handled(self.free_at)  # type: ignore[attr-defined]
        else:
            self._control(packet, when)  # type: ignore[arg-type]

    def _refused(self, packet: Packet, done: float) -> bool:
        """Whether the broker's defences refuse ``packet`` (read and parsed by ``done``): then
        it is dropped on its rows and counted, and the loop is free at ``done``. An accepted
        attacker's message is counted as received here."""
        msg = packet.msg
        route = msg.route
        if self in route.denied or msg.payload > self.size_limit:
            for row in packet.rows:
                row.refuse(msg, done)
            self.free_at = done
            return True
        if route.received is not None:
            route.received.deliver(msg, done)
        return False

    def _fanout(self, msg: Message, done: float) -> float:
        if msg.retain:
            self.retained[msg.topic] = msg
        fanout_time = self.fanout_time
        for session, rows, topic in msg.route.fanout.get(self, ()):  # type: ignore[attr-defined]
            done += fanout_time
            session.enqueue(msg, rows, done, topic)
        return done

    def _publish(self, pub: Publish, when: float) -> None:
        """A PUBLISH at QoS 1 or 2 (or a QoS 0 one a session had queued) from a client."""
        msg = pub.msg
        start = when if when > self.free_at else self.free_at
        done = start + self.service_time + self.per_byte_time * msg.payload
        qos = pub.qos
        screened = msg.route.guarded or msg.payload > self.size_limit
        if screened and not pub.released and self._refused(pub, done):
            pub.released = True  # a PUBREL that follows releases nothing
            pub.state = DONE
            if qos:
                pub.outbox.reply(Control(PUBACK if qos == 1 else PUBREC, pub, msg.priority), done)
            return
        if pub.released:  # sent again after a reconnection, though it had got here
            if qos == 1:
                for row in pub.rows:
                    row.duplicates += 1
        elif qos == 2:
            pub.state = HELD  # stored until PUBREL
        else:
            pub.released = True
            pub.state = DONE
            if qos:
                pub.outbox.reply(Control(PUBACK, pub, msg.priority), done)
            self.free_at = self._fanout(msg, done)
            return
        if qos:
            pub.outbox.reply(Control(PUBACK if qos == 1 else PUBREC, pub, msg.priority), done)
        self.free_at = done

    def _control(self, ctrl: Control, when: float) -> None:
        start = when if when > self.free_at else self.free_at
        kind = ctrl.kind
        if kind == PUBREL:
            pub: Publish = ctrl.ref  # type: ignore[assignment]
            done = start
            if not pub.released:
                pub.released = True
                pub.state = DONE
                done = self._fanout(pub.msg, start)
            pub.outbox.reply(Control(PUBCOMP, pub, pub.msg.priority), start)
            self.free_at = done
        elif kind < PINGREQ:  # PUBACK, PUBREC, PUBCOMP: a client answers one of our sessions
            ctrl.ref.outbox.ack(ctrl, start)  # type: ignore[attr-defined]
        else:
            if kind == CONNECT:
                start += self.connect_time
                self.free_at = start
            elif kind == TLS_CLIENT_HELLO:
                start += self.handshake_time
                self.free_at = start
            ctrl.ref.broker_control(ctrl, start)  # type: ignore[attr-defined]


__all__ = ["Broker", "Session"]
