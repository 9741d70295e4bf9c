"""What a run will cost before it starts: messages, copies, frames, SimPy events, memory, time.

The estimate follows the engine's own accounting from the scenario alone, per replication, then
times the replications:

- *messages*: each stream's rate (``1 / every`` or ``poisson``) times its machines, over the
  duration (warm-up included: the engine simulates it too);
- *copies*: each message once per subscriber its topic reaches (across bridges, as
  :func:`sim.models.mqtt.routing.plan_topic` routes it), and once per bridge it crosses;
- *frames*: TCP segments of the mean payload (:mod:`sim.models.framing`) on each leg, times the
  hops of an Ethernet leg; QoS 1 and 2 add their acknowledgements; the MQTT keep-alive its pings;
  office cross traffic and Wi-Fi background stations their frames;
- *events*: the engine schedules a SimPy event per message, per copy and per frame where senders
  share a component (each shared Ethernet hop, the Wi-Fi medium, a radio's transport blocks), and
  folds most of the rest into recursions without events (``docs/models.md``); counting one per
  message, copy, acknowledgement and contended frame, and four tenths of that total, gives 0.8 to
  1.3 times the events the shipped scenarios really schedule (``tests/test_cost.py``);
- *memory*: about 200 bytes per copy a row keeps exactly (the collector's four numbers and the
  pooled latency): at most :data:`~sim.metrics.SAMPLE_LIMIT` per row and replication, every
  copy with ``--samples``; the rest of a row's copies only pass through a chunk on their way into
  its histograms (100 kB a row); plus about 20 kB per machine (measured: 17 kB).

The wall time assumes 150,000 events a second, the slowest the engine does on one core of the 2-core
development machine (``benchmarks/run_benchmarks.py`` and the shipped scenarios: 120,000 to
230,000; a bare SimPy model 375,000); a laptop does about the same. The estimate is what ``validate`` prints and what ``run`` checks against its budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.models.framing import Framing
from sim.scenario.schema import Flood, Scenario, Spoof, attack_traffic

EVENTS_PER_SECOND = 150_000.0
FAST_SECONDS_PER_ITEM = 0.2e-6
FOLDED = 0.4  # the share of the counted work that takes a SimPy event (see above)
BYTES_PER_COPY = 200.0
BYTES_PER_MACHINE = 20_000.0
BYTES_PER_ROW = 100_000.0  # two latency histograms (sim.metrics.histogram: 49 kB each)
CONTROL_PACKETS = {0: 0, 1: 1, 2: 3}  # PUBACK; PUBREC, PUBREL, PUBCOMP


@dataclass(frozen=True)
class Cost:
    """What a whole run (every replication) is expected to take."""

    messages: float
    copies: float
    frames: float
    events: float
    memory_bytes: float  # peak, one replication's copies and the pooled results

    @property
    def seconds(self) -> float:
        """Expected wall time on the event engine."""
        return self.events / EVENTS_PER_SECOND

    @property
    def fast_seconds(self) -> float:
        """Expected wall time on the fast engine (:mod:`sim.fast`): 0.2 us for each message and
        each copy (measured: 0.4 us a message with one subscriber, ``benchmarks/plant_scale.py``)."""
        return (self.messages + self.copies) * FAST_SECONDS_PER_ITEM

    def describe(self) -> str:
        """``about 1.6 M events (11 s), 40 MB``."""
        return (
            f"about {_count(self.events)} events ({_duration(self.seconds)}), "
            f"{_count(self.messages)} messages, {_bytes(self.memory_bytes)}"
        )


def estimate(scenario: Scenario, samples: bool = False) -> Cost:
    """The cost of running ``scenario`` (all its replications); ``samples``: keeping every
    delivered copy exactly."""
    from sim.metrics import SAMPLE_LIMIT

    duration = scenario.duration
    tally = _Tally()
    machines = 0
    for machine in scenario.machines.values():
        machines += machine.count
        for stream in machine.streams.values():
            sent = machine.count * stream.rate * duration
            topic = stream.topic.replace("{id}", "0")
            tally.publish(
                scenario,
                machine.broker,
                machine.network,
                topic,
                stream.qos,
                stream.payload.mean,
                sent,
            )
        pings = 2.0 * duration / machine.client.keep_alive
        tally.frames += machine.count * pings
        tally.events += machine.count * pings
    for attack in scenario.attacks.values():
        active = max(0.0, min(attack.end, duration) - attack.start)
        if isinstance(attack, Flood | Spoof):
            tally.attack(scenario, attack, active)
        elif attack.kind == "connection_storm":
            tally.events += attack.rate * active  # type: ignore[union-attr]
        elif attack.kind == "broadcast_storm":
            network = scenario.networks[attack.network]  # type: ignore[union-attr]
            per_hop = attack.load * network.rate / (8.0 * attack.size)  # type: ignore[union-attr]
            storm = 2.0 * max(network.hops - 1, 0) * per_hop * active  # type: ignore[union-attr]
            tally.frames += storm
            tally.events += 0.1 * storm
    for network in scenario.networks.values():
        cross, background = _background_frames(network, duration)
        tally.frames += cross + background
        tally.events += (
            0.1 * cross + 3.0 * background
        )  # cross traffic is folded into the port's recursion
    runs = scenario.replications
    kept = sum(sent if samples else min(sent, SAMPLE_LIMIT) for sent in tally.kept)
    memory = (
        kept * (BYTES_PER_COPY + runs * 16.0)
        + len(tally.kept) * BYTES_PER_ROW
        + machines * BYTES_PER_MACHINE
    )
    return Cost(
        tally.messages * runs,
        tally.copies * runs,
        tally.frames * runs,
        tally.events * FOLDED * runs,
        memory,
    )


class _Tally:
    """What the estimate adds up over the plant's publishers."""

    def __init__(self) -> None:
        self.messages = self.copies = self.frames = self.events = 0.0
        self.kept: list[float] = []  # per row: the copies it sees

    def publish(
        self,
        scenario: Scenario,
        broker: str,
        network: str,
        topic: str,
        qos: int,
        payload: float,
        sent: float,
    ) -> None:
        """``sent`` messages at ``qos`` of ``payload`` bytes on average on ``topic`` to ``broker``."""
        from sim.models.mqtt.routing import plan_topic

        plan = plan_topic(scenario, broker, topic)
        legs = [scenario.networks[network]]
        legs += [
            scenario.networks[name]
            for name in (scenario.subscribers[s].network for s in plan.subscribers)
            if name is not None
        ]
        legs += [scenario.networks[scenario.bridges[b].network] for b in plan.via_bridge]
        packets = 1 + CONTROL_PACKETS[qos]
        per_message = 0.0
        for leg in legs:
            segments = _segments(payload, topic, qos, leg)
            self.frames += sent * packets * segments * _hops(leg)
            per_message += packets * (1.0 + segments * _contended(leg))
        reached = len(plan.subscribers) + len(plan.via_bridge)
        self.messages += sent
        self.copies += sent * reached
        self.kept += [sent] * reached
        self.events += sent * (per_message + reached)

    def attack(self, scenario: Scenario, attack: Flood | Spoof, active: float) -> None:
        """A flood's or a spoofing device's messages over the ``active`` seconds of the run."""
        traffic = attack_traffic(scenario, attack)
        sent = traffic.devices * traffic.rate * active
        topic = traffic.topics[0]
        self.publish(scenario, traffic.broker, attack.network, topic, 0, traffic.payload, sent)


def _segments(payload: float, topic: str, qos: int, network: object) -> float:
    """TCP segments of a message on the real stack (networks without an MTU: 1500 B)."""
    count, _, _ = Framing(getattr(network, "mtu", 1500.0), None).frames(payload, topic, qos)
    return float(count)


def _hops(network: object) -> int:
    return int(getattr(network, "hops", 1))


def _contended(network: object) -> float:
    """Events per frame where senders share the medium: each shared Ethernet hop; every Wi-Fi
    frame (backoff, transmission, acknowledgement); a radio's transport blocks; none on a
    parametric network, whose delay is computed at once."""
    kind = getattr(network, "kind", "parametric")
    if kind == "ethernet":
        return float(max(network.hops - 1, 0))  # type: ignore[attr-defined]
    return {"wifi": 3.0, "nr5g": 1.0}.get(kind, 0.0)


def _background_frames(network: object, duration: float) -> tuple[float, float]:
    """Frames of office cross traffic (each shared Ethernet hop, both ways) and of Wi-Fi
    background stations over ``duration``."""
    cross = getattr(network, "cross_traffic", None)
    if cross is not None:
        per_hop = cross.load * network.rate / (8.0 * cross.size)  # type: ignore[attr-defined]
        return 2.0 * max(network.hops - 1, 0) * per_hop * duration, 0.0  # type: ignore[attr-defined]
    background = getattr(network, "background", None)
    if background is not None:
        return 0.0, background.count * background.rate / (8.0 * background.size) * duration
    return 0.0, 0.0


def _count(value: float) -> str:
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f}"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def _bytes(value: float) -> str:
    for scale, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1024:.0f} kiB"


__all__ = ["Cost", "estimate"]
