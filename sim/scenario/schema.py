"""The scenario file: what a plant engineer writes, as strict pydantic models.

Every mapping (``networks``, ``brokers``, ``bridges``, ``machines``, ``subscribers``) is keyed by a
name, so that an upgrade file can ``extends:`` a baseline and say only what changes. Unknown keys are
errors (no silently ignored parameter), and quantities carry units (see :mod:`sim.scenario.units`).
Times, sizes and rates are stored in seconds, bytes and bit/s.

Defaults and their sources:

- Broker ``service_time`` 10 us and ``fanout_time`` 10 us per subscriber copy: Mosquitto, one
  thread, about 50,000 msg/s in and 50,000 out on an i5-2500k (mosquitto issue 2039), i.e. about
  20 us per message carried from one publisher to one subscriber.
- Broker ``max_queued`` 1000 per subscriber: Mosquitto's ``max_queued_messages`` (mosquitto.conf(5)).
- Ethernet ``switch_latency`` 5 us: industrial store-and-forward switch, GarrettCom S14 manual
  (5 us + frame time at 100 Mbit/s); DETERMINISTIC6G PD-Wired measured 4.4-4.7 us at 1 GbE.
- Framing ``overhead``: Ethernet 38 B on the wire per frame (preamble 8, header 14, FCS 4, inter-frame
  gap 12), IPv4 20 B and TCP 20 B, MSS 1460 B for the 1500 B MTU; the MQTT PUBLISH header (fixed
  header, topic, packet identifier) is added once per message.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim.scenario.laws import Law, law_type
from sim.scenario.units import (
    parse_fraction,
    parse_frequency,
    parse_rate,
    parse_size,
    parse_time,
)


def _unit(parse: Any, what: str, example: str) -> tuple[BeforeValidator, WithJsonSchema]:
    schema = {
        "type": ["string", "number"],
        "description": f"a {what} with its unit, e.g. {example!r}",
    }
    return BeforeValidator(parse), WithJsonSchema(schema)


Time = Annotated[float, *_unit(parse_time, "time", "10ms")]
Size = Annotated[float, *_unit(parse_size, "size", "150kB")]
Rate = Annotated[float, *_unit(parse_rate, "data rate", "100Mbps")]
Frequency = Annotated[float, *_unit(parse_frequency, "frequency", "2/s")]
Fraction = Annotated[float, *_unit(parse_fraction, "fraction", "40%")]

TimeLaw = law_type(parse_time, "time", "6ms")
SizeLaw = law_type(parse_size, "size", "200B")

QoS = Literal[0, 1, 2]


class Strict(BaseModel):
    """Base of every scenario block: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, populate_by_name=True, validate_default=True
    )


# ---------------------------------------------------------------------------------------- traffic


class Requirement(Strict):
    """What the application needs from the stream (3GPP TS 22.104 terms)."""

    deadline: Time = Field(gt=0, description="latest acceptable publish-to-delivery latency")
    survival_time: Time | None = Field(
        default=None,
        gt=0,
        description="how long the application tolerates no valid message (TS 22.104)",
    )


class Stream(Strict):
    """One telemetry stream of a machine: periodic (``every``) or Poisson (``poisson``)."""

    topic: str = Field(min_length=1, description="MQTT topic; {id} expands to the machine index")
    every: Time | None = Field(default=None, gt=0, description="period of a periodic stream")
    jitter: Time = Field(
        default=0.0, ge=0, description="each release is late by a uniform draw in [0, jitter]"
    )
    poisson: Frequency | None = Field(
        default=None, gt=0, description="mean rate of a Poisson stream"
    )
    payload: SizeLaw = Field(
        description="payload size: a size or a law (uniform, exponential, normal)"
    )
    qos: QoS = 0
    requirement: Requirement | None = None

    @field_validator("topic")
    @classmethod
    def _topic_name(cls, topic: str) -> str:
        if "+" in topic or "#" in topic:
            raise ValueError("a topic to publish on may not contain the wildcards '+' or '#'")
        leftover = re.sub(r"\{id\}", "", topic)
        if "{" in leftover or "}" in leftover:
            raise ValueError("the only placeholder allowed in a topic is {id}")
        return topic

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


class Machine(Strict):
    """A class of identical machines (``count`` instances), each publishing its streams."""

    count: int = Field(default=1, ge=1, description="number of machines of this class")
    network: str = Field(description="name of the network the machines are attached to")
    broker: str = Field(description="name of the broker they publish to")
    streams: dict[str, Stream] = Field(min_length=1)


# --------------------------------------------------------------------------------------- networks


class CrossTraffic(Strict):
    """Poisson background frames (office traffic) offered to every shared hop."""

    load: Fraction = Field(ge=0, lt=1, description="offered load as a fraction of the link rate")
    size: Size = Field(default="1500B", gt=0, description="cross-traffic frame size on the wire")


class ParametricNetwork(Strict):
    """A network given by its measured behaviour: a latency law, a shared capacity and a loss."""

    kind: Literal["parametric"]
    latency: TimeLaw = Field(default=0.0, description="delay added to every message")
    rate: Rate | None = Field(default=None, gt=0, description="capacity shared by all senders")
    loss: Fraction = Field(default=0.0, ge=0, lt=1, description="probability a frame is lost")
    overhead: Size | None = Field(
        default=None,
        ge=0,
        description="bytes added per frame; default the real MQTT/TCP/IP/Ethernet framing, 0B off",
    )
    mtu: Size = Field(default="1500B", ge=576, description="largest IP packet")


class EthernetNetwork(Strict):
    """Switched Ethernet: a machine's own access port, then ``hops - 1`` shared switch hops."""

    kind: Literal["ethernet"]
    hops: int = Field(default=2, ge=1, description="links from a machine to the broker")
    rate: Rate = Field(default="100Mbps", gt=0, description="link rate of every hop")
    switch_latency: Time = Field(default="5us", ge=0, description="per-switch processing delay")
    cross_traffic: CrossTraffic | None = None
    loss: Fraction = Field(default=0.0, ge=0, lt=1, description="probability a frame is lost")
    overhead: Size | None = Field(
        default=None,
        ge=0,
        description="bytes added per frame; default the real MQTT/TCP/IP/Ethernet framing, 0B off",
    )
    mtu: Size = Field(default="1500B", ge=576, description="largest IP packet")


Network = Annotated[ParametricNetwork | EthernetNetwork, Field(discriminator="kind")]

NETWORK_KINDS: tuple[str, ...] = ("parametric", "ethernet")


# ------------------------------------------------------------------------------------------- MQTT


class Broker(Strict):
    """An MQTT broker: one service loop, like Mosquitto's."""

    service_time: Time = Field(default="10us", ge=0, description="work per incoming message")
    fanout_time: Time = Field(default="10us", ge=0, description="work per subscriber copy sent")
    max_queued: int = Field(
        default=1000, ge=1, description="per-subscriber outgoing queue; beyond it messages drop"
    )


class Bridge(Strict):
    """Forwards matching topics from one broker to another across a network."""

    from_: str = Field(alias="from", description="broker the bridge subscribes to")
    to: str = Field(description="broker the bridge publishes to")
    network: str = Field(description="network between the two brokers")
    topics: list[str] = Field(min_length=1, description="MQTT topic filters to forward")
    qos: QoS = 0


class Subscriber(Strict):
    """An application that subscribes to topic filters on a broker."""

    broker: str
    topics: list[str] = Field(min_length=1, description="MQTT topic filters")
    network: str | None = Field(default=None, description="network between broker and subscriber")
    service_time: Time = Field(default=0.0, ge=0, description="processing time per message")
    qos: QoS = 0


# --------------------------------------------------------------------------------------- scenario


class Scenario(Strict):
    """A whole plant: machines, networks, brokers, bridges and subscribers."""

    name: str = Field(min_length=1)
    description: str = ""
    extends: str | None = Field(default=None, description="baseline file this one modifies")
    duration: Time = Field(gt=0, description="simulated time, warm-up included")
    warmup: Time = Field(default=0.0, ge=0, description="initial time excluded from the metrics")
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=1, ge=1, le=1000)
    networks: dict[str, Network] = Field(default_factory=dict)
    brokers: dict[str, Broker] = Field(min_length=1)
    bridges: dict[str, Bridge] = Field(default_factory=dict)
    machines: dict[str, Machine] = Field(min_length=1)
    subscribers: dict[str, Subscriber] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _warmup_inside(self) -> Scenario:
        if self.warmup >= self.duration:
            raise ValueError("warmup must be shorter than duration (duration includes the warm-up)")
        return self

    @property
    def window(self) -> float:
        """Length of the measurement window."""
        return self.duration - self.warmup


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
    for name, sub in scenario.subscribers.items():
        ref(f"subscribers.{name}.broker", sub.broker, scenario.brokers, "broker")
        ref(f"subscribers.{name}.network", sub.network, scenario.networks, "network")
        filters(f"subscribers.{name}.topics", sub.topics)
    return problems


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
