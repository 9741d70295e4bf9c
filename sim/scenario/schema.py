"""The scenario file: what a plant engineer writes, as strict pydantic models.

Every mapping (``networks``, ``brokers``, ``bridges``, ``machines``, ``subscribers``) is keyed by a
name, so that an upgrade file can ``extends:`` a baseline and say only what changes. Unknown keys are
errors (no silently ignored parameter), and quantities carry units (see :mod:`sim.scenario.units`).
Times, sizes and rates are stored in seconds, bytes and bit/s.

Defaults and their sources:

- Broker ``service_time`` 10 us and ``fanout_time`` 10 us per subscriber copy: Mosquitto, one
  thread, about 50,000 msg/s in and 50,000 out on an i5-2500k (mosquitto issue 2039), i.e. about
  20 us per message carried from one publisher to one subscriber.
- Broker ``per_byte_time`` 1 ns per payload byte: ``factory5g probe`` on Mosquitto 2.0.11 (loopback,
  one subscriber), CPU time per message 8.6-10.4 us at 64 B and 24.8-30.3 us at 16 kB, i.e. 0.95-1.29
  ns/B (about 1 GB/s of payload through the loop; the published figures above are for small messages
  only). The cost is not linear in the size: 2.2-2.5 ns/B between 64 B and 4 kB, 0.72-0.77 ns/B up to
  64 kB.
- Broker ``max_queued`` 1000 per subscriber: Mosquitto's ``max_queued_messages`` (mosquitto.conf(5));
  ``max_inflight`` 20: its ``max_inflight_messages``, and paho-mqtt's client default.
- Client ``keep_alive`` 60 s, ``reconnect_delay`` 1 s doubling to 120 s: paho-mqtt 2.x defaults.
- Ethernet ``switch_latency`` 5 us: industrial store-and-forward switch, GarrettCom S14 manual
  (5 us + frame time at 100 Mbit/s); DETERMINISTIC6G PD-Wired measured 4.4-4.7 us at 1 GbE.
- Framing ``overhead``: Ethernet 38 B on the wire per frame (preamble 8, header 14, FCS 4, inter-frame
  gap 12), IPv4 20 B and TCP 20 B, MSS 1460 B for the 1500 B MTU; the MQTT PUBLISH header (fixed
  header, topic, packet identifier) is added once per message.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.scenario.laws import Law, law_type
from sim.scenario.profiles import LTE_PROFILES, PROFILES, WIFI_PROFILES, prbs_for
from sim.scenario.requirements import PRESETS as REQUIREMENT_PRESETS
from sim.scenario.sweeps import Sweep
from sim.scenario.units import FRACTION, FREQUENCY, RATE, SIZE, TIME, anchored, format_time

# A quantity field: read by the quantity's parser; the Quantity itself marks the field for the
# JSON Schema (sim.scenario.json_schema) and for the loader's messages.
Time = Annotated[float, BeforeValidator(TIME.parse), TIME]
Size = Annotated[float, BeforeValidator(SIZE.parse), SIZE]
Rate = Annotated[float, BeforeValidator(RATE.parse), RATE]
Frequency = Annotated[float, BeforeValidator(FREQUENCY.parse), FREQUENCY]
Fraction = Annotated[float, BeforeValidator(FRACTION.parse), FRACTION]

HOUR, DAY = 3600.0, 86400.0
# MQTT 3.1.1 2.2.3: a packet is at most 268,435,455 bytes, headers and topic included
MAX_PAYLOAD = 250_000_000

TimeLaw = law_type(TIME, HOUR, "a delay beyond an hour is an outage")
HostLaw = law_type(TIME, 1.0, "a host holding a packet for more than a second is down")

# An end host's stack: a class of host (its law in sim.scenario.hosts), a law of its own, or none.
HostDelay = Literal["none", "server", "industrial-pc", "embedded"] | HostLaw
HOST_HELP = (
    "delay each packet takes through the host's stack, each way: server, industrial-pc, embedded "
    "(docs/models.md), a law, or none"
)
SizeLaw = law_type(SIZE, MAX_PAYLOAD, "an MQTT packet is at most 268,435,455 bytes")

QoS = Literal[0, 1, 2]
PER_BYTE_TIME = "1ns"  # per payload byte: see the module docstring

MAX_DURATION = 30 * DAY
MAX_TOPIC_BYTES = 65535  # MQTT 3.1.1 section 1.5.3: a UTF-8 string of at most 65,535 bytes

# A name of a block (scenario, machine class, network, broker, bridge, subscriber, stream, slice):
# it names a results folder and a row, so it is an identifier: letters, digits, '_' and '-' in
# parts joined by single dots (no '/', no '..', no leading dot), at most 64 characters.
NAME_PATTERN = anchored(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
NAME_RULE = (
    "a name is letters, digits, '-' and '_', in parts joined by single dots, "
    "at most 64 characters (no '/', no '..')"
)

# Why a bound is where it is: said with the bound when a value is refused, and in the JSON
# Schema's description (model, field) -> reason.
LIMITS: dict[tuple[str, str], str] = {
    ("Requirement", "deadline"): "a deadline beyond an hour is no deadline",
    ("Requirement", "survival_time"): "TS 22.104 survival times are milliseconds to seconds",
    ("Stream", "topic"): "MQTT 3.1.1 section 1.5.3: a topic is at most 65,535 bytes",
    ("Stream", "every"): "from 10 us, below the shortest industrial cycle, PROFINET IRT's 31.25 "
    "us, to a day",
    ("Stream", "poisson"): "a million messages a second from one machine is beyond any broker; "
    "Mosquitto carries about 50,000",
    ("Client", "keep_alive"): "MQTT counts it in whole seconds, in two bytes: MQTT 3.1.1 section "
    "3.1.2.10",
    ("Client", "max_inflight"): "MQTT packet identifiers are 16 bits: MQTT 3.1.1 section 2.3.1",
    ("Client", "reconnect_delay"): "from a millisecond to a day",
    ("Client", "max_reconnect_delay"): "from a millisecond to a day",
    ("Machine", "count"): "IMT-2020 plans for a million devices per square kilometre",
    ("Outage", "start"): "a run is at most 30 days",
    ("Outage", "duration"): "a run is at most 30 days",
    ("CrossTraffic", "size"): "an Ethernet frame is 64 to 1522 bytes, 9216 with jumbo frames; "
    "IEEE 802.3",
    ("CrossTraffic", "burst"): "from one frame to a gigabyte",
    ("_Wired", "loss"): "TCP makes no headway where half the frames are lost; a network that "
    "loses more is down: give it outages",
    ("_Wired", "overhead"): "real links add tens of bytes per frame",
    ("_Wired", "mtu"): "IP needs 576 bytes, RFC 791; jumbo frames carry 9216",
    ("ParametricNetwork", "rate"): "from 1 kbit/s to 1.6 Tbit/s, the fastest Ethernet, IEEE "
    "802.3dj",
    ("EthernetNetwork", "hops"): "IEEE 802.1D recommends at most 7 bridges end to end",
    ("EthernetNetwork", "rate"): "Ethernet from 10 Mbit/s to 10 Gbit/s is modelled",
    ("EthernetNetwork", "switch_latency"): "a switch forwards in microseconds; a slower box is a "
    "router or a firewall: make it a parametric network",
    ("BackgroundStations", "count"): "an access point associates at most 2007 stations, the "
    "IEEE 802.11 AID range",
    ("BackgroundStations", "rate"): "802.11be tops out near 46 Gbit/s",
    ("BackgroundStations", "size"): "an 802.11 MSDU is at most 2304 bytes",
    ("WifiNetwork", "phy_rate"): "802.11 rates run from 1 Mbit/s to about 46 Gbit/s, 802.11be",
    ("WifiNetwork", "basic_rate"): "802.11 rates run from 1 Mbit/s to about 46 Gbit/s, 802.11be",
    ("WifiNetwork", "slot_time"): "802.11 slots are 9 or 20 us",
    ("WifiNetwork", "sifs"): "802.11 SIFS is 10 or 16 us",
    ("WifiNetwork", "cw_min"): "802.11 contention windows are at most 2^15 - 1 slots",
    ("WifiNetwork", "cw_max"): "802.11 contention windows are at most 2^15 - 1 slots",
    ("WifiNetwork", "retry_limit"): "dot11LongRetryLimit is at most 255",
    ("WifiNetwork", "frame_error_rate"): "a channel losing more than half its frames is down",
    ("WifiNetwork", "mtu"): "an 802.11 MSDU is at most 2304 bytes, 8 of them LLC/SNAP",
    ("GatewayNetwork", "poll_period"): "fieldbus cycles run from milliseconds to minutes",
    ("Nr5gNetwork", "bandwidth"): "an NR carrier is at most 400 MHz, TS 38.101-2",
    ("Nr5gNetwork", "sr_period"): "TS 38.331 SR periodicities go up to 640 slots",
    ("Tcp", "dupack_threshold"): "Linux's net.ipv4.tcp_max_reordering is 300",
    ("Tcp", "min_rto"): "Linux keeps the timeout between 1 ms and 120 s, TCP_RTO_MAX",
    ("Tcp", "window"): "a window holds at least one segment and at most 2^30 bytes, RFC 7323",
    ("Broker", "max_queued"): "Mosquitto's max_queued_messages; ten million is a full broker",
    ("Broker", "max_inflight"): "MQTT packet identifiers are 16 bits: MQTT 3.1.1 section 2.3.1",
    ("Scenario", "duration"): "the engine is made for runs of up to 30 days of plant time",
    ("Scenario", "seed"): "seeds are 64-bit numbers",
    ("Scenario", "name"): NAME_RULE,
}


def limit_reason(model: type[BaseModel], field: str) -> str | None:
    """Why ``model``'s ``field`` is bounded as it is, if the table says (base classes too)."""
    for owner in model.__mro__:
        reason = LIMITS.get((owner.__name__, field))
        if reason is not None:
            return reason
    return None


class Strict(BaseModel):
    """Base of every scenario block: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        populate_by_name=True,
        validate_default=True,
        regex_engine="python-re",  # the patterns are the JSON Schema's, lookaheads included
    )


# ---------------------------------------------------------------------------------------- traffic


class Requirement(Strict):
    """What the application needs from the stream, in 3GPP TS 22.104 terms, with its targets.

    ``deadline``: the latest acceptable publish-to-delivery latency; ``reliability``: the share of
    messages that must arrive within it; ``survival_time`` and ``availability``: the application
    fails when no on-time message has come for longer than the survival time, and must not be in
    that state for more than ``1 - availability`` of the time; ``max_loss``: the share of messages
    that may be dropped; ``min_throughput``: payload bits per second that must get through. A
    requirement may be written as the name of a preset (:data:`sim.scenario.requirements.PRESETS`).
    """

    written_as: ClassVar[frozenset[str]] = frozenset(REQUIREMENT_PRESETS)

    deadline: Time | None = Field(
        default=None, gt=0, le=HOUR, description="latest acceptable publish-to-delivery latency"
    )
    reliability: Fraction | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="share of messages that must be delivered within the deadline, e.g. 99.99%",
    )
    survival_time: Time | None = Field(
        default=None,
        gt=0,
        le=HOUR,
        description="how long the application tolerates no valid message (TS 22.104)",
    )
    availability: Fraction | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="share of the time the application must not be failed, e.g. 99.9999%",
    )
    max_loss: Fraction | None = Field(
        default=None, ge=0, lt=1, description="share of messages that may be dropped"
    )
    min_throughput: Rate | None = Field(
        default=None, gt=0, le=1e12, description="payload that must get through, e.g. 10Mbps"
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        if isinstance(data, str) and data in REQUIREMENT_PRESETS:
            return dict(REQUIREMENT_PRESETS[data])
        if isinstance(data, str) and data != "none":
            names = ", ".join(sorted(REQUIREMENT_PRESETS))
            raise ValueError(f"unknown requirement preset '{data}' (presets: {names})")
        return data

    @model_validator(mode="after")
    def _targets(self) -> Requirement:
        if self.reliability is not None and self.deadline is None:
            raise ValueError("a reliability target needs the deadline it counts against")
        if self.availability is not None and self.survival_time is None:
            raise ValueError("an availability target needs a survival_time (TS 22.104)")
        if self.survival_time is not None and self.deadline is None:
            raise ValueError("a survival_time counts on-time messages: it needs a deadline")
        if all(getattr(self, name) is None for name in Requirement.model_fields):
            raise ValueError("a requirement needs at least a deadline, max_loss or min_throughput")
        return self


# no wildcards, no NUL (MQTT 3.1.1 4.7.3); {id} the only placeholder
TOPIC_NAME = re.compile(anchored(r"(?:[^+#{}\x00]|\{id\})+"))
PREFIX = re.compile(anchored("[^+#]*"))


class Stream(Strict):
    """One telemetry stream of a machine: periodic (``every``) or Poisson (``poisson``)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["every"]}, {"required": ["poisson"]}]}
    )

    topic: str = Field(
        min_length=1,
        max_length=MAX_TOPIC_BYTES,
        description="MQTT topic; {id} expands to the machine index",
        json_schema_extra={"pattern": TOPIC_NAME.pattern},
    )
    every: Time | None = Field(
        default=None, ge=10e-6, le=DAY, description="period of a periodic stream"
    )
    jitter: Time = Field(
        default=0.0, ge=0, description="each release is late by a uniform draw in [0, jitter]"
    )
    poisson: Frequency | None = Field(
        default=None, gt=0, le=1e6, description="mean rate of a Poisson stream"
    )
    payload: SizeLaw = Field(
        description="payload size: a size or a law (uniform, exponential, normal)"
    )
    qos: QoS = 0
    retain: bool = Field(
        default=False, description="the broker keeps the latest message for new subscriptions"
    )
    priority: int = Field(
        default=0, ge=0, le=7, description="802.1p priority (Ethernet) and scheduling priority"
    )
    requirement: Requirement | None = None

    @field_validator("topic")
    @classmethod
    def _topic_name(cls, topic: str) -> str:
        if TOPIC_NAME.fullmatch(topic):
            if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
                raise ValueError(f"a topic is at most {MAX_TOPIC_BYTES:,} bytes of UTF-8 (MQTT)")
            return topic
        if "\x00" in topic:
            raise ValueError("a topic may not contain a NUL character (MQTT 3.1.1 4.7.3)")
        if "+" in topic or "#" in topic:
            raise ValueError("a topic to publish on may not contain the wildcards '+' or '#'")
        raise ValueError("the only placeholder allowed in a topic is {id}")

    @model_validator(mode="after")
    def _one_arrival_law(self) -> Stream:
        if (self.every is None) == (self.poisson is None):
            raise ValueError(
                "give exactly one of 'every' (periodic) or 'poisson' (random arrivals)"
            )
        if self.every is not None and self.jitter >= self.every:
            raise ValueError("jitter must be shorter than the period 'every'")
        if self.poisson is not None and self.jitter:
            raise ValueError("jitter applies to periodic streams ('every') only")
        return self

    @property
    def rate(self) -> float:
        """Mean messages per second."""
        return self.poisson if self.poisson is not None else 1.0 / self.every  # type: ignore[operator]


class Client(Strict):
    """An MQTT client's connection settings (paho-mqtt 2.x defaults, except the session).

    ``clean_session: false`` (a persistent session: the broker keeps the subscriptions and queues
    QoS 1/2 messages while the client is away) is what industrial clients use; paho's own default is
    a clean session.
    """

    keep_alive: Time = Field(
        default="60s",
        ge=1,
        le=65535,
        description="a client that sent nothing for this long sends PINGREQ; the broker drops a "
        "client it has heard nothing from for 1.5 times this",
    )
    max_inflight: int = Field(
        default=20, ge=1, le=65535, description="QoS 1/2 messages sent and not yet acknowledged"
    )
    reconnect_delay: Time = Field(
        default="1s",
        ge=1e-3,
        le=DAY,
        description="wait before the first reconnection attempt; doubles",
    )
    max_reconnect_delay: Time = Field(
        default="120s", ge=1e-3, le=DAY, description="longest wait between reconnection attempts"
    )
    clean_session: bool = Field(
        default=False, description="true: the broker forgets the session when the client drops"
    )

    @model_validator(mode="after")
    def _delays(self) -> Client:
        if self.max_reconnect_delay < self.reconnect_delay:
            raise ValueError("max_reconnect_delay must not be below reconnect_delay")
        return self


class Machine(Strict):
    """A class of identical machines (``count`` instances), each publishing its streams."""

    count: int = Field(
        default=1, ge=1, le=1_000_000, description="number of machines of this class"
    )
    network: str = Field(description="name of the network the machines are attached to")
    broker: str = Field(description="name of the broker they publish to")
    streams: dict[Name, Stream] = Field(min_length=1)
    client: Client = Field(default_factory=Client, description="each machine's MQTT client")
    host: HostDelay = Field(default="industrial-pc", description=HOST_HELP)

    @model_validator(mode="after")
    def _topics_fit(self) -> Machine:
        last = str(self.count - 1)
        for name, stream in self.streams.items():
            if len(stream.topic.replace("{id}", last).encode("utf-8")) > MAX_TOPIC_BYTES:
                raise ValueError(
                    f"stream {name}: machine {last}'s topic is longer than MQTT's "
                    f"{MAX_TOPIC_BYTES:,} bytes"
                )
        return self


# --------------------------------------------------------------------------------------- networks


class Period(Strict):
    """A stretch of simulated time: from ``start`` for ``duration``."""

    start: Time = Field(ge=0, le=MAX_DURATION, description="when it begins")
    duration: Time = Field(gt=0, le=MAX_DURATION, description="how long it lasts")

    @property
    def end(self) -> float:
        return self.start + self.duration


class Outage(Period):
    """A time during which the network carries nothing (a cable pulled, a cell down, a jammed channel)."""


def _disjoint(outages: list[Outage]) -> list[Outage]:
    ordered = sorted(outages, key=lambda o: o.start)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ValueError(
                f"outages overlap: one starts at {after.start:g} s before the one from "
                f"{before.start:g} s has ended; merge them into one"
            )
    return ordered


Outages = Annotated[list[Outage], AfterValidator(_disjoint)]


class CrossTraffic(Strict):
    """Background frames (office traffic) offered to every shared hop.

    Poisson frames by default; with ``burst`` the frames come in back-to-back bursts of that many
    bytes (file transfers, camera streams), the bursts arriving as a Poisson process of the same load.
    """

    load: Fraction = Field(ge=0, lt=1, description="offered load as a fraction of the link rate")
    size: Size = Field(
        default="1500B", ge=64, le=9216, description="cross-traffic frame size on the wire"
    )
    burst: Size | None = Field(
        default=None,
        ge=64,
        le=1e9,
        description="bytes per burst of back-to-back frames; none: Poisson frames",
    )
    priority: int = Field(default=0, ge=0, le=7, description="802.1p priority of the cross traffic")


class _Wired(Strict):
    """Fields of the networks that carry Ethernet frames: frame loss and framing."""

    loss: Fraction = Field(default=0.0, ge=0, le=0.5, description="probability a frame is lost")
    overhead: Size | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="bytes added per frame; default the real MQTT/TCP/IP/Ethernet framing, 0B off",
    )
    mtu: Size = Field(default="1500B", ge=576, le=9216, description="largest IP packet")
    outages: Outages = Field(default_factory=list, description="times the network is down")


class ParametricNetwork(_Wired):
    """A network given by its measured behaviour: a latency law, a shared capacity and a loss."""

    kind: Literal["parametric"]
    latency: TimeLaw = Field(default=0.0, description="delay added to every message")
    rate: Rate | None = Field(
        default=None, ge=1e3, le=1.6e12, description="capacity shared by all senders"
    )


class EthernetNetwork(_Wired):
    """Switched Ethernet: a machine's own access port, then ``hops - 1`` shared switch hops."""

    kind: Literal["ethernet"]
    hops: int = Field(default=2, ge=1, le=16, description="links from a machine to the broker")
    rate: Rate = Field(default="100Mbps", ge=10e6, le=10e9, description="link rate of every hop")
    switch_latency: Time = Field(
        default="5us", ge=0, le=1e-3, description="per-switch processing delay"
    )
    cross_traffic: CrossTraffic | None = None
    priority_queues: int = Field(
        default=1,
        ge=1,
        le=8,
        description="802.1Q strict-priority queues per port (1: one FIFO for all traffic)",
    )


class BackgroundStations(Strict):
    """Other stations on the same Wi-Fi channel (laptops, scanners, tablets), each sending Poisson frames."""

    count: int = Field(ge=1, le=2007, description="number of stations")
    rate: Rate = Field(gt=0, le=50e9, description="offered load of each station")
    size: Size = Field(default="1500B", ge=1, le=2304, description="frame payload size")


class WifiNetwork(Strict):
    """Industrial Wi-Fi: 802.11 DCF on one shared channel, then the access point's wired backhaul.

    ``profile`` (802.11n, 802.11ac, 802.11ax) fills the PHY rate, preamble and aggregation not given
    (see :data:`sim.scenario.profiles.WIFI_PROFILES`).
    """

    profile_fields: ClassVar[frozenset[str]] = frozenset(WIFI_PROFILES["802.11n"])

    kind: Literal["wifi"]
    profile: Literal["802.11n", "802.11ac", "802.11ax"] = "802.11n"
    phy_rate: Rate = Field(ge=1e6, le=50e9, description="data rate of the frames")
    basic_rate: Rate = Field(
        default="24Mbps", ge=1e6, le=50e9, description="rate of control frames (ACK)"
    )
    slot_time: Time = Field(default="9us", gt=0, le=100e-6, description="aSlotTime")
    sifs: Time = Field(default="16us", gt=0, le=100e-6, description="aSIFSTime")
    phy_header: Time = Field(ge=0, le=1e-3, description="preamble and PHY header of a data frame")
    ack_header: Time = Field(
        default="20us", ge=0, le=1e-3, description="preamble and PHY header of an ACK (legacy OFDM)"
    )
    mac_overhead: Size = Field(
        default="38B", ge=0, le=100, description="MAC header, FCS and LLC/SNAP"
    )
    ack_size: Size = Field(default="14B", gt=0, le=100, description="bytes of an ACK frame")
    aggregation: int = Field(
        ge=1, le=1024, description="MPDUs an A-MPDU carries at most (block ACK window); 1: none"
    )
    max_ampdu: Size = Field(ge=1, le=6_500_631, description="bytes of an A-MPDU at most")
    max_ppdu_time: Time = Field(gt=0, le=10e-3, description="longest transmission (aPPDUMaxTime)")
    block_ack_size: Size = Field(
        default="32B", gt=0, le=200, description="bytes of a compressed block ACK frame"
    )
    cw_min: int = Field(
        default=15, ge=1, le=32767, description="initial contention window (slots - 1)"
    )
    cw_max: int = Field(default=1023, ge=1, le=32767, description="largest contention window")
    retry_limit: int = Field(
        default=7, ge=1, le=255, description="transmissions before the frame is lost"
    )
    frame_error_rate: Fraction = Field(
        default=0.0, ge=0, le=0.5, description="loss of a frame to noise rather than collision"
    )
    ap_queue: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="frames the access point's downlink queue holds (Linux txqueuelen); beyond "
        "it, tail drop",
    )
    background: BackgroundStations | None = None
    latency: TimeLaw = Field(
        default=0.0, description="access point and wired backhaul to the broker"
    )
    mtu: Size = Field(default="1500B", ge=576, le=2296, description="largest IP packet")
    outages: Outages = Field(default_factory=list, description="times the network is down")

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, data: Any) -> Any:
        return with_profile(data, WIFI_PROFILES, "802.11n")

    @model_validator(mode="after")
    def _windows(self) -> WifiNetwork:
        if self.cw_max < self.cw_min:
            raise ValueError("cw_max must not be below cw_min")
        return self


class GatewayNetwork(Strict):
    """Legacy devices behind a fieldbus gateway that polls them and publishes on their behalf."""

    kind: Literal["gateway"]
    protocol: Literal["modbus_tcp", "profibus_dp"] = "modbus_tcp"
    poll_period: Time = Field(
        default="100ms", ge=1e-3, le=HOUR, description="the gateway reads every device once a cycle"
    )
    transaction_time: Time | None = Field(
        default=None,
        ge=0,
        le=1.0,
        description="one device read within a cycle; default by protocol: 2 ms Modbus/TCP, 0.3 ms PROFIBUS DP",
    )
    processing: Time = Field(
        default="1ms", ge=0, le=1.0, description="gateway work before it publishes"
    )
    upstream: str | None = Field(
        default=None, description="network the gateway publishes across; none: next to the broker"
    )
    host: HostDelay = Field(default="industrial-pc", description=HOST_HELP)


def with_profile(
    data: Any, profiles: dict[str, dict[str, Any]], default: str, blocks: tuple[str, ...] = ()
) -> Any:
    """A network block with its profile's values for the fields it does not give (``blocks``:
    fields that are blocks of their own, merged key by key). An unknown profile is left for the
    field's own check to refuse."""
    if not isinstance(data, dict):
        return data
    profile = profiles.get(data.get("profile", default))
    if profile is None:
        return data
    merged = {**profile, **data}
    for block in blocks:
        if isinstance(data.get(block), dict):
            merged[block] = {**profile[block], **data[block]}
    return merged


UplinkAccess = Literal["grant_based", "configured_grant"]

TDD_PATTERN = re.compile(anchored("[Ff][Dd][Dd]|[DSU]*[SU][DSU]*"))
SPECIAL_SLOT = re.compile(anchored("[0-9]+:[0-9]+:[0-9]+"))


class Nr5gNetwork(Strict):
    """A private 5G NR cell: slot-level uplink and downlink, HARQ, and the core to the broker.

    ``profile`` fills every field not given (see :mod:`sim.scenario.profiles`).
    """

    # Every field a profile gives may be left out of a file (the JSON Schema requires none of them).
    profile_fields: ClassVar[frozenset[str]] = frozenset(PROFILES["sa-midband"])

    kind: Literal["nr5g"]
    profile: Literal["sa-midband", "sa-mmwave", "urllc", "private-lte", "nsa-public"] = "sa-midband"
    numerology: int = Field(
        ge=0, le=4, description="mu: 2^mu x 15 kHz subcarriers, 1 ms / 2^mu slots"
    )
    bandwidth: Frequency = Field(gt=0, le=400e6, description="carrier bandwidth, e.g. 100MHz")
    prbs: int | None = Field(
        default=None, ge=1, le=275, description="PRBs; default from bandwidth (TS 38.101)"
    )
    tdd_pattern: str = Field(
        description="slot letters D, S, U (e.g. DDDSU), or FDD",
        json_schema_extra={"pattern": TDD_PATTERN.pattern},
    )
    special_slot: str = Field(
        description="symbols of the S slot, downlink:guard:uplink adding up to 14, e.g. 10:2:2",
        json_schema_extra={"pattern": SPECIAL_SLOT.pattern},
    )
    mini_slot: Literal[2, 4, 7] | None = Field(
        description="uplink transmissions of this many symbols instead of whole slots"
    )
    uplink_access: UplinkAccess = Field(
        description="how UEs get uplink resources; a slice may choose otherwise for its machines"
    )
    sr_period: int = Field(
        ge=1, le=640, description="scheduling-request occasion every this many uplink slots"
    )
    cg_period: Time = Field(
        gt=0,
        le=10.0,
        description="configured-grant period: 2 or 7 symbols or whole slots (TS 38.331)",
    )
    cg_size: Size = Field(
        gt=0, le=1e6, description="radio bytes each UE's configured grant holds per occasion"
    )
    k2: int = Field(ge=0, le=32, description="slots from an uplink grant to its PUSCH")
    gnb_processing: Time = Field(
        ge=0, le=0.1, description="gNB time to act on a request or decode a block"
    )
    ue_processing: Time = Field(
        ge=0, le=0.1, description="UE time to prepare data for a transmission"
    )
    mcs: int = Field(ge=0, le=28, description="MCS index, TS 38.214 Table 5.1.3.1-1")
    layers: int = Field(
        ge=1, le=8, description="downlink MIMO layers (also the uplink's unless uplink_layers)"
    )
    uplink_layers: int = Field(ge=1, le=4, description="uplink MIMO layers")
    overhead: Fraction = Field(
        ge=0,
        lt=1,
        description="downlink share of resources for DMRS, CSI-RS, PDCCH (TS 38.306: 14 % FR1)",
    )
    uplink_overhead: Fraction = Field(
        ge=0, lt=1, description="uplink share for DMRS, PUCCH, SRS (TS 38.306: 8 % FR1)"
    )
    special_slot_data: bool = Field(
        description="PUSCH (mapping type B) and PDSCH in the special slot's symbols, not just SR"
    )
    scheduler: Literal["round_robin", "proportional_fair", "strict_priority"]
    slices: dict[Name, Slice] = Field(default_factory=dict)
    bler: Fraction = Field(
        ge=0,
        lt=1,
        description="downlink transport block error rate per transmission (also the uplink's "
        "unless uplink_bler)",
    )
    uplink_bler: Fraction = Field(ge=0, lt=1, description="uplink transport block error rate")
    retransmission_bler: Fraction = Field(
        ge=0, lt=1, description="probability a HARQ retransmission fails too, after combining"
    )
    harq_rtt: Time = Field(
        ge=0,
        le=0.1,
        description="downlink: least time from a failed block to its retransmission (uplink "
        "retransmissions follow the grant timing)",
    )
    max_transmissions: int = Field(
        ge=1, le=16, description="HARQ transmissions before RLC steps in"
    )
    rlc_retransmission: Time = Field(
        ge=0, le=10.0, description="extra delay when RLC recovers a lost block"
    )
    core_latency: TimeLaw = Field(description="gNB to broker through the UPF")
    equipment: Equipment = Field(
        description="equipment between the UE's radio and the machine, per direction"
    )
    outages: Outages = Field(default_factory=list, description="times the cell is down")

    def uplink_for(self, slice_name: str | None) -> tuple[str, float, float]:
        """``(uplink access, configured-grant period s, grant radio bytes)`` of a UE in slice
        ``slice_name`` (None: in none): the slice's own, or the cell's."""
        piece = self.slices.get(slice_name) if slice_name else None
        if piece is None:
            return self.uplink_access, self.cg_period, self.cg_size
        return (
            piece.uplink_access or self.uplink_access,
            piece.cg_period or self.cg_period,
            piece.cg_size or self.cg_size,
        )

    @property
    def prb_count(self) -> int | None:
        """The carrier's PRBs: given, or from the 3GPP tables (TS 38.101, or TS 36.101 for LTE)."""
        return self.prbs or prbs_for(self.numerology, self.bandwidth, self.profile)

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # a file written when one value served both directions keeps meaning both
        given = dict(data)
        for both, uplink in (
            ("layers", "uplink_layers"),
            ("overhead", "uplink_overhead"),
            ("bler", "uplink_bler"),
        ):
            if both in given and uplink not in given:
                given[uplink] = given[both]
        return with_profile(given, PROFILES, "sa-midband", blocks=("equipment",))

    @field_validator("tdd_pattern")
    @classmethod
    def _pattern(cls, pattern: str) -> str:
        if TDD_PATTERN.fullmatch(pattern):
            return "FDD" if pattern.upper() == "FDD" else pattern
        if re.fullmatch("[DSU]+", pattern):
            raise ValueError("a TDD pattern needs an uplink (U) or special (S) slot")
        raise ValueError("a TDD pattern is a string of D, S and U slots (e.g. DDDSU), or FDD")

    @field_validator("special_slot")
    @classmethod
    def _special(cls, split: str) -> str:
        if not SPECIAL_SLOT.fullmatch(split) or sum(map(int, split.split(":"))) != 14:
            raise ValueError(
                "the special slot is downlink:guard:uplink symbols adding up to 14, e.g. 10:2:2"
            )
        return split

    @model_validator(mode="after")
    def _consistent(self) -> Nr5gNetwork:
        if self.prbs is None and self.prb_count is None:
            raise ValueError(
                f"{'TS 36.101' if self.profile in LTE_PROFILES else 'TS 38.101'} lists no PRB "
                f"count for {self.bandwidth / 1e6:g} MHz at "
                f"{15 << self.numerology} kHz subcarriers (numerology {self.numerology}); "
                "choose another bandwidth or give 'prbs'"
            )
        if self.scheduler != "strict_priority" and any(s.priority for s in self.slices.values()):
            raise ValueError("slice priorities need scheduler: strict_priority")
        up = int(self.special_slot.split(":")[2])
        if (
            self.tdd_pattern != "FDD"
            and "U" not in self.tdd_pattern
            and not (self.mini_slot and up >= self.mini_slot)
        ):
            raise ValueError(
                f"the pattern {self.tdd_pattern} gives the uplink no slot for data (PUSCH): add a U "
                f"slot, or send mini_slot transmissions in the special slot's {up} uplink "
                "symbols (mini_slot no longer than they are)"
            )
        down = int(self.special_slot.split(":")[0])
        if (
            self.tdd_pattern != "FDD"
            and "D" not in self.tdd_pattern
            and not (self.special_slot_data and down)
        ):
            raise ValueError(
                f"the pattern {self.tdd_pattern} gives the downlink no symbols for data (PDSCH): "
                "add a D slot, or special_slot_data with downlink symbols in the special slot"
            )
        problem = cg_period_problem(self.cg_period, self.numerology)
        if problem:
            raise ValueError(f"cg_period: {problem}")
        for name, piece in self.slices.items():
            if piece.cg_period is not None:
                problem = cg_period_problem(piece.cg_period, self.numerology)
                if problem:
                    raise ValueError(f"slices.{name}.cg_period: {problem}")
            access = self.uplink_for(name)[0]
            if access != "configured_grant" and (piece.cg_period or piece.cg_size):
                raise ValueError(
                    f"slices.{name}: cg_period and cg_size belong to a configured grant, and the "
                    f"slice's uplink access is {access}"
                )
        return self


def cg_period_problem(period: float, numerology: int) -> str | None:
    """Why ``period`` cannot be a configured-grant periodicity at ``numerology``, or None.

    TS 38.331 ConfiguredGrantConfig (normal cyclic prefix): 2 or 7 symbols, or a whole number of
    14-symbol slots (``periodicityExt``, Release 16) up to 640 ms.
    """
    slot = 1e-3 / (1 << numerology)
    symbols = period / (slot / 14)
    whole = round(symbols)
    if abs(symbols - whole) <= 1e-6 * max(1.0, symbols) and (
        whole in (2, 7) or (whole % 14 == 0 and 0 < whole // 14 <= 640 << numerology)
    ):
        return None
    return (
        f"a configured-grant period is 2 or 7 symbols or a whole number of slots up to 640 ms "
        f"(TS 38.331 ConfiguredGrantConfig); a slot at {15 << numerology} kHz is "
        f"{format_time(slot)}; got {format_time(period)}"
    )


class Equipment(Strict):
    """What a packet crosses between the UE's modem and the machine, each way, beyond the radio:
    the modem's host interface, an industrial 5G router, a TSN translator (DS-TT). Each draw
    keeps the packets in order."""

    up: TimeLaw = Field(default=0.0, description="from the machine to the UE's radio")
    down: TimeLaw = Field(default=0.0, description="from the UE's radio to the machine")


class Slice(Strict):
    """A group of machine classes with their own uplink access, a reserved share and a priority.

    The access fields left out are the cell's: a slice is how a planner gives the robots' control
    loop a configured grant while the cameras and bulk data stay grant based.
    """

    machines: list[str] = Field(min_length=1, description="machine classes in the slice")
    share: Fraction = Field(
        default=0.0, ge=0, le=1, description="fraction of PRBs reserved for dynamic grants"
    )
    priority: int = Field(
        default=0, ge=0, le=255, description="higher first, with scheduler: strict_priority"
    )
    uplink_access: UplinkAccess | None = Field(
        default=None, description="the slice's uplink access; default the cell's"
    )
    cg_period: Time | None = Field(
        default=None, gt=0, le=10.0, description="the slice's configured-grant period"
    )
    cg_size: Size | None = Field(
        default=None, gt=0, le=1e6, description="radio bytes of the slice's configured grants"
    )


Nr5gNetwork.model_rebuild()

Network = Annotated[
    ParametricNetwork | EthernetNetwork | WifiNetwork | GatewayNetwork | Nr5gNetwork,
    Field(discriminator="kind"),
]

NETWORK_KINDS: tuple[str, ...] = ("parametric", "ethernet", "wifi", "gateway", "nr5g")


class Tcp(Strict):
    """The TCP stack of every endpoint (Linux defaults)."""

    min_rto: Time = Field(
        default="200ms", ge=1e-3, le=120, description="minimum retransmission timeout"
    )
    dupack_threshold: int = Field(
        default=3, ge=1, le=300, description="duplicate ACKs that trigger a fast retransmit"
    )
    # Linux autotunes the receive window up to tcp_rmem's maximum (6 MiB) and advertises about
    # half of it (tcp_adv_win_scale = 1): about 3 MB once a connection has carried some data.
    window: Size = Field(
        default="3MB",
        ge=1460,
        le=2**30,
        description="most unacknowledged bytes a connection has in flight",
    )


# ------------------------------------------------------------------------------------------- MQTT


def _tls_version(value: Any) -> Any:
    """``tls: 1.3`` reads as a number in YAML; it names the version ``"1.3"``."""
    return f"{value:g}" if isinstance(value, float) else value


TlsVersion = Annotated[Literal["1.2", "1.3"], BeforeValidator(_tls_version)]


# The broker's CPU for security, measured on this project's x86 reference machine (docs/models.md,
# "Attacks and defences"): ECDH P-256 57 us + ECDSA P-256 sign 29 us per handshake with the shipped
# EC certificates (openssl speed, OpenSSL 3.0.19); Mosquitto 2.0.11's CPU per 64 B message over TLS
# 1.3 against plain TCP (factory5g probe, three runs each): 11.2 us more per PUBLISH read, 1.2 us
# more per copy written; mosquitto_passwd's PBKDF2-SHA512 with 101 iterations (hashlib): 108 us.
TLS_HANDSHAKE_TIME = "86us"
TLS_READ_TIME = "11.2us"
TLS_WRITE_TIME = "1.2us"
CONNECT_TIME = "108us"


class Broker(Strict):
    """An MQTT broker: one service loop, like Mosquitto's."""

    service_time: Time = Field(
        default="10us", ge=0, le=1.0, description="work per incoming message"
    )
    fanout_time: Time = Field(
        default="10us", ge=0, le=1.0, description="work per subscriber copy sent"
    )
    per_byte_time: Time = Field(
        default=PER_BYTE_TIME,
        ge=0,
        le=1e-6,
        description="work per byte of an incoming message's payload",
    )
    max_queued: int = Field(
        default=1000,
        ge=1,
        le=10_000_000,
        description="per-subscriber outgoing queue; beyond it messages drop",
    )
    max_inflight: int = Field(
        default=20,
        ge=1,
        le=65535,
        description="QoS 1/2 messages sent to one client and not yet acknowledged",
    )
    queue_qos0: bool = Field(
        default=False, description="queue QoS 0 messages for disconnected persistent sessions"
    )
    host: HostDelay = Field(default="server", description=HOST_HELP)
    tls: TlsVersion | None = Field(
        default=None,
        description="TLS version of the broker's listener (1.2 or 1.3): every (re)connection to it "
        "exchanges the handshake's flights between TCP's and MQTT's (RFC 5246: two round trips; "
        "RFC 8446: one); none: plain TCP",
    )
    tls_handshake_time: Time = Field(
        default=TLS_HANDSHAKE_TIME,
        ge=0,
        le=1.0,
        description="the broker's CPU per TLS handshake it completes (ECDHE and its certificate's "
        "signature)",
    )
    tls_read_time: Time = Field(
        default=TLS_READ_TIME,
        ge=0,
        le=1e-3,
        description="the broker's CPU per incoming PUBLISH more on a TLS listener (its record "
        "read through OpenSSL and decrypted)",
    )
    tls_write_time: Time = Field(
        default=TLS_WRITE_TIME,
        ge=0,
        le=1e-3,
        description="the broker's CPU per copy sent more on a TLS listener (encrypted)",
    )
    connect_time: Time = Field(
        default=CONNECT_TIME,
        ge=0,
        le=1.0,
        description="the broker's CPU per CONNECT it authenticates (a password file's hash)",
    )
    acl: Literal["open", "own-topics"] = Field(
        default="open",
        description="who may publish where: open (anyone, anywhere: no ACL file) or own-topics "
        "(each client only on the topics of its own streams, a bridge on the topics it forwards; "
        "a refused PUBLISH is dropped at the broker and counted as refused)",
    )
    messages_rate: Frequency | None = Field(
        default=None,
        gt=0,
        le=1e7,
        description="per-client limit of incoming PUBLISH per second (EMQX messages_rate): the "
        "broker stops reading a client beyond it, so TCP holds the client back",
    )
    messages_burst: int = Field(
        default=10,
        ge=1,
        le=1_000_000,
        description="PUBLISH a client may send at once above messages_rate (EMQX messages_burst)",
    )
    max_conn_rate: Frequency | None = Field(
        default=None,
        gt=0,
        le=1e7,
        description="connections the listener accepts per second (EMQX max_conn_rate); beyond "
        "it new connections wait unread and cost the broker nothing",
    )
    message_size_limit: Size | None = Field(
        default=None,
        gt=0,
        le=MAX_PAYLOAD,
        description="largest payload accepted (Mosquitto message_size_limit); a larger PUBLISH "
        "is refused",
    )

    @property
    def publish_time(self) -> float:
        """The loop's fixed work per incoming PUBLISH: its service time, and on a TLS listener
        reading its record."""
        return self.service_time + (self.tls_read_time if self.tls else 0.0)

    @property
    def copy_time(self) -> float:
        """The loop's work per copy sent: its fan-out time, and on TLS the record's encryption."""
        return self.fanout_time + (self.tls_write_time if self.tls else 0.0)


class Bridge(Strict):
    """Forwards matching topics from one broker to another across a network.

    Topics are remapped as by Mosquitto's ``topic <pattern> out <qos> <local> <remote>`` bridge lines:
    a pattern in ``topics`` matches ``local_prefix + pattern`` on the ``from`` broker, and the message
    is published as ``remote_prefix`` + the topic without ``local_prefix`` on the ``to`` broker.
    """

    from_: str = Field(alias="from", description="broker the bridge subscribes to")
    to: str = Field(description="broker the bridge publishes to")
    network: str = Field(description="network between the two brokers")
    topics: list[str] = Field(min_length=1, description="MQTT topic filters to forward")
    qos: QoS = 0
    local_prefix: str = Field(
        default="",
        description="prefix of the forwarded topics on the 'from' broker (removed)",
        json_schema_extra={"pattern": PREFIX.pattern},
    )
    remote_prefix: str = Field(
        default="",
        description="prefix put before the forwarded topics on the 'to' broker",
        json_schema_extra={"pattern": PREFIX.pattern},
    )
    client: Client = Field(
        default_factory=Client, description="the bridge's connection to the 'to' broker"
    )

    @field_validator("local_prefix", "remote_prefix")
    @classmethod
    def _plain_prefix(cls, prefix: str) -> str:
        if not PREFIX.fullmatch(prefix):
            raise ValueError("a topic prefix may not contain the wildcards '+' or '#'")
        return prefix


class Subscriber(Strict):
    """An application that subscribes to topic filters on a broker."""

    broker: str
    topics: list[str] = Field(min_length=1, description="MQTT topic filters")
    network: str | None = Field(default=None, description="network between broker and subscriber")
    service_time: Time = Field(default=0.0, ge=0, le=1.0, description="processing time per message")
    qos: QoS = 0
    client: Client = Field(default_factory=Client, description="the subscriber's MQTT client")
    host: HostDelay = Field(default="server", description=HOST_HELP)
    requirement: Requirement | Literal["none"] | None = Field(
        default=None,
        description="what this subscriber needs of every stream it takes, instead of the "
        "streams' own requirements; none: no requirement",
    )
    requirements: dict[str, Requirement | Literal["none"]] = Field(
        default_factory=dict,
        max_length=10_000,
        description="per machine class and stream ('robot.joints'): this subscriber's own "
        "requirement, or none",
    )

    def requirement_for(
        self, machine: str, stream: str, own: Requirement | None
    ) -> Requirement | None:
        """What this subscriber requires of ``machine``'s ``stream``, whose own requirement is
        ``own``: its entry for the stream, else its general requirement, else the stream's."""
        chosen = self.requirements.get(f"{machine}.{stream}", self.requirement)
        if chosen is None:
            return own
        return None if chosen == "none" else chosen


# ---------------------------------------------------------------------------------------- attacks


class _Attack(Period):
    """A threat acting on the plant from ``start`` for ``duration`` (simulated time)."""


class Flood(_Attack):
    """Compromised devices publishing as fast as they are told, through their network and
    broker like any client (their results rows: ``attack:<name>``)."""

    kind: Literal["flood"]
    network: str = Field(description="network the compromised devices sit on")
    broker: str = Field(description="broker they publish to")
    devices: int = Field(default=1, ge=1, le=10_000, description="compromised devices")
    rate: Frequency = Field(gt=0, le=1e6, description="PUBLISH per second of each device")
    payload: Size = Field(default="100B", ge=1, le=MAX_PAYLOAD, description="payload of each")
    topic: str = Field(
        min_length=1, max_length=65535, description="topic they publish on ({id}: the device)"
    )
    qos: Literal[0] = 0
    host: HostDelay = Field(default="industrial-pc", description=HOST_HELP)


class Spoof(_Attack):
    """A rogue publisher writing another machine's telemetry: what it gets through arrives at the
    subscribers and is counted there as forged (``forged`` of the target's rows)."""

    kind: Literal["spoof"]
    target: str = Field(description="the machine class and stream it imitates: 'robot.joints'")
    instance: int = Field(default=0, ge=0, description="which machine of the class it imitates")
    network: str = Field(description="network the rogue device sits on")
    broker: str | None = Field(default=None, description="broker it publishes to (the target's)")
    rate: Frequency | None = Field(
        default=None, gt=0, le=1e6, description="PUBLISH per second (the target stream's rate)"
    )
    payload: Size | None = Field(
        default=None, ge=1, le=MAX_PAYLOAD, description="payload (the target stream's mean)"
    )
    host: HostDelay = Field(default="industrial-pc", description=HOST_HELP)


class ConnectionStorm(_Attack):
    """Clients opening connections as fast as they can, each failing authentication: every
    attempt the listener accepts costs the broker's loop a handshake (with TLS) and a CONNECT."""

    kind: Literal["connection_storm"]
    broker: str = Field(description="broker attacked")
    rate: Frequency = Field(gt=0, le=1e6, description="connection attempts per second (Poisson)")


class Jamming(_Attack):
    """A jammer on a 5G cell: a share of the PRBs unusable, or transport blocks lost more often."""

    kind: Literal["jamming"]
    network: str = Field(description="the nr5g network jammed")
    prb_share: Fraction = Field(
        default=0.0, ge=0, le=1, description="share of every opportunity's PRBs made unusable"
    )
    bler: Fraction | None = Field(
        default=None, ge=0, lt=1, description="BLER of every first transmission meanwhile"
    )
    direction: Literal["up", "down", "both"] = "both"


class BroadcastStorm(_Attack):
    """Frames flooded to every port of a switched Ethernet (a loop, a faulty NIC): background
    load on every shared hop, both ways."""

    kind: Literal["broadcast_storm"]
    network: str = Field(description="the ethernet network whose broadcast domain storms")
    load: Fraction = Field(gt=0, lt=1, description="offered load as a fraction of the link rate")
    size: Size = Field(default="64B", ge=64, le=9216, description="frame size (ARP: 64 B)")
    priority: int = Field(default=0, ge=0, le=7, description="802.1p priority of its frames")


Attack = Annotated[
    Flood | Spoof | ConnectionStorm | Jamming | BroadcastStorm, Field(discriminator="kind")
]


@dataclass(frozen=True)
class AttackTraffic:
    """What a publishing attack sends, its defaults resolved: ``devices`` clients to ``broker``,
    each at ``rate`` with ``payload`` bytes on its topic in ``topics``; its rows' stream
    ``label`` (``flood``, or the imitated ``machine.stream``)."""

    devices: int
    label: str
    rate: float
    payload: float
    broker: str
    topics: tuple[str, ...]


def attack_traffic(scenario: Scenario, attack: Flood | Spoof) -> AttackTraffic:
    """A flood's own figures; a spoofing device's from its target stream where it sets none (the
    stream's rate, mean payload and broker, the imitated instance's topic)."""
    if isinstance(attack, Flood):
        topics = tuple(attack.topic.replace("{id}", str(i)) for i in range(attack.devices))
        return AttackTraffic(
            attack.devices, "flood", attack.rate, attack.payload, attack.broker, topics
        )
    machine, _, name = attack.target.partition(".")
    spec = scenario.machines[machine].streams[name]
    return AttackTraffic(
        1,
        attack.target,
        attack.rate if attack.rate is not None else spec.rate,
        attack.payload if attack.payload is not None else spec.payload.mean,
        attack.broker if attack.broker is not None else scenario.machines[machine].broker,
        (spec.topic.replace("{id}", str(attack.instance)),),
    )


# -------------------------------------------------------------------------------------- benchmark


class Benchmark(Strict):
    """A reference plant's card (``factory5g bench``; ``run`` ignores it): the published use case
    the plant is built from, where its figures come from, and which network option this file is.
    The plant's own figures (devices, transfer intervals, message sizes, survival times, targets)
    are the scenario's; the catalogue page (docs/benchmarks.md) is generated from both."""

    plant: str = Field(min_length=1, max_length=200, description="the plant, as a title")
    use_case: str = Field(
        min_length=1, max_length=2000, description="the published use case it is built from"
    )
    sources: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=20, description="where its characteristic parameters come from"
    )
    service_area: str = Field(
        default="", max_length=200, description="the area the devices are spread over"
    )
    option: str = Field(
        min_length=1, max_length=500, description="this file's network option, in a sentence"
    )
    quick: Time = Field(
        default=2.0,
        gt=0,
        le=MAX_DURATION,
        description="simulated time of each replication in bench --quick (warm-up included)",
    )


# --------------------------------------------------------------------------------------- scenario


class Scenario(Strict):
    """A whole plant: machines, networks, brokers, bridges and subscribers."""

    name: Name = Field(description="the scenario's name, also its results folder's")
    description: str = Field(default="", max_length=10_000, description="what the plant is")
    extends: str | None = Field(
        default=None, max_length=4096, description="baseline file this one modifies"
    )
    duration: Time = Field(gt=0, le=MAX_DURATION, description="simulated time, warm-up included")
    warmup: Time = Field(
        default=0.0, ge=0, le=MAX_DURATION, description="initial time excluded from the metrics"
    )
    seed: int = Field(default=0, ge=0, le=2**64 - 1, description="seed of every random draw")
    replications: int = Field(
        default=1, ge=1, le=1000, description="independent runs, pooled with confidence intervals"
    )
    networks: dict[Name, Network] = Field(default_factory=dict)
    brokers: dict[Name, Broker] = Field(min_length=1)
    bridges: dict[Name, Bridge] = Field(default_factory=dict)
    machines: dict[Name, Machine] = Field(min_length=1)
    subscribers: dict[Name, Subscriber] = Field(default_factory=dict)
    tcp: Tcp = Field(default_factory=Tcp, description="TCP behaviour of every connection")
    attacks: dict[Name, Attack] = Field(
        default_factory=dict, description="threats acting on the plant, each for a time"
    )
    sweep: Sweep | None = Field(
        default=None,
        description="a study file's parameter sweep (factory5g sweep); run ignores it",
    )
    benchmark: Benchmark | None = Field(
        default=None,
        description="a reference plant's card for factory5g bench; run ignores it",
    )
    engine: Literal["auto", "event", "fast"] = Field(
        default="auto",
        description="which engine runs it: auto (the fast engine where the scenario is within "
        "its scope, else the event engine), event, or fast",
    )

    @field_validator("warmup")
    @classmethod
    def _warmup_inside(cls, warmup: float, info: ValidationInfo) -> float:
        duration = info.data.get("duration")
        if duration is not None and warmup >= duration:
            raise ValueError(
                f"must be shorter than the duration, {format_time(duration)}, which includes the "
                f"warm-up; got {format_time(warmup)}"
            )
        return warmup

    @property
    def window(self) -> float:
        """Length of the measurement window."""
        return self.duration - self.warmup


def model_kind(kind: Any) -> str | None:
    """The ``kind`` literal of a tagged model (a network, a law), or None for anything else."""
    if not (isinstance(kind, type) and issubclass(kind, BaseModel)):
        return None
    info = kind.model_fields.get("kind")
    values = get_args(info.annotation) if info is not None else ()
    return str(values[0]) if values else None


def check_references(scenario: Scenario) -> list[tuple[str, str]]:
    """Names that point nowhere, as ``(field path, message)`` pairs; empty when all resolve."""
    from difflib import get_close_matches

    from sim.models.mqtt.topics import check_filter

    problems: list[tuple[str, str]] = []

    def ref(path: str, value: str | None, table: dict[str, Any], what: str) -> None:
        if value is None or value in table:
            return
        defined = ", ".join(sorted(table)) or "none"
        close = get_close_matches(value, list(table), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append((path, f"unknown {what} '{value}' (defined: {defined}){hint}"))

    def filters(path: str, topics: list[str]) -> None:
        for i, topic in enumerate(topics):
            error = check_filter(topic)
            if error:
                problems.append((f"{path}.{i}", f"invalid topic filter '{topic}': {error}"))

    for name, machine in scenario.machines.items():
        ref(f"machines.{name}.network", machine.network, scenario.networks, "network")
        ref(f"machines.{name}.broker", machine.broker, scenario.brokers, "broker")
    for name, bridge in scenario.bridges.items():
        ref(f"bridges.{name}.from", bridge.from_, scenario.brokers, "broker")
        ref(f"bridges.{name}.to", bridge.to, scenario.brokers, "broker")
        ref(f"bridges.{name}.network", bridge.network, scenario.networks, "network")
        if bridge.from_ == bridge.to:
            problems.append((f"bridges.{name}.to", "a bridge must connect two different brokers"))
        filters(f"bridges.{name}.topics", bridge.topics)
    for name, network in scenario.networks.items():
        if isinstance(network, GatewayNetwork) and network.upstream is not None:
            ref(f"networks.{name}.upstream", network.upstream, scenario.networks, "network")
            upstream = scenario.networks.get(network.upstream)
            if isinstance(upstream, GatewayNetwork):
                problems.append(
                    (
                        f"networks.{name}.upstream",
                        "a gateway cannot publish through another gateway",
                    )
                )
        if isinstance(network, Nr5gNetwork):
            for slice_name, piece in network.slices.items():
                for i, machine in enumerate(piece.machines):
                    ref(
                        f"networks.{name}.slices.{slice_name}.machines.{i}",
                        machine,
                        scenario.machines,
                        "machine class",
                    )
            if sum(piece.share for piece in network.slices.values()) > 1.0 + 1e-9:
                problems.append(
                    (f"networks.{name}.slices", "the slices' shares add up to more than 100 %")
                )
            problem = _grant_admission(scenario, name, network)
            if problem:
                problems.append((f"networks.{name}", problem))
    gateway_brokers: dict[str, str] = {}
    for name, machine in scenario.machines.items():
        if isinstance(scenario.networks.get(machine.network), GatewayNetwork):
            first = gateway_brokers.setdefault(machine.network, machine.broker)
            if first != machine.broker:
                problems.append(
                    (
                        f"machines.{name}.broker",
                        f"machines behind gateway '{machine.network}' share its one MQTT connection: all must publish to '{first}'",
                    )
                )
    for name, sub in scenario.subscribers.items():
        if sub.network is not None and isinstance(
            scenario.networks.get(sub.network), GatewayNetwork
        ):
            problems.append(
                (f"subscribers.{name}.network", "a subscriber cannot sit behind a fieldbus gateway")
            )
        for key in sub.requirements:
            machine, _, stream = key.partition(".")
            where = f"subscribers.{name}.requirements.{key}"
            if machine not in scenario.machines:
                ref(where, machine, scenario.machines, "machine class")
            elif stream not in scenario.machines[machine].streams:
                ref(where, stream, scenario.machines[machine].streams, f"stream of {machine}")
        ref(f"subscribers.{name}.broker", sub.broker, scenario.brokers, "broker")
        ref(f"subscribers.{name}.network", sub.network, scenario.networks, "network")
        filters(f"subscribers.{name}.topics", sub.topics)
    problems.extend(_attack_references(scenario, ref))
    return problems


def _attack_references(
    scenario: Scenario, ref: Callable[[str, str | None, dict[str, Any], str], None]
) -> list[tuple[str, str]]:
    """What the ``attacks`` point at must exist and be of the kind the attack needs."""
    from sim.models.mqtt.topics import check_filter

    problems: list[tuple[str, str]] = []
    needs = {"jamming": Nr5gNetwork, "broadcast_storm": EthernetNetwork}
    for name, attack in scenario.attacks.items():
        where = f"attacks.{name}"
        network = getattr(attack, "network", None)
        ref(f"{where}.network", network, scenario.networks, "network")
        ref(f"{where}.broker", getattr(attack, "broker", None), scenario.brokers, "broker")
        found = scenario.networks.get(network) if network else None
        wanted = needs.get(attack.kind)
        if found is not None and wanted is not None and not isinstance(found, wanted):
            problems.append(
                (
                    f"{where}.network",
                    f"a {attack.kind} attack needs a {model_kind(wanted)} "
                    f"network; '{network}' is {found.kind}",
                )
            )
        if (
            isinstance(attack, BroadcastStorm)
            and isinstance(found, EthernetNetwork)
            and found.priority_queues > 1
            and found.cross_traffic is not None
        ):
            problems.append(
                (
                    f"{where}.network",
                    "a broadcast storm on priority queues is modelled without cross traffic; "
                    f"'{network}' has both",
                )
            )
        if isinstance(found, GatewayNetwork) and isinstance(attack, Flood | Spoof):
            problems.append(
                (f"{where}.network", "a publishing attacker needs an IP network, not a gateway")
            )
        if isinstance(attack, Flood):
            topic = attack.topic.replace("{id}", "0")
            if "+" in topic or "#" in topic or check_filter(topic):
                problems.append((f"{where}.topic", f"'{attack.topic}' is not a topic name"))
        if isinstance(attack, Spoof):
            machine, _, stream = attack.target.partition(".")
            if machine not in scenario.machines:
                ref(f"{where}.target", machine, scenario.machines, "machine class")
            elif stream not in scenario.machines[machine].streams:
                ref(
                    f"{where}.target",
                    stream,
                    scenario.machines[machine].streams,
                    f"stream of {machine}",
                )
            elif attack.instance >= scenario.machines[machine].count:
                problems.append(
                    (
                        f"{where}.instance",
                        f"{machine} has {scenario.machines[machine].count} "
                        f"machines (0 to {scenario.machines[machine].count - 1})",
                    )
                )
    return problems


def configured_grants(scenario: Scenario, name: str) -> list[tuple[float, float, int]]:
    """The configured uplink grants of cell ``name``: ``(period s, radio bytes, UEs)`` per group.

    Every UE on the cell takes its slice's access, or the cell's: each machine instance, and the
    one connection of each bridge, gateway and subscriber across the cell.
    """
    cell = scenario.networks[name]
    assert isinstance(cell, Nr5gNetwork)
    slice_of = {m: name for name, piece in cell.slices.items() for m in piece.machines}
    grants: list[tuple[float, float, int]] = []

    def add(count: int, slice_name: str | None) -> None:
        access, period, size = cell.uplink_for(slice_name)
        if access == "configured_grant" and count:
            grants.append((period, size, count))

    for machine_name, machine in scenario.machines.items():
        if machine.network == name:
            add(machine.count, slice_of.get(machine_name))
    others = sum(1 for b in scenario.bridges.values() if b.network == name)
    others += sum(1 for s in scenario.subscribers.values() if s.network == name)
    others += sum(
        1
        for gateway, n in scenario.networks.items()
        if isinstance(n, GatewayNetwork)
        and n.upstream == name
        and any(m.network == gateway for m in scenario.machines.values())
    )
    for _ in range(others):
        add(1, None)
    return grants


def _grant_admission(scenario: Scenario, name: str, cell: Nr5gNetwork) -> str | None:
    """A gNB cannot promise one occasion more PRBs than the cell has (TS 38.214 6.1.2.3)."""
    from sim.models.links.nr5g import configured_grant_load

    load = configured_grant_load(cell, configured_grants(scenario, name))
    if load is None:
        return None
    held, ues, largest = load
    prbs = cell.prb_count
    if held <= (prbs or 0):
        return None
    return (
        f"configured grants reserve {held} PRBs per uplink slot ({ues} UEs x up to {largest} "
        f"PRBs); the cell has {prbs}: give fewer UEs a configured grant (a slice with "
        "uplink_access), a longer cg_period or a smaller cg_size"
    )


__all__ = [
    "NETWORK_KINDS",
    "Bridge",
    "Broker",
    "CrossTraffic",
    "EthernetNetwork",
    "Law",
    "Machine",
    "Network",
    "ParametricNetwork",
    "Requirement",
    "Scenario",
    "Stream",
    "Subscriber",
    "check_references",
]
