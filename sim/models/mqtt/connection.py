"""One client's MQTT connection to its broker across a network: keep-alive, outages, reconnection.

A machine, a subscriber or a bridge holds one TCP connection to its broker; everything it sends
goes *up* it, everything the broker sends it comes *down* it, each direction through the network
model in order (a later packet never overtakes an earlier one, as TCP guarantees).

**Keep-alive** (MQTT 3.1.1 section 3.1.2.10): a client that has sent nothing, or received nothing,
for ``keep_alive`` sends PINGREQ and the broker answers PINGRESP (paho-mqtt's rule), so an idle
subscriber, or a QoS 0 publisher that never hears from the broker, costs two small packets a
keep-alive.

**Outages** (the network's ``outages:``): a packet whose time on the network overlaps an outage does
not get through. What happens to it depends on whether the connection survives:

- The broker closes a connection it has heard nothing from for 1.5 ``keep_alive`` (the same
  section). Heard last at ``h`` before the outage starts, the connection is lost at
  ``h + 1.5 keep_alive`` if the outage lasts beyond that.
- *Short outage* (over before that): TCP rides it out. The caught packet is resent by TCP's
  retransmission timer, which started at RTO = ``min_rto`` + twice the packet's transit time after it
  left and doubles with each try (RFC 6298, Linux's 120 s ceiling); the first try after the outage gets
  through and arrives one transit later. Packets behind it on the connection wait for it.
- *Long outage*: the connection is lost. QoS 0 messages caught on the network are lost and counted as
  dropped; QoS 1/2 messages stay with their sender (:class:`~sim.models.mqtt.outbox.Outbox`), which
  sends them again once the connection is back. While it is down the client's QoS 0 messages are
  refused (paho-mqtt returns ``MQTT_ERR_NO_CONN``: counted as dropped) and QoS 1/2 are queued; the
  broker drops QoS 0 copies for the client unless ``queue_qos0`` and queues QoS 1/2 up to
  ``max_queued`` (a persistent session) or forgets them (``clean_session``).
- The client tries to reconnect ``reconnect_delay`` after the loss, doubling the wait up to
  ``max_reconnect_delay`` (paho's ``reconnect_delay_set``); the first try that falls outside an outage
  opens a TCP connection (SYN, SYN-ACK), to a broker with ``tls`` runs the TLS handshake (TLS 1.2:
  ClientHello, the server's hello, the client's key exchange and Finished, the server's Finished,
  two round trips, RFC 5246 7.3; TLS 1.3: one, the client's Finished going with CONNECT, RFC 8446 2),
  and sends CONNECT; the broker resumes the session on CONNECT,
  the client on CONNACK, and each side sends again what it had not had acknowledged.

**TLS records.** On a connection to a TLS listener every MQTT packet crossing the network travels
in a record of its own, which adds :data:`~sim.models.mqtt.packets.RECORD_OVERHEAD` bytes (TLS 1.2
with AES-GCM 29 B, TLS 1.3 22 B) to what the network carries (``Packet.record``).

What it omits: the client's own detection (paho closes the socket when a PINGRESP is a keep-alive
late; here the broker's rule decides for both ends, at the same moment); tries that fail during an
outage (each costs only its wait); a network model still carries, and spends capacity on, what is
sent during an outage.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.models.events import Arrival
from sim.models.laws import InOrderDelay
from sim.models.message import Packet
from sim.models.mqtt.outbox import Outbox
from sim.models.mqtt.packets import (
    CONNACK,
    CONNECT,
    DONE,
    HELD,
    PINGREQ,
    PINGRESP,
    PUBREL,
    RECORD_OVERHEAD,
    SEALED,
    SYN,
    SYNACK,
    TLS_CLIENT_FINISHED,
    TLS_CLIENT_HELLO,
    TLS_SERVER_FINISHED,
    TLS_SERVER_HELLO,
    Control,
    Publish,
)
from sim.scenario.schema import Client, Outage

Send = Callable[[Packet, float], None]

TCP_RTO_MAX = 120.0  # Linux's ceiling of the retransmission timeout


class InTransit(Packet):
    """A packet on a network that has outages, stamped with the time it left."""

    __slots__ = ("inner", "sent")

    def __init__(self, inner: Packet, sent: float) -> None:
        self.msg = inner.msg
        self.rows = inner.rows
        self.topic = inner.topic
        self.qos = inner.qos
        self.record = inner.record
        self.inner = inner
        self.sent = sent


PENDING, RIDING, RELEASED, LOST = range(4)


class _Outage:
    __slots__ = ("caught", "end", "lost_at", "phase", "start")

    def __init__(self, outage: Outage) -> None:
        self.start = outage.start
        self.end = outage.end
        self.phase = PENDING
        self.lost_at = 0.0
        # what it caught: (sent up?, packet, when it left, when it would have arrived)
        self.caught: list[tuple[bool, Packet, float, float]] = []


# the broker's answers while the client (re)connects
_OPENING = frozenset((SYNACK, CONNACK, TLS_SERVER_HELLO, TLS_SERVER_FINISHED))


class MqttConnection:
    """A client's TCP connection to its broker across one network (or none: same host)."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        client: Client,
        *,
        network: str | None = None,
        min_rto: float,
        outages: list[Outage],
        to_broker: Send,
        to_client: Send | None = None,
        priority: int = 0,
        client_host: tuple[Callable[[], float], Callable[[], float]] | None = None,
        broker_host: tuple[Callable[[], float], Callable[[], float]] | None = None,
        tls: str | None = None,
    ) -> None:
        self.env = env
        self.tls = tls  # the broker listener's TLS version ("1.2", "1.3"), None: plain TCP
        self.record = RECORD_OVERHEAD[tls] if tls else 0.0  # bytes each record adds
        self.name = name
        self.network = network
        self.keep_alive = client.keep_alive
        self.reconnect_delay = client.reconnect_delay
        self.max_reconnect_delay = client.max_reconnect_delay
        self.clean_session = client.clean_session
        self.min_rto = min_rto
        self.priority = priority
        self.to_broker = to_broker
        self.to_client = to_client  # a subscriber's application, for what is not a control packet
        self.client_outbox: Outbox | None = None  # what the client sends (QoS 1/2 publishes)
        self.broker_outbox: Outbox | None = None  # what the broker sends the client
        self.on_connect: Callable[[float], None] | None = None  # the broker's side, on CONNECT
        self.online = True
        self.attempting = False  # a reconnection try is under way (SYN sent, no CONNACK yet)
        self.generation = 0  # which reconnection attempt is current
        self.last_up = 0.0
        self.last_down = 0.0
        self.heard = 0.0  # when the broker last received something from the client
        self.received = 0.0  # when the client last received something from the broker
        self.arrived_up = 0.0
        self.arrived_down = 0.0
        self.outages = [_Outage(o) for o in outages]
        self.disconnections = 0
        # sent each way: PUBLISH packets, control packets, MQTT bytes (before TCP/IP and link framing)
        self.sent_up = [0.0, 0.0, 0.0]
        self.sent_down = [0.0, 0.0, 0.0]
        self._topic: str | None = None
        self._topic_bytes = 0
        self._up_link: Send | None = None
        self._down_link: Send | None = None
        # the end hosts' stacks, in order each way, each (sending, receiving) with draws of its own:
        # the client sending and receiving, the broker receiving and sending
        self.client_out = InOrderDelay(client_host[0]) if client_host else None
        self.client_in = InOrderDelay(client_host[1]) if client_host else None
        self.broker_in = InOrderDelay(broker_host[1]) if broker_host else None
        self.broker_out = InOrderDelay(broker_host[0]) if broker_host else None

    # --------------------------------------------------------------------------------- wiring

    def attach(self, up_link: Send | None, down_link: Send | None) -> None:
        """The network connections each way (None: the client runs beside the broker, and no
        host stack delays its packets)."""
        self._up_link = up_link
        self._down_link = down_link
        if up_link is None:
            self.client_out = self.client_in = self.broker_in = self.broker_out = None
            return
        for outage in self.outages:
            Arrival(self.env, outage.start, self._outage_begins, outage)
        Arrival(self.env, self.keep_alive, self._keep_alive, None)

    @property
    def gated(self) -> bool:
        return bool(self.outages)

    # ------------------------------------------------------------------------------- sending

    def up(self, packet: Packet, when: float) -> None:
        """The client sends ``packet`` at ``when`` (calls in time order, possibly ahead of it)."""
        if when < self.last_up:
            when = self.last_up
        self.last_up = when
        self._count(self.sent_up, packet)
        link = self._up_link
        if link is None:
            self.to_broker(packet, when)
            return
        if self.record and (packet.__class__ is not Control or packet.kind in SEALED):  # type: ignore[attr-defined]
            packet.record = self.record
        if self.client_out is not None:
            when = self.client_out(when)
        if self.outages:
            link(InTransit(packet, when), when)
        else:
            link(packet, when)

    def down(self, packet: Packet, when: float) -> None:
        """The broker sends ``packet`` to the client at ``when``."""
        if when < self.last_down:
            when = self.last_down
        self.last_down = when
        self._count(self.sent_down, packet)
        link = self._down_link
        if link is None:
            self.from_broker(packet, when)
            return
        if self.record and (packet.__class__ is not Control or packet.kind in SEALED):  # type: ignore[attr-defined]
            packet.record = self.record
        if self.broker_out is not None:
            when = self.broker_out(when)
        if self.outages:
            link(InTransit(packet, when), when)
        else:
            link(packet, when)

    def _count(self, sent: list[float], packet: Packet) -> None:
        if packet.__class__ is Control:
            sent[1] += 1
            sent[2] += packet.msg.payload
            return
        # inlined mqtt_publish_size, the topic's length kept while the topic stays the same
        topic = packet.topic
        if topic is not self._topic:
            self._topic = topic
            self._topic_bytes = len(topic.encode("utf-8"))
        remaining = 2 + self._topic_bytes + (2 if packet.qos else 0) + packet.msg.payload
        sent[0] += 1
        sent[2] += remaining + (2 if remaining < 128 else 3 if remaining < 16384 else 4)

    # ------------------------------------------------------------------------------ arriving

    def arrive_up(self, packet: Packet, when: float) -> None:
        """What the network delivers at the broker's end."""
        if packet.__class__ is InTransit:
            if self._through(True, packet, when):  # type: ignore[arg-type]
                self._pass(True, packet.inner, when)  # type: ignore[attr-defined]
            return
        if self.broker_in is not None:
            when = self.broker_in(when)
        self.heard = when
        self.to_broker(packet, when)

    def arrive_down(self, packet: Packet, when: float) -> None:
        """What the network delivers at the client's end."""
        if packet.__class__ is InTransit:
            if self._through(False, packet, when):  # type: ignore[arg-type]
                self._pass(False, packet.inner, when)  # type: ignore[attr-defined]
            return
        if self.client_in is not None:
            when = self.client_in(when)
        self.from_broker(packet, when)

    def _pass(self, up: bool, packet: Packet, when: float) -> None:
        """A packet of a network with outages arrives at ``when``, after those before it."""
        if up:
            if when < self.arrived_up:
                when = self.arrived_up
            self.arrived_up = when
            if self.broker_in is not None:
                when = self.broker_in(when)
            self.heard = when
            self.to_broker(packet, when)
        else:
            if when < self.arrived_down:
                when = self.arrived_down
            self.arrived_down = when
            if self.client_in is not None:
                when = self.client_in(when)
            self.from_broker(packet, when)

    def from_broker(self, packet: Packet, when: float) -> None:
        """The client receives ``packet``: an acknowledgement for its outbox, the answer to its
        PINGREQ or CONNECT, or something for the application."""
        if when > self.received:
            self.received = when
        if packet.__class__ is not Control:
            self.to_client(packet, when)  # type: ignore[misc]
            return
        kind = packet.kind  # type: ignore[attr-defined]
        if kind < PINGREQ:
            if kind == PUBREL:
                self.to_client(packet, when)  # type: ignore[misc]
            else:
                packet.ref.outbox.ack(packet, when)  # type: ignore[attr-defined]
        elif kind in _OPENING:
            if when > self.env.now:
                Arrival(self.env, when, self.from_broker, packet)
            elif packet.tag == self.generation:  # type: ignore[attr-defined]
                if kind == CONNACK:
                    self._client_connected(when)
                else:
                    self.up(self._control(self._next_flight(kind)), when)

    def broker_control(self, ctrl: Control, when: float) -> None:
        """The broker's side of PINGREQ, SYN and CONNECT (the broker calls this at ``when``)."""
        kind = ctrl.kind
        if kind == PINGREQ:
            self.down(Control(PINGRESP, self, self.priority), when)
        elif kind == SYN:
            self.down(Control(SYNACK, self, self.priority, ctrl.tag), when)
        elif kind == TLS_CLIENT_HELLO:
            self.down(Control(TLS_SERVER_HELLO, self, self.priority, ctrl.tag), when)
        elif kind == TLS_CLIENT_FINISHED:
            self.down(Control(TLS_SERVER_FINISHED, self, self.priority, ctrl.tag), when)
        elif kind == CONNECT:
            if ctrl.tag != self.generation:
                return
            if when > self.env.now:
                Arrival(self.env, when, self.broker_control, ctrl)
                return
            if self.on_connect is not None:
                self.on_connect(when)
            if self.broker_outbox is not None:
                self.broker_outbox.resume(when)
            self.down(Control(CONNACK, self, self.priority, ctrl.tag), when)

    def _next_flight(self, answered: int) -> int:
        """What the client sends on the broker's ``answered`` flight while it (re)connects: after
        SYN-ACK its TLS ClientHello (plain TCP: CONNECT); after the server's hello, TLS 1.2's key
        exchange and Finished, or in TLS 1.3 its Finished with CONNECT; after TLS 1.2's server
        Finished, CONNECT."""
        if answered == SYNACK:
            return TLS_CLIENT_HELLO if self.tls else CONNECT
        if answered == TLS_SERVER_HELLO and self.tls == "1.2":
            return TLS_CLIENT_FINISHED
        return CONNECT

    def _control(self, kind: int) -> Control:
        return Control(kind, self, self.priority, self.generation)

    # ---------------------------------------------------------------------------- keep-alive

    def _keep_alive(self, _item: None, when: float) -> None:
        # paho-mqtt pings when it has sent nothing, or received nothing, for a keep-alive
        quiet = self.last_up if self.last_up < self.received else self.received
        due = quiet + self.keep_alive
        if due <= when:
            # paho restarts both clocks when it pings; before sending, since the PINGRESP may be
            # computed at once (a path without shared stages) and must not be overwritten
            self.received = when
            if self.online:
                self.up(self._control(PINGREQ), when)
            due = when + self.keep_alive
        Arrival(self.env, due, self._keep_alive, None)

    # ------------------------------------------------------------------------------- outages

    def _through(self, up: bool, packet: InTransit, when: float) -> bool:
        """True when ``packet`` gets through; else an outage has it."""
        left = packet.sent
        for outage in self.outages:
            if outage.start <= when and outage.end > left:
                break
        else:
            return True
        if outage.phase == RELEASED:
            self._resend(up, packet.inner, left, when, outage.end)
        elif outage.phase == LOST:
            self._discard(packet.inner, outage.lost_at)
        else:
            outage.caught.append((up, packet.inner, left, when))
        return False

    def _outage_begins(self, outage: _Outage, when: float) -> None:
        if not self.online and not self.attempting:
            # waiting to try again: the outage only decides when the next try can succeed
            outage.phase = LOST
            outage.lost_at = when
            return
        lost_at = self.heard + 1.5 * self.keep_alive
        if lost_at < when:
            lost_at = when
        if not self.online:
            lost_at = when  # reconnecting: the attempt under way fails
        if lost_at >= outage.end:
            outage.phase = RIDING
            Arrival(self.env, outage.end, self._outage_ends, outage)
        else:
            outage.lost_at = lost_at
            Arrival(self.env, lost_at, self._lose, outage)

    def _outage_ends(self, outage: _Outage, _when: float) -> None:
        outage.phase = RELEASED
        for up, packet, left, arrival in outage.caught:
            self._resend(up, packet, left, arrival, outage.end)
        outage.caught.clear()

    def _resend(self, up: bool, packet: Packet, left: float, arrival: float, end: float) -> None:
        """TCP's retransmission timer brings ``packet`` through after the outage ending at ``end``."""
        transit = arrival - left
        rto = self.min_rto + 2.0 * transit
        at = left + rto
        while at < end:
            rto = rto * 2.0 if rto * 2.0 < TCP_RTO_MAX else TCP_RTO_MAX
            at += rto
        self._pass(up, packet, at + transit)

    def _discard(self, packet: Packet, when: float) -> None:
        """``packet`` went down with the connection."""
        cls = packet.__class__
        if cls is Publish:
            if packet.qos and not packet.released:  # type: ignore[attr-defined]
                packet.state = HELD  # type: ignore[attr-defined]  # its sender sends it again
            elif not packet.released:  # type: ignore[attr-defined]
                packet.state = DONE  # type: ignore[attr-defined]
                for row in packet.rows:
                    row.drop(packet.msg, when)  # type: ignore[arg-type]
        elif cls is Packet:
            for row in packet.rows:
                row.drop(packet.msg, when)  # type: ignore[arg-type]

    def _lose(self, outage: _Outage, when: float) -> None:
        outage.phase = LOST
        for _up, packet, _left, _arrival in outage.caught:
            self._discard(packet, when)
        outage.caught.clear()
        if self.online:
            self.disconnections += 1  # (else a reconnection try under way failed)
        self.online = False
        self.attempting = False
        self.generation += 1
        for outbox in (self.client_outbox, self.broker_outbox):
            if outbox is not None:
                outbox.pause()
        if self.clean_session and self.broker_outbox is not None:
            self.broker_outbox.purge(when)
        delay = self.reconnect_delay
        attempt = when + delay
        while any(o.start <= attempt < o.end for o in self.outages):
            delay = min(2.0 * delay, self.max_reconnect_delay)
            attempt += delay
        Arrival(self.env, attempt, self._attempt, self.generation)

    def _attempt(self, generation: int, when: float) -> None:
        if generation == self.generation:
            self.attempting = True
            self.up(self._control(SYN), when)

    def _client_connected(self, when: float) -> None:
        self.online = True
        self.attempting = False
        if self.client_outbox is not None:
            self.client_outbox.resume(when)

    # ------------------------------------------------------------------------------- counting

    def held(self) -> list[Packet]:
        """Packets an outage holds (caught, not yet resent or discarded)."""
        return [packet for outage in self.outages for _, packet, _, _ in outage.caught]
