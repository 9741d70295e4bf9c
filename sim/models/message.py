"""What travels through the plant: a published message, and its copies on their way to subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.metrics.collector import Row
    from sim.models.mqtt.routing import Route


class Message:
    """One MQTT PUBLISH as the machine sent it."""

    __slots__ = (
        "instance",
        "payload",
        "priority",
        "qos",
        "resumed",
        "retain",
        "route",
        "stream",
        "t_pub",
        "topic",
    )

    def __init__(
        self,
        stream: object,
        instance: int,
        topic: str,
        payload: float,
        qos: int,
        t_pub: float,
        route: Route,
        priority: int = 0,
        retain: bool = False,
    ) -> None:
        self.stream = stream
        self.route = route
        self.instance = instance
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.t_pub = t_pub
        self.priority = priority  # the stream's 802.1p priority (PCP 0..7)
        self.retain = retain
        self.resumed = False  # resent on a connection re-established after an outage


class Packet:
    """A copy of a message on one leg of its path (publisher to broker, broker to subscriber...).

    ``rows`` are the metric rows (machine class, stream, subscriber) this copy will reach if it is
    delivered; a drop on this leg is counted against each of them. ``record``: the TLS record's
    bytes around the packet on a connection to a TLS listener (:mod:`sim.models.framing`).
    """

    __slots__ = ("msg", "qos", "record", "rows", "topic")

    def __init__(
        self, msg: Message, rows: tuple[Row, ...], topic: str | None = None, qos: int | None = None
    ) -> None:
        self.msg = msg
        self.rows = rows
        # what this leg carries: a bridge publishes the remapped topic, a copy goes at the lower of
        # the message's and the subscription's QoS (so without a packet identifier at QoS 0)
        self.topic = msg.topic if topic is None else topic
        self.qos = msg.qos if qos is None else qos
        self.record = 0.0  # bytes a TLS record adds to this packet on this leg (none: plain)
