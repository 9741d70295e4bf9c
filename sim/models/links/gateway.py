"""Legacy devices behind a fieldbus gateway that polls them and publishes for them (``kind: gateway``).

Machines too old to speak MQTT (drives, PLCs, meters on Modbus/TCP or PROFIBUS DP) are read by a
gateway, which publishes their values over its one MQTT connection. The gateway runs a poll loop: a
cycle starts every ``poll_period`` (from a phase drawn once from the gateway's own generator), and in
each cycle it reads the devices one after another in a fixed order (the order they were attached), one
``transaction_time`` each. Device ``i`` of ``n`` is therefore read at::

    s_i(k) = phase + i * transaction_time + k * cycle,   cycle = max(poll_period, n * transaction_time)

(a poll loop whose reads take longer than ``poll_period`` starts its next cycle when the last read
ends). The read answers with the device register's value at the start of the transaction; once the
transaction is over and after ``processing``, the gateway publishes that value, as the MQTT message the
device would have sent (same topic, payload and publish time), across the ``upstream`` network, or
straight to the broker when there is none. A sample published at ``t`` thus reaches the upstream
network at ``s_i(k) + transaction_time + processing`` for the first read with ``s_i(k) >= t``: its
age includes the wait for the poll, half a cycle on average for a device whose samples fall at random
in the cycle.

A register holds one value. A device that produced several samples of a stream since its last read
yields only the newest; the older ones were overwritten in the register and are never transmitted.
They count as dropped, for every row of the message, at the moment the newer sample overwrote them,
so that published = delivered + dropped + in flight still holds. A stream slower than the cycle never
loses a sample. Each stream of a device is its own register, read in the same transaction. A read
that finds nothing new publishes nothing (report by exception: an unchanged value is not sent again).
Samples still in the registers at the end of a run are in flight (:meth:`GatewayLink.held`).

Every device shares the gateway's one TCP connection across the upstream network, so a message late
on that network holds back the gateway's later messages, whichever device they came from.

When the scenario does not give ``transaction_time``, it follows the protocol: Modbus/TCP 2 ms (the
schema's default: a request and response on the LAN plus the device's answer, from about 1 ms for
an I/O coupler to several ms for a PLC whose Ethernet module answers between scans, e.g. 2.5 ms fixed
processing plus scan time in Mitsubishi's MELSEC iQ-R RJ71EN71 manual), PROFIBUS DP 0.3 ms (a data
exchange with one slave at 1.5 Mbit/s: about 300 bit times of telegram overhead and idle time plus 11
bit times per data byte, i.e. 0.2 ms plus 0.12 ms for 8 bytes each way; the estimation formula of
the PROFIBUS manual at felser.ch, "Cycle times", and the 224 us + 7 us/byte of Saia-Burgess PCD
manuals).

What it omits: the fieldbus itself is not shared with other masters (no PROFIBUS token rotation, no
second Modbus client); reads never fail or time out; register values are not batched into one
message (each stream's sample is its own PUBLISH); the device's own delay between producing a value
and holding it in the register; a gateway that publishes on a timer whether or not a value changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.events import Arrival
from sim.models.links.base import Deliver, Direction, Link
from sim.models.message import Packet
from sim.scenario.schema import GatewayNetwork

# Transaction time when the scenario does not give one (see the module docstring for the sources).
TRANSACTION_TIME: dict[str, float] = {"modbus_tcp": 2e-3, "profibus_dp": 0.3e-3}


class _Device:
    """One polled device: its registers (one per stream) and the read that will take them."""

    __slots__ = ("gateway", "index", "name", "read_at", "registers")

    def __init__(self, gateway: GatewayLink, index: int, name: str) -> None:
        self.gateway = gateway
        self.index = index
        self.name = name
        self.registers: dict[object, Packet] = {}
        self.read_at: float | None = None  # the read already scheduled to take the registers

    def write(self, packet: Packet, when: float) -> None:
        """The device holds a new sample in the register of its stream (calls come in time order)."""
        msg = packet.msg
        registers = self.registers
        old = registers.get(msg.stream)
        if old is not None:  # overwritten before any read took it: never transmitted
            for row in old.rows:
                row.drop(old.msg, when)
        registers[msg.stream] = packet
        if self.read_at is None:
            gateway = self.gateway
            self.read_at = gateway.next_read(self.index, when)
            Arrival(gateway.env, self.read_at, self._read, None)

    def _read(self, _item: None, when: float) -> None:
        self.read_at = None
        packets = list(self.registers.values())
        self.registers.clear()
        if len(packets) > 1:
            packets.sort(key=lambda packet: packet.msg.t_pub)
        gateway = self.gateway
        publish = gateway.publish
        assert publish is not None
        out = when + gateway.transaction_time + gateway.processing
        for packet in packets:
            publish(packet, out)


class GatewayLink(Link):
    """A fieldbus gateway: polls its devices every cycle and publishes their newest samples."""

    kind = "gateway"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        config: GatewayNetwork,
        rng_for: Callable[[str], Draws],
    ) -> None:
        super().__init__(env, name, rng_for)
        self.config = config
        self.draws = rng_for(f"network:{name}")
        self.poll_period = config.poll_period
        self.transaction_time = (
            config.transaction_time
            if config.transaction_time is not None
            else TRANSACTION_TIME[config.protocol]
        )
        self.processing = config.processing
        self.phase = self.poll_period * self.draws.uniform()
        self.cycle = self.poll_period
        self.devices: list[_Device] = []
        self.upstream: Link | None = None
        self.upstream_feeders = 0
        self.publish: Deliver | None = None  # the gateway's one connection, made on first connect

    def bind_upstream(self, upstream: Link | None, feeders: int) -> None:
        self.upstream = upstream
        self.upstream_feeders = feeders

    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        """Attach device ``client`` (read after those attached before it); its samples go to ``sink``.

        The first call opens the gateway's own connection to ``sink``, across the upstream network
        when there is one; every device shares it.
        """
        if direction != "up":
            raise ValueError(f"gateway {self.name}: devices behind a gateway only publish")
        if self.publish is None:
            if self.upstream is not None:
                self.publish = self.upstream.connect(
                    f"gateway:{self.name}", "up", sink, self.upstream_feeders
                )
            else:
                self.publish = sink
        device = _Device(self, len(self.devices), client)
        self.devices.append(device)
        self.cycle = max(self.poll_period, len(self.devices) * self.transaction_time)
        return device.write

    def next_read(self, index: int, when: float) -> float:
        """When the first read of device ``index`` at or after ``when`` starts."""
        offset = self.phase + index * self.transaction_time
        cycle = self.cycle
        k = math.ceil((when - offset) / cycle)
        start = offset + (k if k > 0 else 0) * cycle
        return start if start >= when else start + cycle  # rounding in the division

    def held(self) -> list[Packet]:
        """Samples in the devices' registers that no read has taken yet."""
        return [packet for device in self.devices for packet in device.registers.values()]
