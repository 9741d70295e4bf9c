"""``factory5g live``: a scenario's machines publishing to a real MQTT broker in real time.

Each stream instance of the scenario (machine class x instance x stream) becomes a schedule of
publication times drawn with the simulator's own laws and seeded draws (the same generator the
engine gives ``machine:<class>[<i>]:<stream>`` in replication 0, so the times and sizes are the
ones a ``factory5g run`` of the same scenario uses). A real-time scheduler (a heap of due times,
sleeping until the next one) publishes each message with paho-mqtt at ``t0 + t / speed``, on the
stream's topic, with its QoS, as JSON of the stream's payload size::

    {"ts": 1764045062.123456, "seq": 17, "machine": "cnc-3", "class": "cnc", "stream": "spindle",
     "spindle_rpm": 11987.4, "load_pct": 41.2, "temp_c": 36.81, "pad": "....."}

``ts`` is the publish time (epoch seconds), ``seq`` counts the messages of one topic from 1, the
values depend on the machine class (by name: cnc, robot, vision, sensors/env, else ``value``) and
drift in random walks. ``pad`` fills the message up to the size the payload law drew.

A subscriber of its own on the same broker (QoS 1, persistent session) measures how many messages
the broker delivered back and how late (receive time minus ``ts``; same clock at both ends). A
message not received by the end of the drain is *lost*; one received more than ``late_after``
(1 s unless told) after it was sent is *late*: either means the real broker fell behind the
scenario's load, and the report says so. So does the publisher when it cannot keep to the
schedule itself (a scenario too large for this machine at this ``speed``). The
publisher keeps a persistent session too and paho's reconnect: QoS 1 and 2 messages published
while the broker is away are queued and sent on reconnection, so a broker restart loses nothing
of them (the subscriber's session must survive the restart: Mosquitto with ``persistence true``;
without it the subscriber subscribes again when the broker has forgotten its session).
"""

from __future__ import annotations

import heapq
import json
import math
import random
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from sim.live import LiveError
from sim.live.mqtt import BrokerURL, connect, disconnect, make_client
from sim.models.draws import Draws, component_rng
from sim.models.laws import sampler
from sim.models.traffic import payload_bytes
from sim.scenario.schema import Scenario, Stream

# ------------------------------------------------------------------------------------ schedules


class Schedule:
    """The publication times and payload sizes of one stream of one machine instance.

    The same draws, in the same order, as :class:`sim.models.traffic.StreamSource`.
    """

    def __init__(self, stream: Stream, draws: Draws) -> None:
        self.every = stream.every
        self.jitter = stream.jitter
        self.mean_gap = 1.0 / stream.poisson if stream.poisson else 0.0
        self.draws = draws
        self.size = sampler(stream.payload, draws)
        if self.every is not None:
            self.nominal = self.every * draws.uniform()
            self.next = self.nominal + self.jitter * draws.uniform()
        else:
            self.nominal = 0.0
            self.next = self.mean_gap * draws.exponential()

    def advance(self) -> tuple[float, int]:
        """The time of the next message and its size in bytes; moves on to the following one."""
        when = self.next
        size = payload_bytes(self.size())
        if self.every is not None:
            self.nominal += self.every
            self.next = (
                self.nominal + self.jitter * self.draws.uniform() if self.jitter else self.nominal
            )
        else:
            self.next = when + self.mean_gap * self.draws.exponential()
        return when, size


# --------------------------------------------------------------------------------------- values


def _kind(machine: str, stream: str) -> str:
    text = f"{machine} {stream}".lower()
    for kind, words in (
        ("cnc", ("cnc", "spindle", "mill", "lathe")),
        ("robot", ("robot", "joint", "arm")),
        ("vision", ("vision", "camera", "frame", "inspect")),
        ("env", ("sensor", "env", "temp", "humid")),
    ):
        if any(word in text for word in words):
            return kind
    return "default"


class Values:
    """Plausible, drifting readings for one stream of one machine (random walks, seeded)."""

    def __init__(self, machine: str, stream: str, instance: int, seed: int) -> None:
        self.kind = _kind(machine, stream)
        key = zlib.crc32(f"{machine}[{instance}]:{stream}".encode())
        self.rng = random.Random(seed * 1_000_003 + key)
        r = self.rng
        self.state: dict[str, float] = {
            "cnc": {"spindle_rpm": r.uniform(8000, 16000), "load_pct": 40.0, "temp_c": 32.0},
            "robot": {f"j{i}": r.uniform(-90, 90) for i in range(1, 7)},
            "vision": {"defect_score": 0.02, "frame_id": 0.0},
            "env": {"temperature_c": r.uniform(19, 24), "humidity_pct": r.uniform(35, 55)},
        }.get(self.kind, {"value": 50.0})

    def next(self) -> dict[str, float | int]:
        r, s = self.rng, self.state
        if self.kind == "cnc":
            s["spindle_rpm"] = min(max(s["spindle_rpm"] + r.gauss(0, 25), 0.0), 24000.0)
            s["load_pct"] = min(max(s["load_pct"] + r.gauss(0, 0.8), 5.0), 100.0)
            s["temp_c"] = min(max(s["temp_c"] + r.gauss(0.001, 0.02), 18.0), 90.0)
            return {
                "spindle_rpm": round(s["spindle_rpm"], 1),
                "load_pct": round(s["load_pct"], 1),
                "temp_c": round(s["temp_c"], 2),
            }
        if self.kind == "robot":
            for name in s:
                s[name] = math.remainder(s[name] + r.gauss(0, 0.5), 360.0)
            return {name: round(value, 3) for name, value in s.items()}
        if self.kind == "vision":
            s["frame_id"] += 1
            s["defect_score"] = min(max(s["defect_score"] + r.gauss(0, 0.005), 0.0), 1.0)
            return {
                "frame_id": int(s["frame_id"]),
                "defect_score": round(s["defect_score"], 4),
                "defect": s["defect_score"] > 0.5,
            }
        if self.kind == "env":
            s["temperature_c"] = min(max(s["temperature_c"] + r.gauss(0, 0.02), -10.0), 60.0)
            s["humidity_pct"] = min(max(s["humidity_pct"] + r.gauss(0, 0.05), 5.0), 95.0)
            return {
                "temperature_c": round(s["temperature_c"], 2),
                "humidity_pct": round(s["humidity_pct"], 1),
            }
        s["value"] += r.gauss(0, 0.5)
        return {"value": round(s["value"], 3)}


def payload_json(fields: dict, size: int) -> bytes:
    """``fields`` as compact JSON, with a ``pad`` field of spaces-free filler up to ``size`` bytes
    when the size asks for more than the JSON needs (never shorter than the JSON)."""
    body = json.dumps(fields, separators=(",", ":"))
    missing = size - len(body)
    pad_overhead = len(',"pad":""')
    if missing >= pad_overhead:
        body = body[:-1] + ',"pad":"' + "x" * (missing - pad_overhead) + '"}'
    return body.encode()


# --------------------------------------------------------------------------------------- streams


@dataclass
class LiveStream:
    """One stream of one machine instance, as the live publisher runs it."""

    machine: str  # the class
    stream: str
    instance: int
    topic: str
    qos: int
    schedule: Schedule
    values: Values
    seq: int = 0
    retain: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.machine, self.stream)

    def message(self, size: int, now: float) -> bytes:
        self.seq += 1
        fields = {
            "ts": round(now, 6),
            "seq": self.seq,
            "machine": f"{self.machine}-{self.instance}",
            "class": self.machine,
            "stream": self.stream,
            **self.values.next(),
        }
        return payload_json(fields, size)


def live_streams(scenario: Scenario, seed: int | None = None) -> list[LiveStream]:
    """Every stream instance of ``scenario`` with its schedule (replication 0's draws)."""
    seed = scenario.seed if seed is None else seed
    streams = []
    for class_name, machine in scenario.machines.items():
        for instance in range(machine.count):
            client = f"{class_name}[{instance}]"
            for stream_name, stream in machine.streams.items():
                draws = Draws(component_rng(seed, 0, f"machine:{client}:{stream_name}"))
                streams.append(
                    LiveStream(
                        class_name,
                        stream_name,
                        instance,
                        stream.topic.replace("{id}", str(instance)),
                        stream.qos,
                        Schedule(stream, draws),
                        Values(class_name, stream_name, instance, seed),
                        retain=stream.retain,
                    )
                )
    return streams


def timeline(streams: list[LiveStream], until: float) -> Iterator[tuple[float, LiveStream, int]]:
    """(simulated time, stream, size) of every message before ``until``, in time order."""
    heap: list[tuple[float, int, int]] = []
    pending: dict[int, int] = {}
    for index, stream in enumerate(streams):
        when, size = stream.schedule.advance()
        pending[index] = size
        heapq.heappush(heap, (when, index, size))
    while heap:
        when, index, size = heapq.heappop(heap)
        if when >= until:
            return
        yield when, streams[index], size
        following, next_size = streams[index].schedule.advance()
        heapq.heappush(heap, (following, index, next_size))


# ------------------------------------------------------------------------------------- receiving


@dataclass
class StreamReport:
    """What came back of one stream of the scenario (all its machine instances)."""

    machine: str
    stream: str
    qos: int
    sent: int = 0
    delays: list[float] = field(default_factory=list)
    seen: set[tuple[str, int]] = field(default_factory=set)
    duplicates: int = 0
    late: int = 0  # received, but more than the bound after they were sent

    @property
    def received(self) -> int:
        return len(self.seen)

    @property
    def lost(self) -> int:
        """Sent and not received back (by the end of the drain)."""
        return max(self.sent - self.received, 0)

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.delays, q)) if self.delays else None


class Receiver:
    """The live command's own subscriber: QoS 1, persistent session, resubscribes when needed."""

    def __init__(
        self,
        url: BrokerURL,
        topics: dict[str, tuple[str, str]],
        reports: dict,
        late_after: float = 1.0,
    ) -> None:
        self.topics = topics
        self.reports = reports
        self.late_after = late_after
        self.filters = sorted(set(topics))
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = make_client(
            url, f"factory5g-live-sub-{uuid.uuid4().hex[:8]}", clean_session=False
        )
        self.client.reconnect_delay_set(0.1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.url = url

    def start(self) -> None:
        connect(self.client, self.url)
        self._subscribe()
        if not self.subscribed.wait(5):
            raise LiveError(f"no SUBACK from {self.url}")

    def _subscribe(self) -> None:
        # One subscription per topic, in batches (Mosquitto accepts many filters per SUBSCRIBE).
        for start in range(0, len(self.filters), 100):
            self.client.subscribe([(topic, 1) for topic in self.filters[start : start + 100]])

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure and not flags.session_present and self.subscribed.is_set():
            self._subscribe()  # the broker forgot the session (restart without persistence)

    def _on_message(self, client, userdata, message) -> None:
        now = time.time()
        key = self.topics.get(message.topic)
        if key is None:
            return
        try:
            data = json.loads(message.payload)
            ts, seq = float(data["ts"]), int(data["seq"])
        except (ValueError, KeyError, TypeError):
            return
        report = self.reports[key]
        with self.lock:
            if (message.topic, seq) in report.seen:
                report.duplicates += 1
                return
            report.seen.add((message.topic, seq))
            report.delays.append(now - ts)
            if now - ts > self.late_after:
                report.late += 1

    def received(self) -> int:
        with self.lock:
            return sum(r.received for r in self.reports.values())

    def late(self) -> int:
        with self.lock:
            return sum(r.late for r in self.reports.values())

    def stop(self) -> None:
        disconnect(self.client)


# ------------------------------------------------------------------------------------- running


@dataclass
class LiveResult:
    """What a live run sent and got back: per stream, and how it kept up."""

    reports: list[StreamReport]
    elapsed: float
    sent: int
    late_after: float = 1.0
    drain: float = 3.0
    behind: float = 0.0  # the publisher's largest lag behind the scenario's schedule, seconds

    @property
    def received(self) -> int:
        return sum(r.received for r in self.reports)

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.reports)

    @property
    def late(self) -> int:
        return sum(r.late for r in self.reports)


BEHIND = 0.1  # s: a publisher later than this behind its schedule says so
STATUS_EVERY = 2.0  # s of wall time between status lines


def run_live(
    scenario: Scenario,
    url: BrokerURL,
    *,
    duration: float | None = None,
    speed: float = 1.0,
    seed: int | None = None,
    drain: float = 3.0,
    late_after: float = 1.0,
    stop: threading.Event | None = None,
    log: Callable[[str], None] | None = None,
) -> LiveResult:
    """Publish the scenario's messages to ``url`` in real time (``speed`` times faster) for
    ``duration`` simulated seconds (the scenario's own by default), then wait up to ``drain``
    seconds for the subscriber to receive what was sent; ``stop`` ends it early. A message back
    more than ``late_after`` seconds after it was sent counts as late. ``log`` gets a status line
    every couple of seconds."""
    if speed <= 0:
        raise LiveError("--speed must be positive")
    until = scenario.duration if duration is None else duration
    stop = stop or threading.Event()
    streams = live_streams(scenario, seed)
    reports: dict[tuple[str, str], StreamReport] = {}
    topics: dict[str, tuple[str, str]] = {}
    for s in streams:
        reports.setdefault(s.key, StreamReport(s.machine, s.stream, s.qos))
        topics[s.topic] = s.key

    receiver = Receiver(url, topics, reports, late_after)
    receiver.start()
    publisher = make_client(
        url, f"factory5g-live-pub-{uuid.uuid4().hex[:8]}", clean_session=False, max_inflight=1000
    )
    publisher.reconnect_delay_set(0.1, 1)
    sent = 0
    behind = 0.0
    try:
        connect(publisher, url)
        if log:
            log(f"publishing {len(streams)} streams to {url} for {until:g} s x1/{speed:g}")
        t0 = time.time()
        status_at = t0 + STATUS_EVERY
        for when, stream, size in timeline(streams, until):
            due = t0 + when / speed
            while True:
                wait = due - time.time()
                if wait <= 0 or stop.wait(min(wait, 0.5)):
                    break
            if stop.is_set():
                break
            now = time.time()
            behind = max(behind, now - due)
            publisher.publish(
                stream.topic, stream.message(size, now), qos=stream.qos, retain=stream.retain
            )
            reports[stream.key].sent += 1
            sent += 1
            if log and now >= status_at:
                status_at = now + STATUS_EVERY
                log(status_line(when, until, sent, receiver, late_after, now - due))
        # Wait for the rest to arrive (QoS 0 may never: stop at ``drain``).
        deadline = time.time() + drain
        while time.time() < deadline and receiver.received() < sent and not stop.is_set():
            time.sleep(0.05)
        elapsed = time.time() - t0
    finally:
        disconnect(publisher)
        receiver.stop()
    return LiveResult(list(reports.values()), elapsed, sent, late_after, drain, behind)


def status_line(
    at: float, until: float, sent: int, receiver: Receiver, late_after: float, lag: float
) -> str:
    """What the run has done so far, in words: how far through the scenario, what was published,
    what came back from the broker, what is still on its way, and what came back late."""
    back = receiver.received()
    line = (
        f"{at:.1f} of {until:g} s: {sent} published, {back} received back from the broker, "
        f"{max(sent - back, 0)} still on their way, {receiver.late()} later than {late_after:g} s"
    )
    if lag > BEHIND:
        line += f"; the publisher is {lag:.2f} s behind the scenario's schedule"
    return line


def format_live(result: LiveResult) -> str:
    """The per-stream table printed on exit, and what it says about the broker."""
    lines = [
        f"{'machine':<12} {'stream':<12} {'qos':>3} {'sent':>8} {'received':>9} {'lost':>6} "
        f"{'late':>6} {'dup':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    ]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1e3:.2f}"

    for r in result.reports:
        lines.append(
            f"{r.machine:<12} {r.stream:<12} {r.qos:>3} {r.sent:>8} {r.received:>9} {r.lost:>6} "
            f"{r.late:>6} {r.duplicates:>5} {ms(r.percentile(50)):>8} {ms(r.percentile(99)):>8} "
            f"{ms(r.percentile(100)):>8}"
        )
    lines.append(
        f"{result.sent} sent, {result.received} received back in {result.elapsed:.1f} s; "
        f"lost: not received back within the {result.drain:g} s drain; late: received more than "
        f"{result.late_after:g} s after it was sent"
    )
    if result.lost or result.late:
        lines.append(
            f"the broker fell behind: {result.lost} message(s) lost and {result.late} late; its "
            "figures under this load are not those of a broker that keeps up"
        )
    elif result.sent:
        lines.append(f"the broker kept up: every message came back within {result.late_after:g} s")
    if result.behind > BEHIND:
        lines.append(
            f"the publisher fell {result.behind:.2f} s behind the scenario's schedule: this "
            "machine could not send at the scenario's rate (lower --speed or the machine counts)"
        )
    return "\n".join(lines)


__all__ = [
    "LiveResult",
    "LiveStream",
    "Schedule",
    "Values",
    "format_live",
    "live_streams",
    "payload_json",
    "run_live",
    "timeline",
]
