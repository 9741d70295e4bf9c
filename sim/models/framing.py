"""How many bytes an MQTT message puts on the wire, and in how many frames.

An MQTT 3.1.1 PUBLISH packet (section 3.3) is a fixed header (1 byte plus a 1-4 byte remaining
length), the topic name (2-byte length plus its UTF-8 bytes), a 2-byte packet identifier when QoS > 0,
and the payload. TCP cuts the packet into segments of at most one MSS (MTU minus 20 B IPv4 and 20 B TCP
headers, RFC 879); each segment travels in one Ethernet frame that costs 38 B more on the wire
(preamble and start delimiter 8 B, header 14 B, FCS 4 B, inter-frame gap 12 B, IEEE 802.3) and is at
least 64 B long before preamble and gap.

Over TLS each MQTT packet is one record, which adds its header, nonce and tag to the TCP payload
(``record``, :data:`sim.models.mqtt.packets.RECORD_OVERHEAD`).

A network may replace all of this by a fixed ``overhead`` per frame (``0B`` turns framing off: the
wire then carries exactly the payload, as queueing-theory checks want).
"""

from __future__ import annotations

import math

IP_TCP_HEADERS = 40.0
ETHERNET_ON_WIRE = 38.0
ETHERNET_MIN_ON_WIRE = 84.0  # 64 B minimum frame + 8 B preamble + 12 B inter-frame gap


def mqtt_publish_size(payload: float, topic: str, qos: int) -> float:
    """Bytes of an MQTT 3.1.1 PUBLISH packet carrying ``payload`` bytes on ``topic``."""
    remaining = 2 + len(topic.encode("utf-8")) + (2 if qos else 0) + payload
    length_bytes = (
        1 if remaining < 128 else 2 if remaining < 16384 else 3 if remaining < 2097152 else 4
    )
    return 1 + length_bytes + remaining


class Framing:
    """Turns a message into frames on one network: ``overhead=None`` is the real stack."""

    __slots__ = ("_known", "link_bytes", "min_frame", "mtu", "overhead", "segment")

    def __init__(
        self,
        mtu: float,
        overhead: float | None,
        link_bytes: float = ETHERNET_ON_WIRE,
        min_frame: float = ETHERNET_MIN_ON_WIRE,
    ) -> None:
        """``link_bytes`` and ``min_frame``: what the link layer adds to each IP packet and its
        smallest frame (Ethernet by default; a radio passes its own L2 headers and 0)."""
        self.mtu = mtu
        self.overhead = overhead
        self.link_bytes = link_bytes
        self.min_frame = min_frame
        self.segment = mtu - IP_TCP_HEADERS if overhead is None else mtu
        self._known: dict[tuple[float, str | None, int, float], tuple[int, float, float]] = {}

    def frames(
        self, payload: float, topic: str | None, qos: int, record: float = 0.0
    ) -> tuple[int, float, float]:
        """``(number of frames, bytes of a full frame, bytes of the last frame)`` on the wire;
        ``record``: the bytes of the TLS record around the MQTT packet (0: plain TCP)."""
        key = (payload, topic, qos, record)
        known = self._known.get(key)
        if known is None:
            known = self._frames(payload, topic, qos, record)
            if len(self._known) < 100_000:
                self._known[key] = known
        return known

    def _frames(
        self, payload: float, topic: str | None, qos: int, record: float
    ) -> tuple[int, float, float]:
        if self.overhead is None:
            # topic None: a control packet, whose ``payload`` is the whole MQTT packet
            data = payload if topic is None else mqtt_publish_size(payload, topic, qos)
            data += record
            per_frame = IP_TCP_HEADERS + self.link_bytes
        else:
            data = payload
            per_frame = self.overhead
        count = max(1, math.ceil(data / self.segment))
        last = data - (count - 1) * self.segment
        full = self.segment + per_frame
        last_bytes = last + per_frame
        if self.overhead is None and last_bytes < self.min_frame:
            last_bytes = self.min_frame
        return count, full, last_bytes

    @property
    def header(self) -> float:
        """Bytes of a frame that are not TCP payload (what a TCP window does not count)."""
        return IP_TCP_HEADERS + self.link_bytes if self.overhead is None else self.overhead

    def wire_bytes(self, payload: float, topic: str, qos: int) -> float:
        """All bytes the message puts on the wire."""
        count, full, last = self.frames(payload, topic, qos)
        return (count - 1) * full + last
