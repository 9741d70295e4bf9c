"""Where a topic goes: which subscriptions match it at each broker, across bridges.

Subscriptions do not change during a run and every machine publishes on fixed topics, so the
matching is done once per topic before the run (Mosquitto keeps a subscription tree for the same
reason). A bridge forwards a topic to the next broker when one of its filters matches, remapping
the topic by its prefixes (Mosquitto's bridge ``topic`` lines); a broker already reached is not
entered again, so two brokers bridging the same topics to each other do not loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.models.mqtt.topics import matches_any
from sim.scenario.schema import Bridge, Scenario


@dataclass(frozen=True)
class Hop:
    """At ``broker``, the topic goes to these subscribers and on over these bridges."""

    broker: str
    subscribers: tuple[str, ...]
    bridges: tuple[str, ...]


@dataclass
class TopicPlan:
    """The tree a topic published at ``origin`` follows: one :class:`Hop` per broker reached."""

    topic: str
    origin: str
    hops: dict[str, Hop] = field(default_factory=dict)
    via_bridge: dict[str, tuple[str, ...]] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # the topic as it is at each broker

    @property
    def subscribers(self) -> tuple[str, ...]:
        """Every subscriber that receives the topic, in a fixed order."""
        return tuple(s for hop in self.hops.values() for s in hop.subscribers)


def plan_topic(scenario: Scenario, origin: str, topic: str) -> TopicPlan:
    """The subscribers and bridges a message on ``topic`` published at broker ``origin`` reaches."""
    plan = TopicPlan(topic, origin)

    def visit(broker: str, topic: str) -> tuple[str, ...]:
        subscribers = tuple(
            name
            for name, sub in sorted(scenario.subscribers.items())
            if sub.broker == broker and matches_any(sub.topics, topic)
        )
        bridges = tuple(
            name
            for name, bridge in sorted(scenario.bridges.items())
            if bridge.from_ == broker
            and bridge.to not in plan.hops
            and remap(bridge, topic) is not None
        )
        plan.hops[broker] = Hop(broker, subscribers, ())
        plan.topics[broker] = topic
        taken: list[str] = []
        reached = list(subscribers)
        for name in bridges:
            target = scenario.bridges[name].to
            if target in plan.hops:
                continue
            taken.append(name)
            downstream = visit(target, remap(scenario.bridges[name], topic))  # type: ignore[arg-type]
            plan.via_bridge[name] = downstream
            reached.extend(downstream)
        plan.hops[broker] = Hop(broker, subscribers, tuple(taken))
        return tuple(reached)

    visit(origin, topic)
    return plan


def remap(bridge: Bridge, topic: str) -> str | None:
    """The topic a bridge publishes ``topic`` as on its far broker, or None if it does not forward it."""
    if not topic.startswith(bridge.local_prefix):
        return None
    inner = topic[len(bridge.local_prefix) :]
    if not matches_any(bridge.topics, inner):
        return None
    return bridge.remote_prefix + inner


class Route:
    """A topic's plan resolved to the objects of one run: per broker, (session, rows, topic)
    triples, the topic being what the session's client receives (a bridge: the remapped one).

    An attacker's route also has ``received``, the row of its messages reaching the broker they
    are published to, and ``denied``, the brokers whose ACL refuses them there (``guarded``: either
    is set, so the broker looks)."""

    __slots__ = ("denied", "fanout", "guarded", "received", "rows")

    def __init__(
        self, rows: tuple, fanout: dict, received: object = None, denied: frozenset = frozenset()
    ) -> None:
        self.rows = rows
        self.fanout = fanout
        self.received = received
        self.denied = denied
        self.guarded = received is not None or bool(denied)
