"""Industrial Wi-Fi: 802.11 DCF on one shared channel, then the access point's backhaul (``kind: wifi``).

What it models (IEEE 802.11-2020 clause 10.3, the distributed coordination function, basic access):

- **Stations.** Every uplink connection's sender (a machine, a bridge) is a station with its own FIFO
  of frames; the access point is one station holding the frames of every downlink connection in one
  FIFO; ``background.count`` more stations (laptops, scanners) each get Poisson frames of
  ``background.size`` bytes at ``background.rate``. All of them contend for the one channel.
- **Frames.** An MQTT message is cut into TCP segments of one MSS (:mod:`sim.models.framing`); each
  segment is an IP packet carried in one data frame with ``mac_overhead`` bytes more (QoS data MAC
  header 26 B, FCS 4 B, LLC/SNAP 8 B) and lasts ``phy_header + bytes * 8 / phy_rate``. A background
  frame carries ``background.size`` bytes of IP packet, plus the same MAC overhead.
- **Access.** A station with a frame at the head of its queue waits until the medium has been idle for
  DIFS = SIFS + 2 slots (10.3.2.3), then counts down a backoff drawn uniformly in ``[0, CW]`` slots and
  transmits when it reaches zero; the counter freezes while the medium is busy (10.3.4.3). Every new
  head-of-line frame takes a fresh backoff (no immediate access on an idle medium), as in Bianchi's
  analysis. Stations whose counters reach zero in the same slot collide.
- **Outcome.** A frame alone on the medium is received unless noise corrupts it (probability
  ``frame_error_rate``); the receiver answers after SIFS with an ACK of ``ack_size`` bytes at
  ``basic_rate``. After a collision or a corrupted frame nobody answers: the senders' ACK timeout
  expires and the other stations defer EIFS = SIFS + ACK time + DIFS (10.3.2.3.7), so the medium is
  busy for the longest frame plus SIFS + ACK + DIFS in every case. A failed sender doubles its window
  (CW <- 2 (CW + 1) - 1, up to ``cw_max``, 10.3.3) and tries again; after ``retry_limit`` transmissions
  the frame is discarded and the window reset, as it is after a success.
- **Aggregation** (``aggregation`` above 1, every profile's default): a station that wins the
  channel sends the head frames that have arrived, for one receiver, as one A-MPDU (10.12): each
  MPDU with a 4-byte delimiter padded to 4 bytes, within the block ACK window (``aggregation``),
  ``max_ampdu`` bytes and ``max_ppdu_time``; the receiver answers with a block ACK of
  ``block_ack_size`` (10.25); noise corrupts each MPDU alone, and the corrupted ones stay at the
  head for the next A-MPDU; only a PPDU with no MPDU through (or a collision) counts as a failed
  transmission. Profiles (``profile: 802.11n | 802.11ac | 802.11ax``,
  :data:`sim.scenario.profiles.WIFI_PROFILES`) set the rate, preamble and aggregation limits.
- **TCP above the MAC.** A frame discarded by the MAC is a lost TCP segment, not a lost message: TCP
  sends it again ahead of its new data, at the head of its station's queue, as soon as it learns of
  the loss: once ``dupack_threshold`` later segments of the connection got through (fast
  retransmit, RFC 5681; the duplicate ACKs take a backhaul round trip), or when its retransmission
  timer expires (Linux minimum 200 ms plus twice the mean ``latency``, counted from when TCP last
  sent it, doubling for each further loss, RFC 6298); a lost retransmission waits for the timer. A
  message is complete when all its frames are acknowledged; it then takes a delay drawn from
  ``latency`` (access point processing and wired backhaul to the broker) and is delivered in order
  on its connection (a late message holds back the connection's later ones).
- **Queues.** A station's own TCP never loses to its driver queue (Linux's TCP Small Queues keep
  what does not fit in the socket). The access point forwards others' segments through a queue of
  ``ap_queue`` frames (default 1000: Linux's ``txqueuelen``): the first segment to meet it full
  is tail-dropped (counted in :class:`WifiStats`), and the senders' congestion control closes
  their windows: what follows waits at the senders, in order, and enters as the queue drains (one
  loss per congestion episode, as TCP Reno sees at a drop-tail queue; the windows' sizes are not
  modelled).

Slot accounting follows Bianchi's Markov chain (G. Bianchi, "Performance Analysis of the IEEE 802.11
Distributed Coordination Function", IEEE JSAC 18(3), 2000): a station whose backoff was running when
the medium went busy counts the busy period as one slot, i.e. it decrements its counter as the DIFS
that follows ends (EDCA resumes its counter likewise one slot before its AIFS ends; Bianchi and
Tinnirello, "Understanding 802.11e Contention-Based Prioritization Mechanisms and Their Coexistence
with Legacy 802.11 Stations", IEEE Network 19(4), 2005), so the model's saturation throughput is the
one Bianchi's fixed point predicts (within 0.5 % for 5 to 30 stations). Legacy DCF's strict freeze
(10.3.4.3: no decrement for a slot found busy) would cost each contender one more idle slot per busy
period: 0.4 to 1.7 % less saturation throughput. Slot boundaries after a busy medium are counted from
its end plus DIFS (or EIFS); on a medium idle for longer, from the moment the first station starts
counting.

Defaults of :class:`sim.scenario.schema.WifiNetwork` and where they come from (the 802.11n profile's;
the others' in :data:`sim.scenario.profiles.WIFI_PROFILES`):

- ``phy_rate`` 65 Mbit/s: 802.11n (HT, clause 19) MCS 7, 20 MHz, one spatial stream, 800 ns guard
  interval (Table 19-27).
- ``basic_rate`` 24 Mbit/s: the highest mandatory OFDM rate, the rate of the ACK answering a data
  frame sent at 24 Mbit/s or more (control response rate rules, 10.6.6.5).
- ``slot_time`` 9 us, ``sifs`` 16 us, ``cw_min`` 15, ``cw_max`` 1023: the OFDM PHY characteristics
  (aSlotTime, aSIFSTime, aCWmin, aCWmax; 17.4.4, shared by the HT PHY in the 5 GHz band).
- ``phy_header`` 36 us: the HT-mixed preamble of a one-stream data frame (L-STF 8, L-LTF 8, L-SIG 4,
  HT-SIG 8, HT-STF 4, HT-LTF 4 us; 19.3.2); ``ack_header`` 20 us: the legacy OFDM preamble (16 us)
  and SIGNAL field (4 us) of the ACK, sent in a non-HT format (17.3.3).
- ``mac_overhead`` 38 B: QoS data MAC header 26 B, FCS 4 B, LLC/SNAP 8 B (9.3.2.1, IEEE 802.2).
- ``ack_size`` 14 B: frame control, duration, receiver address, FCS (9.3.1.3).
- ``retry_limit`` 7: dot11ShortRetryLimit (Annex C), for frames sent without RTS/CTS.

What it omits: RTS/CTS, A-MSDU, OFDMA and MU-MIMO (802.11ax's multi-user modes), per-MPDU retry
counters within an A-MPDU, rate adaptation (one ``phy_rate`` for every frame), EDCA access
categories (every station uses DCF), background stations' aggregation, hidden stations and
capture (every station hears every other; colliding frames are all lost), power save, beacons and
management frames, propagation delay (about 0.1 us across a hall), the PHY's service and tail bits and
its rounding to whole 4 us OFDM symbols, and TCP's own congestion window (after a timeout the
connection's later segments keep flowing; only their delivery waits).

The channel takes one SimPy event per transmission while any station has a frame and none while all
queues are empty; arrivals from several senders into the access point's queue use
:func:`sim.models.events.ordered_entry`, and a station fed by one sender takes its frames at once,
even for a future arrival time (the frame cannot be sent before its arrival plus DIFS).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.events import Arrival, ordered_entry
from sim.models.framing import Framing
from sim.models.laws import is_constant, sampler
from sim.models.links.base import Connection, Deliver, Direction, Link
from sim.models.links.tcp import MAX_RTO
from sim.models.message import Packet
from sim.scenario.schema import WifiNetwork

_EPS = 1e-9  # slots: a station ready exactly on a slot boundary counts from that boundary


class WifiStats:
    """What the channel has done so far: transmissions, collisions, losses, delivered bytes."""

    __slots__ = (
        "attempts",
        "busy",
        "collisions",
        "drops",
        "errors",
        "longest_queue",
        "payload_bytes",
        "queue_drops",
        "resent",
        "successes",
    )

    def __init__(self) -> None:
        self.attempts = 0  # frames put on the air (a collision of k frames counts k)
        self.collisions = 0  # frames lost to a collision
        self.errors = 0  # frames alone on the air but corrupted by noise
        self.successes = 0  # frames acknowledged
        self.drops = 0  # frames discarded after retry_limit transmissions
        self.queue_drops = 0  # frames refused by a full station or access-point queue
        self.resent = 0  # lost segments TCP sent again (fast retransmit or timeout)
        self.longest_queue = 0  # most frames a station or the access point held at once
        self.payload_bytes = 0.0  # IP packet bytes of the acknowledged frames
        self.busy = 0.0  # seconds of medium busy (frames, SIFS, ACK, DIFS/EIFS)

    @property
    def collision_probability(self) -> float:
        """The chance that a transmitted frame collides (Bianchi's conditional collision ``p``)."""
        return self.collisions / self.attempts if self.attempts else 0.0


class _Message:
    """A message on its way through the channel: complete when its last frame is acknowledged."""

    __slots__ = ("deliver_at", "frames_left", "packet")

    def __init__(self, packet: Packet, frames: int) -> None:
        self.packet = packet
        self.frames_left = frames
        self.deliver_at = -1.0


class _Flow:
    """One connection across the channel: its messages in send order, released in that order, and
    its segments lost on the way that TCP has yet to send again."""

    __slots__ = ("conn", "counting", "holes", "pending")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pending: deque[_Message] = deque()
        self.holes: set[_Frame] = set()  # lost, not yet sent again
        self.counting: list[_Frame] = []  # of those, first losses counting duplicate ACKs


class _Frame:
    """A data frame in a station's queue. Background frames have no message."""

    __slots__ = (
        "air",
        "arrival",
        "dupacks",
        "flow",
        "message",
        "payload",
        "resent",
        "rto",
        "station",
    )

    def __init__(
        self,
        station: _Station,
        arrival: float,
        air: float,
        payload: float,
        message: _Message | None = None,
        flow: _Flow | None = None,
        rto: float = 0.0,
    ) -> None:
        self.station = station
        self.arrival = arrival  # when TCP (or the background source) handed it to the station
        self.air = air  # seconds on the air
        self.payload = payload  # IP packet bytes
        self.message = message
        self.flow = flow
        self.rto = rto
        self.dupacks = 0  # lost: later segments of its connection acknowledged since
        self.resent = False  # sent again by TCP at least once


class _Background:
    """A background station's Poisson source: the next frame is drawn when the station needs it."""

    __slots__ = ("air", "draws", "mean_gap", "payload")

    def __init__(self, mean_gap: float, air: float, payload: float, draws: Draws) -> None:
        self.mean_gap = mean_gap
        self.air = air
        self.payload = payload
        self.draws = draws


class _Station:
    """A contender: its queue, backoff counter, contention window and the head frame's tries."""

    __slots__ = ("b", "background", "cw", "name", "queue", "ready", "tries")

    def __init__(self, name: str, background: _Background | None = None) -> None:
        self.name = name
        self.background = background
        self.queue: deque[_Frame] = deque()
        self.b = 0  # backoff slots left
        self.cw = 0
        self.tries = 0  # transmissions of the head frame so far
        self.ready = 0.0  # earliest time its backoff may count: head frame's arrival + DIFS


class WifiLink(Link):
    """802.11 DCF on one channel shared by both directions, then a ``latency`` law to the broker."""

    kind = "wifi"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        config: WifiNetwork,
        rng_for: Callable[[str], Draws],
    ) -> None:
        super().__init__(env, name, rng_for)
        self.config = config
        self.framing = Framing(config.mtu, None, link_bytes=config.mac_overhead, min_frame=0.0)
        self.draws = rng_for(f"network:{name}")
        latency_draws = rng_for(f"network:{name}:latency")
        self.latency = sampler(config.latency, latency_draws)
        self.constant_latency = config.latency.mean if is_constant(config.latency) else None
        self.backhaul_rtt = 2.0 * config.latency.mean
        self.slot = config.slot_time
        self.difs = config.sifs + 2.0 * config.slot_time
        self.ack_time = config.ack_header + config.ack_size * 8.0 / config.basic_rate
        self.block_ack_time = config.ack_header + config.block_ack_size * 8.0 / config.basic_rate
        # after every transmission, successful or not: SIFS + ACK (or ACK timeout / EIFS) + DIFS
        self.after = config.sifs + self.ack_time + self.difs
        self.stats = WifiStats()

        self.stations: list[_Station] = []
        self.active: list[_Station] = []  # stations with a head frame
        self.idle_from = 0.0  # end of the last busy period plus DIFS/EIFS
        self.resume = 0.0  # slot 0 of the current contention: max(idle_from, first ready)
        self.slot_index = -1  # slot of the next transmission, -1 when none is scheduled
        self.generation = 0  # the scheduled event is current only if it carries this number
        self.flows: list[_Flow] = []
        self.access_point: _Station | None = None
        self.ap_waiting: deque[_Frame] = deque()  # at their senders: the access point is full
        self.congested: set[_Flow] = set()  # connections whose window closed after a tail drop
        self._started = False

    # ------------------------------------------------------------------------------ connections

    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        self.start()
        flow = _Flow(Connection(client, direction, sink))
        self.flows.append(flow)
        if direction == "down":
            if self.access_point is None:
                self.access_point = self._add_station("access-point")
            station = self.access_point
        else:
            station = self._add_station(client)
            feeders = 1  # the station's own sender, in time order

        def offer(packet: Packet, when: float) -> None:
            self._accept(station, flow, packet, when)

        return ordered_entry(self.env, offer, feeders)

    def counters(self) -> dict[str, float]:
        stats = self.stats
        return {
            "transmissions": stats.attempts,
            "collisions": stats.collisions,
            "errors": stats.errors,
            "mac_drops": stats.drops,
            "queue_drops": stats.queue_drops,
            "resent": stats.resent,
            "longest_queue": stats.longest_queue,
        }

    def usage(self, duration: float) -> dict[str, float]:
        """The share of ``duration`` the medium was busy (frames, SIFS, ACKs, DIFS/EIFS), the same
        for both directions: they share it."""
        share = self.stats.busy / duration if duration > 0 else 0.0
        return {"up": share, "down": share}

    def held(self) -> list[Packet]:
        """Messages not yet complete (on the air, in a queue, at a sender waiting for the access
        point, lost and waiting to be sent again), or complete but waiting for an earlier one."""
        return [message.packet for flow in self.flows for message in flow.pending]

    def air_time(self, ip_bytes: float) -> float:
        """Seconds on the air of a data frame carrying an IP packet of ``ip_bytes``."""
        config = self.config
        return config.phy_header + (ip_bytes + config.mac_overhead) * 8.0 / config.phy_rate

    def _add_station(self, name: str, background: _Background | None = None) -> _Station:
        station = _Station(name, background)
        self.stations.append(station)
        return station

    def start(self) -> None:
        """Create the background stations, once the network carries any connection."""
        if self._started:
            return
        self._started = True
        bg = self.config.background
        if bg is None:
            return
        mean_gap = 8.0 * bg.size / bg.rate
        air = self.air_time(bg.size)
        for i in range(bg.count):
            draws = self.rng_for(f"network:{self.name}:background:{i}")
            station = self._add_station(
                f"background:{i}", _Background(mean_gap, air, bg.size, draws)
            )
            first = mean_gap * draws.exponential() + self.env.now
            station.queue.append(_Frame(station, first, air, bg.size))
            self._join(station)
        self._schedule()

    # ------------------------------------------------------------------------------ arrivals

    def _accept(self, station: _Station, flow: _Flow, packet: Packet, when: float) -> None:
        """TCP hands a message's segments to the station at ``when`` (now or later)."""
        msg = packet.msg
        count, full, last = self.framing.frames(
            msg.payload, packet.topic, packet.qos, packet.record
        )
        message = _Message(packet, count)
        flow.pending.append(message)
        config = self.config
        per_byte = 8.0 / config.phy_rate
        header = config.phy_header
        queue = station.queue
        was_idle = not queue
        # A station's own TCP never loses to its driver queue: Linux's TCP Small Queues keep what
        # does not fit in the socket. The access point forwards others' segments: it tail-drops.
        at_ap = station is self.access_point
        limit = config.ap_queue if at_ap else math.inf
        stats = self.stats
        for i in range(count):
            size = full if i < count - 1 else last
            frame = _Frame(
                station,
                when,
                header + size * per_byte,
                size - config.mac_overhead,
                message,
                flow,
                self.tcp.min_rto + self.backhaul_rtt,
            )
            if at_ap and (len(queue) >= limit or self.ap_waiting):
                self._overflow(flow, frame, when)
            else:
                queue.append(frame)
        if len(queue) > stats.longest_queue:
            stats.longest_queue = len(queue)
        if was_idle and queue:
            self._join(station)
            self._schedule()

    def _overflow(self, flow: _Flow, frame: _Frame, when: float) -> None:
        """A segment for the full access point: the first to reach it is tail-dropped (a loss TCP
        recovers by fast retransmit or timeout); the senders' congestion control then closes their
        windows, so what follows waits in their sockets, in order, and enters the access point as
        its queue drains (a loss only where a sent segment meets a full queue, once per
        congestion episode, as TCP Reno sees at a drop-tail queue)."""
        full = len(self.access_point.queue) >= self.config.ap_queue  # type: ignore[union-attr]
        if full and not self.ap_waiting and flow not in self.congested:
            self.congested.add(flow)
            self.stats.queue_drops += 1
            self._lost(frame, when)
        else:
            self.ap_waiting.append(frame)

    def _admit(self, now: float) -> None:
        """A frame left the access point (it stays a contender while it has frames): segments
        waiting at their senders come in, in order, as far as there is room."""
        ap = self.access_point
        assert ap is not None
        queue, waiting, limit = ap.queue, self.ap_waiting, self.config.ap_queue
        while waiting and len(queue) < limit:
            frame = waiting.popleft()
            if frame.arrival < now:
                frame.arrival = now
            queue.append(frame)

    def _lost(self, frame: _Frame, when: float) -> None:
        """A segment is lost (the MAC gave up on it, or a full queue refused it): TCP sends it
        again once ``dupack_threshold`` later segments of its connection got through (fast
        retransmit, the duplicate ACKs a backhaul round trip later) or its timer, started when TCP
        last sent it, expires (RFC 5681, RFC 6298), whichever comes first."""
        flow = frame.flow
        assert flow is not None
        flow.holes.add(frame)
        if not frame.resent:  # a lost retransmission is left to the timer (no SACK, RFC 5681)
            frame.dupacks = 0
            flow.counting.append(frame)
        deadline = frame.arrival + frame.rto
        frame.rto = min(2.0 * frame.rto, MAX_RTO)
        Arrival(self.env, deadline if deadline > when else when, self._resend, frame)

    def _resend(self, frame: _Frame, when: float) -> None:
        """TCP sends the lost segment again, ahead of its new data (Linux puts a retransmission
        at the head of what it sends): at the front of its station's queue."""
        flow = frame.flow
        if flow is None or frame not in flow.holes:
            return  # already sent again by the other of timeout and fast retransmit
        flow.holes.discard(frame)
        if frame in flow.counting:
            flow.counting.remove(frame)
        frame.resent = True
        self.congested.discard(flow)
        station = frame.station
        queue = station.queue
        frame.arrival = when
        self.stats.resent += 1
        queue.appendleft(frame)
        if len(queue) == 1:
            self._join(station)
        elif station.ready > when + self.difs:
            station.ready = when + self.difs  # the head waited for a frame not yet arrived
        self._schedule()

    def _acknowledged(self, flow: _Flow, acked: float) -> None:
        """A later segment of the connection got through: one more duplicate ACK for its holes."""
        threshold = self.tcp.dupack_threshold
        done = []
        for hole in flow.counting:
            hole.dupacks += 1
            if hole.dupacks == threshold:
                Arrival(self.env, acked + self.backhaul_rtt, self._resend, hole)
                done.append(hole)
        for hole in done:
            flow.counting.remove(hole)

    def _join(self, station: _Station) -> None:
        """A station's queue was empty and now has a head frame: fresh window and backoff."""
        cw = self.config.cw_min
        station.cw = cw
        station.tries = 0
        station.b = int(self.draws.uniform() * (cw + 1))
        station.ready = station.queue[0].arrival + self.difs
        self.active.append(station)

    # ------------------------------------------------------------------------------ the channel

    def _schedule(self) -> None:
        """Find the next transmission slot and hold an event for it (replacing a stale one)."""
        active = self.active
        if not active:
            self.slot_index = -1
            self.generation += 1
            return
        resume = self.idle_from
        first = min(station.ready for station in active)
        if first > resume:
            resume = first
        slot = self.slot
        ceil = math.ceil
        best = -1
        for station in active:
            ready = station.ready
            start = 0 if ready <= resume else ceil((ready - resume) / slot - _EPS)
            target = start + station.b
            if best < 0 or target < best:
                best = target
        if resume == self.resume and best == self.slot_index:
            return
        self.resume = resume
        self.slot_index = best
        self.generation += 1
        Arrival(self.env, resume + best * slot, self._transmit, self.generation)

    def _transmit(self, generation: int, now: float) -> None:
        """The scheduled slot has come: who transmits, and what happens to each station."""
        if generation != self.generation:
            return
        resume = self.resume
        index = self.slot_index
        self.slot_index = -1  # this event is spent
        slot = self.slot
        ceil = math.ceil
        senders: list[tuple[_Station, int]] = []
        longest = 0.0
        response = self.ack_time
        for station in self.active:
            ready = station.ready
            start = 0 if ready <= resume else ceil((ready - resume) / slot - _EPS)
            if start + station.b == index:
                count, air = self._burst(station, now)
                senders.append((station, count))
                if air > longest:
                    longest = air
                if count > 1:
                    response = self.block_ack_time
            elif start <= index:
                # idle slots counted down, and the busy period counts as one more (Bianchi)
                station.b -= index - start + 1
        stats = self.stats
        stats.attempts += len(senders)
        acked = now + longest + self.config.sifs + response  # (block) ACK end, or its timeout
        self.idle_from = acked + self.difs
        stats.busy += self.idle_from - now
        if len(senders) == 1:
            station, count = senders[0]
            fer = self.config.frame_error_rate
            if count > 1:
                self._block(station, acked, count)
            elif not fer or self.draws.uniform() >= fer:
                self._success(station, acked, [station.queue.popleft()])
            else:
                stats.errors += 1
                self._failure(station, acked, 1)
        else:
            stats.collisions += len(senders)
            for station, count in senders:
                self._failure(station, acked, count)
        self.active = [station for station in self.active if station.queue]
        self._schedule()

    def _burst(self, station: _Station, now: float) -> tuple[int, float]:
        """How many head frames the station sends in one PPDU, and its time on the air: one, or
        with aggregation an A-MPDU of the head frames that have arrived, for one receiver, each
        MPDU with its 4-byte delimiter padded to 4 bytes (IEEE 802.11-2020 9.7), within the
        block ACK window, ``max_ampdu`` and ``max_ppdu_time``."""
        queue = station.queue
        config = self.config
        if config.aggregation == 1 or len(queue) == 1:
            return 1, queue[0].air
        receiver = queue[0].flow.conn.name if station is self.access_point else None  # type: ignore[union-attr]
        per_byte = 8.0 / config.phy_rate
        air = config.phy_header
        size = 0.0
        count = 0
        for frame in queue:
            if count == config.aggregation or frame.arrival > now + 1e-12:
                break
            if receiver is not None and frame.flow.conn.name != receiver:  # type: ignore[union-attr]
                break
            mpdu = 4.0 * math.ceil((frame.payload + config.mac_overhead + 4.0) / 4.0)
            if count and (
                size + mpdu > config.max_ampdu or air + mpdu * per_byte > config.max_ppdu_time
            ):
                break
            size += mpdu
            air += mpdu * per_byte
            count += 1
        if count <= 1:
            return 1, queue[0].air
        return count, air

    def _block(self, station: _Station, acked: float, count: int) -> None:
        """An A-MPDU alone on the air: each MPDU is received unless noise corrupts it; the block
        ACK names the ones to send again, which stay at the head. If none got through there is
        no block ACK: a failure like a collision."""
        fer = self.config.frame_error_rate
        queue = station.queue
        frames = [queue.popleft() for _ in range(count)]
        failed = [bool(fer) and self.draws.uniform() < fer for _ in frames]
        if all(failed):
            queue.extendleft(reversed(frames))
            self.stats.errors += count
            self._failure(station, acked, count)
            return
        self.stats.errors += sum(failed)
        queue.extendleft(reversed([f for f, bad in zip(frames, failed, strict=True) if bad]))
        self._success(station, acked, [f for f, bad in zip(frames, failed, strict=True) if not bad])

    def _success(self, station: _Station, acked: float, frames: list[_Frame]) -> None:
        """``frames``, taken from the station's queue, were acknowledged at ``acked``."""
        stats = self.stats
        self._next_frame(station, frames[-1])
        for frame in frames:
            stats.successes += 1
            stats.payload_bytes += frame.payload
            message = frame.message
            if message is None:
                continue
            if frame.flow.counting:  # type: ignore[union-attr]
                self._acknowledged(frame.flow, acked)  # type: ignore[arg-type]
            message.frames_left -= 1
            if not message.frames_left:
                constant = self.constant_latency
                message.deliver_at = acked + (constant if constant is not None else self.latency())
                # last: a sink may hand a copy straight back to this channel's access point
                self._release(frame.flow)  # type: ignore[arg-type]

    def _failure(self, station: _Station, acked: float, count: int) -> None:
        """The station's ``count`` head frames went unacknowledged: a wider window and another
        try, or, after ``retry_limit`` transmissions, the MAC gives up on them."""
        station.tries += 1
        config = self.config
        if station.tries < config.retry_limit:
            cw = 2 * (station.cw + 1) - 1
            station.cw = cw if cw < config.cw_max else config.cw_max
            station.b = int(self.draws.uniform() * (station.cw + 1))
            return
        for _ in range(count):
            frame = station.queue.popleft()
            self.stats.drops += 1
            if frame.message is not None:
                self._lost(frame, acked)
        self._next_frame(station, frame)

    def _next_frame(self, station: _Station, done: _Frame) -> None:
        """The head frame left (acknowledged or discarded): the next one starts a fresh backoff."""
        background = station.background
        if background is not None:
            arrival = done.arrival + background.mean_gap * background.draws.exponential()
            station.queue.append(_Frame(station, arrival, background.air, background.payload))
        cw = self.config.cw_min
        station.cw = cw
        station.tries = 0
        if station is self.access_point and self.ap_waiting:
            self._admit(self.idle_from)
        if station.queue:
            station.b = int(self.draws.uniform() * (cw + 1))
            station.ready = station.queue[0].arrival + self.difs

    def _release(self, flow: _Flow) -> None:
        """Deliver the connection's complete messages that no earlier message holds back."""
        pending = flow.pending
        deliver = flow.conn.deliver
        while pending and not pending[0].frames_left:
            message = pending.popleft()
            deliver(message.packet, message.deliver_at)
