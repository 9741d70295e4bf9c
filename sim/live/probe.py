"""Measure a real MQTT broker and derive the simulated broker's figures from it.

``factory5g probe URL`` runs four short phases against the broker, each ``duration`` long, with
paho-mqtt clients in this process, on a topic of its own (``factory5g/probe/<run>/...``):

1. **latency**: one publisher sends timestamped messages at a low, steady ``rate``; one subscriber
   records publish-to-deliver latency (both ends read the same clock). Reported as percentiles.
2. **saturation, 1 subscriber**: the publishers send as fast as the in-flight ``window`` allows
   (at most ``window`` messages published and not yet delivered); delivered messages per second,
   after a warm-up of a tenth of the phase, is the broker's throughput X1.
3. **saturation, 2 subscribers**: the same with a second subscriber: X2 messages in per second,
   2 X2 deliveries per second.
4. **saturation, 1 subscriber, large payloads**: phase 2 again with ``large_size`` payloads
   (16384 B unless told; ``0`` skips the phase): XL messages in per second.

The simulated broker (scenario ``brokers:`` block) has one service loop that spends
``service_time`` on each incoming message and ``fanout_time`` on each copy it sends, so a message
with k subscribers costs ``c_k = service_time + k * fanout_time``. Two costs per message, c1 and
c2, give both figures: ``fanout_time = c2 - c1`` and ``service_time = 2 c1 - c2``. The cost comes
from the broker's own CPU time per message when the broker is a process on this machine that
the system shows (``--broker-pid``, or the process listening on the URL's port; read with psutil): that figure holds
even when this Python probe, not the broker, is the bottleneck. Otherwise it is ``c_k = 1 / X_k``,
which is right only when the broker saturates first, so it is an upper bound of the broker's cost.
When the two costs do not give two positive figures (noise: the fan-out share too small to see),
or the 2-subscriber phase was skipped, ``c1`` is split half and half, the project's default
proportion (10 us + 10 us).

The simulated broker also spends ``per_byte_time`` on each byte of an incoming message's payload,
so a message of ``b`` bytes with k subscribers costs ``service_time + per_byte_time * b +
k * fanout_time``. Phases 2 and 4 give the cost of one message with one subscriber at two payload
sizes, ``c1`` at ``size`` (S) and ``cL`` at ``large_size`` (L), from the same source (the broker's
CPU time when every phase has it, else ``1 / X``): ``per_byte_time = (cL - c1) / (L - S)``, 0 when
that comes out negative (noise: the per-byte share too small to see). The figures above then hold
at S bytes, so the per-byte share of them, ``per_byte_time * S``, comes off ``service_time`` (or,
split half and half, off ``c1`` before the split): ``service_time = 2 c1 - c2 - per_byte_time * S``.
The three figures reproduce ``c1``, ``c2`` and ``cL``. When ``per_byte_time * S`` is not less than
``c1`` (a cost that grows faster than the payload), the large phase is left out and
``per_byte_time`` is 0. With the phase skipped the block leaves ``per_byte_time`` out, to the
scenario's default.

``max_queued`` is the broker's ``max_queued_messages`` when its Mosquitto file is known (``--config``,
or a broker started by ``factory5g brokers up``), else Mosquitto's default, 1000.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import psutil
import yaml

from sim.live.mqtt import BrokerURL, ConnectError, connect, disconnect, make_client, subscribe

_HEADER = struct.Struct("<BId")  # phase, sequence number, publish time (time.perf_counter())
MIN_SIZE = _HEADER.size
DEFAULT_MAX_QUEUED = 1000

LIMITS = {
    "rate": (1.0, 100_000.0),
    "duration": (0.2, 120.0),
    "size": (MIN_SIZE, 1_000_000),
    "clients": (1, 16),
    "window": (1, 10_000),
}


@dataclass(frozen=True)
class ProbeSettings:
    """What to send: QoS, low rate for the latency phase, payload size, phase length, publishers."""

    qos: int = 0
    rate: float = 200.0
    size: int = 64
    duration: float = 2.0
    clients: int = 1
    window: int = 100
    fanout: bool = True
    large_size: int = 16384  # payload size of the per-byte phase; 0 skips it

    def check(self) -> None:
        """Raise ValueError naming the first setting out of its range."""
        if self.qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {self.qos}")
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value:g}")
        high = LIMITS["size"][1]
        if self.large_size != 0 and not self.size < self.large_size <= high:
            raise ValueError(
                f"large_size must be more than size ({self.size} B) and at most {high:g} B, "
                f"or 0 to skip the large-payload phase, not {self.large_size}"
            )


@dataclass
class Latency:
    """Publish-to-deliver latency of the low-rate phase, in seconds."""

    rate: float
    sent: int
    received: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float


@dataclass
class Saturation:
    """One saturation phase: messages in per second, and the broker's CPU per message if seen."""

    subscribers: int
    published: int
    delivered: int  # per subscriber (the fewest of them)
    seconds: float  # measured span, after the warm-up
    throughput: float  # messages in per second over the measured span
    broker_cpu: float | None = None  # broker CPU seconds over the measured span
    lost: int = 0
    size: int = 0  # payload bytes

    @property
    def deliveries(self) -> float:
        """Copies sent per second."""
        return self.throughput * self.subscribers

    @property
    def cpu_per_message(self) -> float | None:
        if self.broker_cpu is None or self.throughput <= 0:
            return None
        return self.broker_cpu / (self.throughput * self.seconds)

    @property
    def broker_load(self) -> float | None:
        """Fraction of one CPU the broker used."""
        return None if self.broker_cpu is None else self.broker_cpu / self.seconds


@dataclass
class ProbeResult:
    """Everything a probe measured, and the broker block derived from it."""

    url: str
    settings: ProbeSettings
    started: str
    latency: Latency
    saturation: list[Saturation]
    service_time: float
    fanout_time: float
    max_queued: int
    derivation: str
    max_queued_source: str
    server: str | None = None
    broker_pid: int | None = None
    notes: list[str] = field(default_factory=list)
    per_byte_time: float | None = None  # None: the large-payload phase was skipped

    def broker_block(self) -> dict[str, object]:
        """The ``brokers:`` entry for a scenario, with units."""
        block: dict[str, object] = {
            "service_time": format_seconds(self.service_time),
            "fanout_time": format_seconds(self.fanout_time),
        }
        if self.per_byte_time is not None:
            block["per_byte_time"] = format_seconds(self.per_byte_time)
        block["max_queued"] = self.max_queued
        return block


# ------------------------------------------------------------------------------ broker process


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, or None when it cannot be read (gone,
    or another user's on a system that hides it). Linux counts it in clock ticks (10 ms), so a
    saturation phase of a few seconds reads it to about 1 %."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def find_listener_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` on this machine, when the system lets us see it (all
    of them as root or on Linux; on macOS without root, this user's own processes only)."""

    def listening(connections: list[Any]) -> bool:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections
        )

    try:
        for connection in psutil.net_connections(kind="tcp"):
            if listening([connection]) and connection.pid is not None:
                return connection.pid
    except psutil.AccessDenied:
        pass
    for process in psutil.process_iter():
        try:
            if listening(process.net_connections(kind="tcp")):
                return process.pid
        except psutil.Error:
            continue
    return None


def _is_local(host: str) -> bool:
    if host in ("localhost", "::1") or host.startswith("127."):
        return True
    try:
        return socket.gethostbyname(host).startswith("127.")
    except OSError:
        return False


# ------------------------------------------------------------------------------------ the probe


class _Receiver:
    """A subscriber that counts what arrives for the current phase and keeps latencies."""

    def __init__(self, url: BrokerURL, topic: str, qos: int, run: str, index: int) -> None:
        self.client = make_client(url, f"factory5g-probe-{run}-sub{index}")
        self.client.on_message = self._on_message
        self.topic, self.qos = topic, qos
        self.phase = -1
        self.count = 0
        self.latencies: list[float] = []
        self.keep_latency = False
        self.progress: Callable[[], None] | None = None

    def start(self, url: BrokerURL) -> None:
        connect(self.client, url)
        subscribe(self.client, self.topic, self.qos)

    def reset(self, phase: int, keep_latency: bool) -> None:
        self.phase, self.count, self.keep_latency = phase, 0, keep_latency
        self.latencies = []

    def _on_message(self, client, userdata, message) -> None:
        now = time.perf_counter()
        phase, _, sent = _HEADER.unpack_from(message.payload)
        if phase != self.phase:
            return
        self.count += 1
        if self.keep_latency:
            self.latencies.append(now - sent)
        if self.progress is not None:
            self.progress()


class Probe:
    """The clients of one probe run; ``run()`` does the four phases and derives the figures."""

    def __init__(
        self,
        url: BrokerURL,
        settings: ProbeSettings,
        *,
        broker_pid: int | None = None,
        max_queued: tuple[int, str] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        settings.check()
        self.url = url
        self.settings = settings
        self.run_id = uuid.uuid4().hex[:8]
        self.topic = f"factory5g/probe/{self.run_id}/data"
        self.broker_pid = broker_pid
        self.max_queued = max_queued or (
            DEFAULT_MAX_QUEUED,
            "Mosquitto's default (config not known)",
        )
        self.log = log or (lambda text: None)
        self.publishers = []
        self.receivers: list[_Receiver] = []
        self.notes: list[str] = []
        self._padding = {settings.size: b"\0" * (settings.size - MIN_SIZE)}
        if settings.large_size:
            self._padding[settings.large_size] = b"\0" * (settings.large_size - MIN_SIZE)
        self._wake = threading.Event()
        self._waiting = False
        self._outstanding: Callable[[], int] = lambda: 0

    # -- connections

    def _connect(self) -> None:
        s = self.settings
        for index in range(s.clients):
            client = make_client(
                self.url, f"factory5g-probe-{self.run_id}-pub{index}", max_inflight=s.window
            )
            connect(client, self.url)
            self.publishers.append(client)
        self._add_receiver()

    def _add_receiver(self) -> None:
        receiver = _Receiver(
            self.url, self.topic, self.settings.qos, self.run_id, len(self.receivers)
        )
        receiver.progress = self._on_progress
        self.receivers.append(receiver)
        receiver.start(self.url)

    def close(self) -> None:
        for client in [*self.publishers, *(r.client for r in self.receivers)]:
            disconnect(client)

    def server_version(self, timeout: float = 0.5) -> str | None:
        """What the broker says in ``$SYS/broker/version`` (Mosquitto does), if it says it."""
        got: list[str] = []
        done = threading.Event()
        client = make_client(self.url, f"factory5g-probe-{self.run_id}-sys")

        def on_message(client_, userdata, message):
            got.append(message.payload.decode(errors="replace"))
            done.set()

        client.on_message = on_message
        try:
            connect(client, self.url)
            client.subscribe("$SYS/broker/version", 0)
            done.wait(timeout)
        except ConnectError:
            return None
        finally:
            disconnect(client)
        return got[0] if got else None

    # -- phases

    def _payload(self, phase: int, seq: int, size: int | None = None) -> bytes:
        padding = self._padding[self.settings.size if size is None else size]
        return _HEADER.pack(phase, seq, time.perf_counter()) + padding

    def _wait_delivered(self, receivers: list[_Receiver], expected: int, timeout: float) -> None:
        """Until each of ``receivers`` (those in the phase) has ``expected`` messages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if min(r.count for r in receivers) >= expected:
                return
            time.sleep(0.01)

    def latency_phase(self, phase: int) -> Latency:
        s = self.settings
        receiver = self.receivers[0]
        publisher = self.publishers[0]
        for other in self.receivers[1:]:
            other.reset(-1, keep_latency=False)
        # A few messages first, left out: the first ones on a new connection can wait for TCP.
        receiver.reset(0, keep_latency=False)
        for seq in range(5):
            publisher.publish(self.topic, self._payload(0, seq), qos=s.qos)
            time.sleep(0.002)
        self._wait_delivered([receiver], 5, timeout=1.0)
        receiver.reset(phase, keep_latency=True)
        count = max(1, round(s.rate * s.duration))
        start = time.perf_counter()
        for seq in range(count):
            pause = start + seq / s.rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            publisher.publish(self.topic, self._payload(phase, seq), qos=s.qos)
        self._wait_delivered([receiver], count, timeout=2.0)
        samples = np.array(receiver.latencies) if receiver.latencies else np.array([np.nan])
        p50, p90, p99 = np.percentile(samples, [50, 90, 99])
        return Latency(
            rate=s.rate,
            sent=count,
            received=receiver.count,
            p50=float(p50),
            p90=float(p90),
            p99=float(p99),
            max=float(np.max(samples)),
            mean=float(np.mean(samples)),
        )

    def _on_progress(self) -> None:
        if self._waiting and self._outstanding() < self.settings.window // 2 + 1:
            self._wake.set()

    def saturation_phase(self, phase: int, subscribers: int, size: int | None = None) -> Saturation:
        s = self.settings
        size = s.size if size is None else size
        while len(self.receivers) < subscribers:
            self._add_receiver()
        active = self.receivers[:subscribers]
        for index, receiver in enumerate(self.receivers):
            receiver.reset(phase if index < subscribers else -1, keep_latency=False)
        published = 0
        lost = 0

        def outstanding() -> int:
            return published - lost - min(r.count for r in active)

        self._outstanding = outstanding
        start = time.monotonic()
        warm_at, end_at = start + max(0.1 * s.duration, 0.1), start + s.duration
        warm_mark: tuple[float, int, float | None] | None = None
        cpu = (lambda: _cpu_seconds(self.broker_pid)) if self.broker_pid else (lambda: None)
        publishers = self.publishers
        seq = 0
        while True:
            now = time.monotonic()
            if now >= end_at:
                break
            if warm_mark is None and now >= warm_at:
                warm_mark = (now, min(r.count for r in active), cpu())
            if outstanding() >= s.window:
                self._waiting = True
                self._wake.clear()
                if outstanding() >= s.window and not self._wake.wait(0.5):
                    # Nothing arrived for half a second: count what is missing as lost.
                    missing = outstanding()
                    if missing >= s.window:
                        lost += missing
                self._waiting = False
                continue
            publishers[seq % len(publishers)].publish(
                self.topic, self._payload(phase, seq, size), qos=s.qos
            )
            seq += 1
            published += 1
        end = (time.monotonic(), min(r.count for r in active), cpu())
        if warm_mark is None:
            warm_mark = (start, 0, None)
        seconds = end[0] - warm_mark[0]
        delivered_span = end[1] - warm_mark[1]
        broker_cpu = (
            end[2] - warm_mark[2] if end[2] is not None and warm_mark[2] is not None else None
        )
        # Let the tail drain before the next phase, so it does not load that one.
        self._wait_delivered(active, published - lost, timeout=2.0)
        self._outstanding = lambda: 0
        return Saturation(
            subscribers=subscribers,
            published=published,
            delivered=min(r.count for r in active),
            seconds=seconds,
            throughput=delivered_span / seconds if seconds > 0 else 0.0,
            broker_cpu=broker_cpu,
            lost=max(0, published - min(r.count for r in active)),
            size=size,
        )

    # -- everything

    def run(self) -> ProbeResult:
        s = self.settings
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            self._connect()
            server = self.server_version()
            self.log(f"latency: {s.rate:g} msg/s for {s.duration:g} s at QoS {s.qos}")
            latency = self.latency_phase(1)
            self.log(f"saturation: 1 subscriber, window {s.window}, {s.duration:g} s")
            saturation = [self.saturation_phase(2, 1)]
            if s.fanout:
                self.log(f"saturation: 2 subscribers, window {s.window}, {s.duration:g} s")
                saturation.append(self.saturation_phase(3, 2))
            if s.large_size:
                self.log(
                    f"saturation: 1 subscriber, {s.large_size} B payloads, window {s.window}, "
                    f"{s.duration:g} s"
                )
                saturation.append(self.saturation_phase(4, 1, s.large_size))
        finally:
            self.close()
        costs = derive(saturation)
        if latency.received < latency.sent:
            self.notes.append(
                f"{latency.sent - latency.received} of {latency.sent} latency-phase messages "
                "were not delivered"
            )
        for phase in saturation:
            load = phase.broker_load
            if load is not None and load < 0.8:
                self.notes.append(
                    f"with {phase.subscribers} subscriber(s) and {phase.size} B payloads the "
                    f"broker used {load:.0%} of a CPU: the probe, not the broker, limited the "
                    "throughput"
                )
        return ProbeResult(
            url=str(self.url),
            settings=s,
            started=started,
            latency=latency,
            saturation=saturation,
            service_time=costs.service_time,
            fanout_time=costs.fanout_time,
            max_queued=self.max_queued[0],
            derivation=costs.how,
            max_queued_source=self.max_queued[1],
            server=server,
            broker_pid=self.broker_pid,
            notes=self.notes,
            per_byte_time=costs.per_byte_time,
        )


class Costs(NamedTuple):
    """The simulated broker's figures derived from the saturation phases, and how."""

    service_time: float
    fanout_time: float
    per_byte_time: float | None  # None: no large-payload phase
    how: str


def per_byte_cost(c_small: float, c_large: float, small: int, large: int) -> float:
    """Work per payload byte from the cost of one message at two payload sizes: the slope
    ``(c_large - c_small) / (large - small)``, 0 when it comes out negative (noise)."""
    if large <= small:
        raise ValueError(f"the large size ({large} B) must be more than the small ({small} B)")
    return max(0.0, (c_large - c_small) / (large - small))


def derive(saturation: list[Saturation]) -> Costs:
    """``service_time``, ``fanout_time`` and ``per_byte_time`` from the saturation phases: the first
    is one subscriber at the probe's size, a 2-subscriber phase at that size gives the fan-out, a
    1-subscriber phase at a larger size the per-byte cost (see the module docstring)."""
    by_cpu = all(phase.cpu_per_message for phase in saturation if phase.throughput > 0)

    def cost(phase: Saturation) -> float:
        if phase.throughput <= 0:
            return float("nan")
        return phase.cpu_per_message if by_cpu else 1.0 / phase.throughput

    source = "broker CPU time per message" if by_cpu else "1 / saturation throughput"
    first = saturation[0]
    small = first.size
    c1 = cost(first)
    if not np.isfinite(c1) or c1 <= 0:
        raise ConnectError("no message was delivered in the saturation phase")
    two = next((p for p in saturation if p.subscribers == 2 and p.size == small), None)
    large = next((p for p in saturation if p.subscribers == 1 and p.size > small), None)
    c2 = cost(two) if two is not None else float("nan")

    per_byte: float | None = None
    per_byte_how = ""
    if large is not None:
        c_large = cost(large)
        at = f"c1 = {format_seconds(c1)} at {small} B, cL = {format_seconds(c_large)} at {large.size} B"
        if not np.isfinite(c_large):
            per_byte = 0.0
            per_byte_how = f"; nothing delivered at {large.size} B: per_byte_time 0"
        else:
            per_byte = per_byte_cost(c1, c_large, small, large.size)
            if per_byte * small >= c1:
                per_byte = 0.0
                per_byte_how = f"; {at} grow faster than the payload: per_byte_time 0"
            elif per_byte == 0:
                per_byte_how = f"; {at}: cL < c1 (noise), per_byte_time 0"
            else:
                per_byte_how = f"; {at}: per_byte_time = (cL - c1) / ({large.size} B - {small} B)"
    payload = (per_byte or 0.0) * small  # the per-byte share of c1 and c2
    minus = f" - per_byte_time * {small} B" if payload > 0 else ""

    if np.isfinite(c2):
        fanout, service = c2 - c1, 2 * c1 - c2 - payload
        if fanout > 0 and service > 0:
            return Costs(
                service,
                fanout,
                per_byte,
                f"{source}: c1 = {format_seconds(c1)} with 1 subscriber, c2 = {format_seconds(c2)} "
                f"with 2; fanout_time = c2 - c1, service_time = 2 c1 - c2{minus}{per_byte_how}",
            )
        how = (
            f"{source}: c1 = {format_seconds(c1)}, c2 = {format_seconds(c2)} do not separate the "
            f"fan-out cost; c1{minus} split half and half{per_byte_how}"
        )
    else:
        how = (
            f"{source}: c1 = {format_seconds(c1)} with 1 subscriber, c1{minus} split half and "
            f"half{per_byte_how}"
        )
    half = (c1 - payload) / 2
    return Costs(half, half, per_byte, how)


def probe(
    url: BrokerURL,
    settings: ProbeSettings | None = None,
    *,
    broker_pid: int | None = None,
    config: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> ProbeResult:
    """Probe the broker at ``url``. The broker's process (for its CPU time) is ``broker_pid``, else
    the local process listening on the port if any; its Mosquitto file is ``config``, else the one
    ``brokers up`` recorded for that port, if any."""
    from sim.live.brokers import read_setting, recorded_config

    if broker_pid is None and _is_local(url.host):
        broker_pid = find_listener_pid(url.port)
    config_path = Path(config) if config else recorded_config(url.host, url.port, state_dir)
    max_queued = None
    if config_path is not None:
        value = read_setting(config_path, "max_queued_messages")
        if value is not None and value.isdigit() and int(value) > 0:
            max_queued = (int(value), f"max_queued_messages in {config_path}")
        else:
            max_queued = (DEFAULT_MAX_QUEUED, f"Mosquitto's default ({config_path} sets none)")
    return Probe(
        url, settings or ProbeSettings(), broker_pid=broker_pid, max_queued=max_queued, log=log
    ).run()


# ------------------------------------------------------------------------------------- output


def format_seconds(seconds: float) -> str:
    """A time with a unit the scenario files read, four significant digits."""
    if seconds >= 1:
        return f"{seconds:.4g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.4g}ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.4g}us"
    return f"{seconds * 1e9:.4g}ns"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def table(result: ProbeResult) -> str:
    """The figures as a plain-text table."""
    s, lat = result.settings, result.latency
    rows = [
        f"probe of {result.url}" + (f" ({result.server})" if result.server else ""),
        f"QoS {s.qos}, {s.size} B payloads"
        + (f" ({s.large_size} B in the large-payload phase)" if s.large_size else "")
        + f", {s.clients} publisher(s), {s.duration:g} s per phase",
        "",
        f"latency at {lat.rate:g} msg/s   p50 {_ms(lat.p50)}   p90 {_ms(lat.p90)}   "
        f"p99 {_ms(lat.p99)}   max {_ms(lat.max)}   ({lat.received}/{lat.sent} delivered)",
        "",
        f"{'saturation':<30}{'msg in/s':>12}{'deliveries/s':>14}{'broker CPU':>12}{'CPU/msg':>12}",
    ]
    for phase in result.saturation:
        load = "-" if phase.broker_load is None else f"{phase.broker_load:.0%}"
        per = "-" if phase.cpu_per_message is None else format_seconds(phase.cpu_per_message)
        rows.append(
            f"{f'{phase.subscribers} subscriber(s), {phase.size} B':<30}{phase.throughput:>12,.0f}"
            f"{phase.deliveries:>14,.0f}{load:>12}{per:>12}"
        )
    rows += [
        "",
        f"service_time {format_seconds(result.service_time)}   fanout_time "
        f"{format_seconds(result.fanout_time)}   per_byte_time "
        + (
            "- (not measured)"
            if result.per_byte_time is None
            else f"{format_seconds(result.per_byte_time)}/B"
        )
        + f"   max_queued {result.max_queued}",
        f"  from {result.derivation}",
        f"  max_queued: {result.max_queued_source}",
    ]
    rows += [f"note: {note}" for note in result.notes]
    return "\n".join(rows)


def broker_yaml(result: ProbeResult, name: str = "edge") -> str:
    """A ``brokers:`` block for a scenario, with comments saying how it was measured."""
    s, lat = result.settings, result.latency
    saturation = "; ".join(
        f"{phase.subscribers} subscriber(s) at {phase.size} B {phase.throughput:,.0f} msg/s"
        + (
            f" (broker CPU {format_seconds(phase.cpu_per_message)}/msg)"
            if phase.cpu_per_message
            else ""
        )
        for phase in result.saturation
    )
    comments = [
        f"Measured by `factory5g probe {result.url}` on {result.started}"
        + (f" ({result.server})." if result.server else "."),
        f"QoS {s.qos}, {s.size} B payloads"
        + (f" ({s.large_size} B in the large-payload phase)" if s.large_size else "")
        + f", {s.clients} publisher(s), in-flight window {s.window}, {s.duration:g} s per phase.",
        f"Latency at {lat.rate:g} msg/s, publish to deliver: p50 {_ms(lat.p50)}, "
        f"p99 {_ms(lat.p99)}, max {_ms(lat.max)} ({lat.received} of {lat.sent} delivered).",
        f"Saturation: {saturation}.",
        (
            f"service_time, fanout_time, per_byte_time from {result.derivation}."
            if result.per_byte_time is not None
            else f"service_time, fanout_time from {result.derivation}; per_byte_time not "
            "measured (large-payload phase skipped), left to the scenario's default."
        ),
        f"max_queued: {result.max_queued_source}.",
        *(f"Note: {note}." for note in result.notes),
        "Copy the block into a scenario's brokers: (or rename the broker) to calibrate it.",
    ]
    block = yaml.safe_dump(
        {"brokers": {name: result.broker_block()}}, sort_keys=False, default_flow_style=False
    )
    return "".join(f"# {line}\n" for line in comments) + block
