"""The MQTT clients of the plant: a machine's publisher and a subscriber application (paho-mqtt).

A machine's client sends QoS 0 messages straight into its connection (refusing them, counted as
dropped, while the connection is down) and QoS 1/2 messages through its
:class:`~sim.models.mqtt.outbox.Outbox`; the publisher's *completion* of a QoS 1/2 message is the
arrival of its PUBACK or PUBCOMP, which the metrics report beside the delivery latency.

A subscriber application works its messages one at a time (paho's network loop calls
``on_message`` and reads the next packet only when it returns): each takes ``service_time``, and a
message that arrives while the application is busy waits. It answers a QoS 1 PUBLISH with PUBACK once
``on_message`` has returned; a QoS 2 PUBLISH with PUBREC at once, and hands the message to
``on_message`` only when PUBREL arrives (paho's ``_handle_pubrel``), answering PUBCOMP afterwards. A
message counts as delivered when the application starts working on it (for QoS 2, at PUBREL).
(The broker already sends at the client's pace, so this waiting matters when a network bunches
messages together, as TCP does after an outage.)
"""

from __future__ import annotations

from collections.abc import Callable

from sim.metrics.collector import Completion, Row
from sim.models.message import Message, Packet
from sim.models.mqtt.connection import MqttConnection
from sim.models.mqtt.outbox import Outbox
from sim.models.mqtt.packets import DONE, HELD, PUBACK, PUBCOMP, PUBREC, Control, Publish, Retained


class MachineClient:
    """One machine's MQTT client: what its streams publish goes here."""

    __slots__ = ("conn", "outbox")

    def __init__(self, conn: MqttConnection, outbox: Outbox | None) -> None:
        self.conn = conn
        self.outbox = outbox

    def publish(self, packet: Packet, when: float) -> None:
        """A stream publishes ``packet`` at ``when`` (now)."""
        msg = packet.msg
        if msg.qos and self.outbox is not None:
            self.outbox.send(Publish(msg, packet.rows, msg.qos, self.outbox), when)
        elif self.conn.online:
            self.conn.up(packet, when)
        else:
            for row in packet.rows:
                row.drop(msg, when)


def completion_recorder(
    completions: Callable[[object], Completion],
) -> Callable[[Publish, float], None]:
    """An outbox's ``complete`` callback that files each exchange under its stream."""

    def complete(pub: Publish, when: float) -> None:
        completions(pub.msg.stream).record(pub, when)

    return complete


class SubscriberApp:
    """A subscriber application at the end of its connection."""

    __slots__ = ("conn", "free", "service_time")

    def __init__(self, service_time: float) -> None:
        self.service_time = service_time
        self.free = 0.0  # when on_message is free for the next message
        self.conn: MqttConnection | None = None

    def receive(self, packet: Packet, when: float) -> None:
        """The client reads ``packet`` from its socket at ``when`` (calls in time order)."""
        cls = packet.__class__
        if cls is Packet:
            start = when if when > self.free else self.free
            self.free = start + self.service_time
            msg = packet.msg
            for row in packet.rows:
                row.deliver(msg, start)
        elif cls is Publish:
            self._publish(packet, when)  # type: ignore[arg-type]
        elif cls is Retained:
            start = when if when > self.free else self.free
            self.free = start + self.service_time
            for row in packet.for_rows:  # type: ignore[attr-defined]
                row.retained += 1
        else:  # PUBREL
            pub: Publish = packet.ref  # type: ignore[attr-defined]
            start = when if when > self.free else self.free
            if not pub.released:
                _release(pub, start)
                self.free = start + self.service_time
            pub.outbox.reply(Control(PUBCOMP, pub, pub.msg.priority), self.free)

    def _publish(self, pub: Publish, when: float) -> None:
        qos = pub.qos
        start = when if when > self.free else self.free
        if qos == 2:
            if not pub.released:
                pub.state = HELD  # stored until PUBREL
            pub.outbox.reply(Control(PUBREC, pub, pub.msg.priority), start)
            return
        if pub.released:
            if qos:
                for row in pub.rows:
                    row.duplicates += 1
        else:
            _release(pub, start)
            self.free = start + self.service_time
        if qos:
            pub.outbox.reply(Control(PUBACK, pub, pub.msg.priority), self.free)


def _release(pub: Publish, when: float) -> None:
    pub.released = True
    pub.state = DONE
    msg: Message = pub.msg
    rows: tuple[Row, ...] = pub.rows
    for row in rows:
        row.deliver(msg, when, pub.resent)
