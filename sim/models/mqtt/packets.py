"""The MQTT packets that travel besides a message's first PUBLISH, and the state of a QoS exchange.

MQTT 3.1.1 section 4.3: a QoS 1 PUBLISH is answered by PUBACK; a QoS 2 PUBLISH by PUBREC, which the
sender answers with PUBREL, which the receiver answers with PUBCOMP. Each of them is 4 bytes (fixed
header 2, packet identifier 2); PINGREQ and PINGRESP are 2 bytes; CONNACK 4; CONNECT 12 bytes plus the
client identifier (section 3.1). A new TCP connection first exchanges SYN and SYN-ACK, segments without
payload.

On the networks these are packets like any other: they take their frames, wait in the same queues,
are lost and resent like the PUBLISHes (a :class:`Control` carries a stand-in message whose
``topic`` is None and whose ``payload`` is the whole MQTT packet, which the framing understands).
They carry no metric rows: a lost or late PUBACK delays a message's completion, never its delivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.models.message import Packet

if TYPE_CHECKING:
    from sim.metrics.collector import Row
    from sim.models.message import Message
    from sim.models.mqtt.outbox import Outbox

PUBACK, PUBREC, PUBREL, PUBCOMP, PINGREQ, PINGRESP, SYN, SYNACK, CONNECT, CONNACK = range(10)
# the TLS handshake's flights between SYN-ACK and CONNECT (RFC 5246 7.3, RFC 8446 2): the client's
# hello; the server's hello with its certificate (and, in TLS 1.3, its Finished); in TLS 1.2 the
# client's key exchange and Finished, and the server's Finished (TLS 1.3's client Finished goes
# with CONNECT)
TLS_CLIENT_HELLO, TLS_SERVER_HELLO, TLS_CLIENT_FINISHED, TLS_SERVER_FINISHED = range(10, 14)
NAMES = (
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "PINGREQ",
    "PINGRESP",
    "SYN",
    "SYN-ACK",
    "CONNECT",
    "CONNACK",
    "TLS ClientHello",
    "TLS ServerHello",
    "TLS client Finished",
    "TLS server Finished",
)
# bytes of MQTT (CONNECT: plus the client identifier); of the TLS flights, typical sizes with one
# ECDSA P-256 certificate of about 500 B (the development CA's): ClientHello with an x25519 key
# share about 250 B; the server's flight about 1,000 B; TLS 1.2's ClientKeyExchange,
# ChangeCipherSpec and Finished about 130 B, the server's ChangeCipherSpec and Finished 50 B
SIZES = (4, 4, 4, 4, 2, 2, 0, 0, 12, 4, 250, 1000, 130, 50)

# The MQTT packets a TLS connection carries in records of their own (the TCP handshake's segments
# are not; the handshake's flights have their records in their sizes above)
SEALED = frozenset({PUBACK, PUBREC, PUBREL, PUBCOMP, PINGREQ, PINGRESP, CONNECT, CONNACK})
# What a TLS record adds to the packet it carries: a 5 B header, and with AES-128-GCM in TLS 1.2 an
# 8 B explicit nonce and a 16 B tag (RFC 5288 3, RFC 5246 6.2.3.3); in TLS 1.3 a 16 B tag and the
# 1 B inner content type (RFC 8446 5.2)
RECORD_OVERHEAD = {"1.2": 29.0, "1.3": 22.0}

# Where a QoS 1/2 message's copy is, for the conservation count: on a network (found there), held by
# one end of the connection (queued, stored awaiting PUBREL, or lost with the connection and waiting
# to be sent again), or done (released to the subscribers, or dropped).
WIRE, HELD, DONE = range(3)


class ControlMessage:
    """What a network model reads of a control packet: its size, and the priority it travels at."""

    __slots__ = ("instance", "payload", "priority", "qos", "stream", "t_pub", "topic")

    def __init__(self, size: float, priority: int) -> None:
        self.payload = size
        self.topic = None
        self.qos = 0
        self.priority = priority
        self.stream = None
        self.instance = 0
        self.t_pub = 0.0


_MESSAGES: dict[tuple[int, int], ControlMessage] = {}


def control_message(kind: int, priority: int = 0, extra: int = 0) -> ControlMessage:
    """The (shared) stand-in message of a control packet of ``kind`` at ``priority``."""
    key = (kind * 8 + priority, extra)
    msg = _MESSAGES.get(key)
    if msg is None:
        msg = _MESSAGES[key] = ControlMessage(SIZES[kind] + extra, priority)
    return msg


class Control(Packet):
    """An MQTT control packet (or a TCP handshake segment) about ``ref``: the :class:`Publish` it
    acknowledges or releases, or the connection it keeps alive or opens (``tag``: which attempt)."""

    __slots__ = ("kind", "ref", "tag")

    def __init__(self, kind: int, ref: object, priority: int = 0, tag: int = 0) -> None:
        self.msg = control_message(kind, priority)  # type: ignore[assignment]
        self.rows = ()
        self.topic = None  # type: ignore[assignment]  # (the framing's mark of a control packet)
        self.qos = 0
        self.record = 0.0
        self.kind = kind
        self.ref = ref
        self.tag = tag

    def __repr__(self) -> str:
        return f"Control({NAMES[self.kind]})"


class Publish(Packet):
    """A PUBLISH at QoS 1 or 2 on one leg (client to broker, or broker to client) and the state of
    its exchange: the sender's :class:`~sim.models.mqtt.outbox.Outbox` keeps it until the last
    acknowledgement; the receiver marks it ``released`` once it has passed the message on, so that a
    copy sent again after a reconnection is recognised as a duplicate."""

    __slots__ = ("outbox", "rec", "released", "resent", "state")

    def __init__(
        self,
        msg: Message,
        rows: tuple[Row, ...],
        qos: int,
        outbox: Outbox,
        topic: str | None = None,
    ) -> None:
        self.msg = msg
        self.rows = rows
        self.qos = qos
        self.topic = msg.topic if topic is None else topic
        self.record = 0.0
        self.outbox = outbox
        self.state = HELD
        self.released = False
        self.rec = False  # the sender has the PUBREC: it now sends PUBREL, not the PUBLISH
        self.resent = False

    def __repr__(self) -> str:
        return f"Publish(qos={self.qos}, {self.msg.topic}, t_pub={self.msg.t_pub:.6f})"


class Retained(Packet):
    """A retained message sent to a client that (re)subscribed: not a new copy of the message, so it
    counts in its rows' ``retained`` and never as published or delivered."""

    __slots__ = ("for_rows",)

    def __init__(self, msg: Message, rows: tuple[Row, ...], topic: str) -> None:
        self.msg = msg
        self.rows = ()
        self.topic = topic
        self.qos = 0
        self.record = 0.0
        self.for_rows = rows
