"""A private 5G NR cell at slot level (``kind: nr5g``): frame structure, uplink access, scheduling, HARQ.

What it models (TS 38.211/38.213/38.214/38.321 terms):

- **Frame structure.** Numerology mu: slots of 1 ms / 2^mu, 14 symbols each. A TDD pattern of D, S
  and U slots repeats (``DDDSU``); the special slot splits into downlink, guard and uplink symbols
  (``10:2:2``); ``FDD`` makes every slot both. Uplink data (PUSCH) goes in U slots, or with
  ``mini_slot`` in every run of that many uplink symbols (also in the special slot's uplink part).
- **Uplink access, grant based.** A UE with new data waits for its next scheduling-request (SR)
  occasion (the uplink part of every ``sr_period``-th uplink-capable slot); the gNB has the SR at the
  end of that part, needs ``gnb_processing``, sends the grant in the next slot with a PDCCH (D or S),
  and the PUSCH comes in the first uplink opportunity at least ``k2`` slots and ``ue_processing``
  after the grant. While data remains the buffer status reports keep the UE scheduled in every
  uplink opportunity; when its buffer empties, the next data needs a new SR.
- **Uplink access, configured grant** (type 1, TS 38.321 5.8.2). Each UE with a configured grant
  holds ``ceil(cg_size / bytes per PRB)`` PRBs in one occasion of every ``cg_period``, whether or
  not it has data: that is the price of configured grant. The occasions are the full-length uplink
  opportunities (U slots, or mini-slots); within a period of several of them the gNB spreads its
  UEs round robin (UE ``i`` of a machine class takes the ``i``-th, modulo their number), as a
  planner staggers the time-domain offsets. An occasion carries up to its grant of whatever the UE
  had ``ue_processing`` before it; data left over is reported in that PUSCH (BSR) and goes in the
  next occasion or in a dynamic grant as above, whichever comes first. A slice may give its machines
  their own access, period and size; the rest use the cell's. :func:`configured_grant_load` is the
  admission check: no opportunity may be promised more PRBs than the cell has.
- **Capacity and scheduling.** PRBs from the bandwidth and numerology (TS 38.101-1/-2 Table 5.3.2-1),
  bytes per PRB from 12 subcarriers x symbols x the MCS's spectral efficiency (TS 38.214 Table
  5.1.3.1-1) x layers x (1 - overhead), each direction with its own layers and overhead (TS 38.306
  4.1.2: 0.14 downlink, 0.08 uplink in FR1). With ``special_slot_data`` the special slot's uplink
  symbols carry PUSCH (mapping type B) besides the SR, and its downlink symbols PDSCH. Each
  opportunity's PRBs are shared among the UEs that may send in it: HARQ retransmissions and the
  configured grants' reservations first, then dynamic grants by round robin (equal shares,
  water-filled), proportional fair (least served first) or strict priority (slice priority, then
  stream priority); slices first give their members a reserved share of the PRBs left. A message
  larger than an allocation is segmented over several opportunities (RLC segmentation).
- **HARQ.** Each transport block fails with probability ``bler`` (``uplink_bler``), each of its
  retransmissions, soft-combined with what came before (incremental redundancy, TS 38.212
  5.4.2), with ``retransmission_bler``; a retransmission goes in the first
  opportunity at least as long that the feedback allows (uplink: a new grant after the gNB decoded;
  downlink: the UE's NACK in the next PUCCH symbols, then the gNB's processing, and no sooner than
  ``harq_rtt`` after the failed one), and takes as many resource elements there; after
  ``max_transmissions`` failures RLC recovers the data ``rlc_retransmission`` later. The gNB decodes
  in ``gnb_processing``; PDCP delivers a UE's messages in order.
- **Core.** ``core_latency`` from the gNB through the UPF to the broker (and back for the downlink).
- **Downlink** (brokers to subscribers on the radio): the gNB schedules the D slots and the special
  slot's downlink symbols among the UEs with data (round robin), with HARQ as above; the UE decodes in
  ``ue_processing``.

What it omits: channel quality varying over time and link adaptation (one MCS for every UE),
PUCCH/SRS resource limits, the first grant's size being small before the buffer status report (the
gNB is assumed to learn the buffer at once), TBS quantisation, DRX, handover, interference between
cells, capacity spent by PDCCH beyond the ``overhead`` fraction, and the gNB lending a configured
grant's unused PRBs to others (it cannot know in time whether the UE will send).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.events import Arrival, ordered_entry
from sim.models.framing import Framing
from sim.models.laws import InOrderDelay, is_constant, sampler
from sim.models.links.base import Connection, Deliver, Direction, Link
from sim.models.message import Packet
from sim.scenario.schema import Jamming, Nr5gNetwork

# TS 38.214 Table 5.1.3.1-1 (MCS index table 1, up to 64QAM): modulation order and code rate x 1024.
MCS_TABLE = [
    (2, 120), (2, 157), (2, 193), (2, 251), (2, 308), (2, 379), (2, 449), (2, 526), (2, 602),
    (2, 679), (4, 340), (4, 378), (4, 434), (4, 490), (4, 553), (4, 616), (4, 658), (6, 438),
    (6, 466), (6, 517), (6, 567), (6, 616), (6, 666), (6, 719), (6, 772), (6, 822), (6, 873),
    (6, 910), (6, 948),
]  # fmt: skip

L2_HEADERS = 7.0  # PDCP (2 B, 12-bit SN), RLC AM (3 B with SO), MAC subheader (2 B) per IP packet
SYMBOLS = 14
EPSILON = 1e-12


def spectral_efficiency(mcs: int) -> float:
    """Bits per resource element of an MCS of TS 38.214 Table 5.1.3.1-1."""
    order, rate = MCS_TABLE[mcs]
    return order * rate / 1024.0


class Opportunities:
    """One kind of transmission opportunity (uplink, downlink, SR, PDCCH) repeating with the pattern.

    Opportunity ``k`` is the ``k % n``-th of the pattern's period ``k // n``; times are computed in
    whole symbols so that slot arithmetic is exact.
    """

    __slots__ = ("count", "lengths", "period_symbols", "slots", "starts", "symbol")

    def __init__(self, entries: list[tuple[int, int, int]], period_symbols: int, symbol: float):
        self.slots = [slot for slot, _, _ in entries]
        self.starts = [start for _, start, _ in entries]
        self.lengths = [length for _, _, length in entries]
        self.count = len(entries)
        self.period_symbols = period_symbols
        self.symbol = symbol

    def start_symbol(self, k: int) -> int:
        period, index = divmod(k, self.count)
        return period * self.period_symbols + self.starts[index]

    def start(self, k: int) -> float:
        return self.start_symbol(k) * self.symbol

    def end(self, k: int) -> float:
        return (self.start_symbol(k) + self.lengths[k % self.count]) * self.symbol

    def length(self, k: int) -> int:
        return self.lengths[k % self.count]

    def slot(self, k: int) -> int:
        """The global index of the slot the opportunity lies in."""
        period, index = divmod(k, self.count)
        return period * (self.period_symbols // SYMBOLS) + self.slots[index]

    def first_symbol(self, symbol: int) -> int:
        """The first opportunity starting at or after symbol ``symbol`` (exact)."""
        period, within = divmod(symbol, self.period_symbols)
        for index, start in enumerate(self.starts):
            if start >= within:
                return period * self.count + index
        return (period + 1) * self.count

    def first(self, t: float) -> int:
        """The first opportunity starting at or after ``t``."""
        symbols = t / self.symbol - EPSILON * max(1.0, t / self.symbol)
        period = max(0, math.floor(symbols / self.period_symbols))
        within = symbols - period * self.period_symbols
        for index, start in enumerate(self.starts):
            if start >= within:
                return period * self.count + index
        return (period + 1) * self.count


class Grid:
    """The cell's frame structure: which symbols carry what, period after period."""

    def __init__(self, config: Nr5gNetwork) -> None:
        self.slot = 1e-3 / (1 << config.numerology)
        self.symbol = self.slot / SYMBOLS
        letters = "F" if config.tdd_pattern == "FDD" else config.tdd_pattern
        down, guard, up = (int(part) for part in config.special_slot.split(":"))
        mini = config.mini_slot
        ul: list[tuple[int, int, int]] = []
        dl: list[tuple[int, int, int]] = []
        sr: list[tuple[int, int, int]] = []
        pdcch: list[tuple[int, int, int]] = []
        for i, letter in enumerate(letters):
            base = SYMBOLS * i
            if letter in "UF":
                if mini:
                    ul += [(i, base + j * mini, mini) for j in range(SYMBOLS // mini)]
                else:
                    ul.append((i, base, SYMBOLS))
                sr.append((i, base, SYMBOLS))
            if letter == "S" and up:
                first_up = base + down + guard
                if mini and up >= mini:
                    ul += [(i, first_up + j * mini, mini) for j in range(up // mini)]
                elif not mini and config.special_slot_data:
                    ul.append((i, first_up, up))
                sr.append((i, first_up, up))
            if letter in "DF":
                dl.append((i, base, SYMBOLS))
                pdcch.append((i, base, 1))
            if letter == "S":
                if down and config.special_slot_data:
                    dl.append((i, base, down))
                pdcch.append((i, base, 1))
        period = SYMBOLS * len(letters)
        if not ul:
            raise ValueError("the pattern has no uplink opportunity for PUSCH")
        self.ul = Opportunities(ul, period, self.symbol)
        self.cg_length = max(length for _, _, length in ul)  # configured grants use these
        self.dl = Opportunities(dl, period, self.symbol)
        self.sr = Opportunities(sr, period, self.symbol)
        self.pdcch = Opportunities(pdcch, period, self.symbol)


class ConfiguredGrants:
    """The cell's configured uplink grants: who holds how many PRBs in which occasion.

    Periods are whole symbols (2, 7, or whole slots: TS 38.331 ConfiguredGrantConfig); period ``j``
    of a grant covers symbols ``[j P, (j + 1) P)`` and its occasions are the full-length uplink
    opportunities starting there. A grant of phase ``i`` uses the ``i % n``-th of the ``n`` of them.
    """

    def __init__(self, slots: Opportunities, length: int) -> None:
        self.slots = slots
        self.length = length
        self.grants: dict[int, list[tuple[int, int]]] = {}  # period symbols -> [(phase, PRBs)]
        self._windows: dict[tuple[int, int], list[int]] = {}
        self._held: dict[tuple[int, int, int], int] = {}

    def add(self, period: int, phase: int, prbs: int) -> None:
        self.grants.setdefault(period, []).append((phase, prbs))
        self._held.clear()

    def window(self, period: int, j: int) -> list[int]:
        """The occasions of period ``j`` of grants of ``period`` symbols."""
        key = (period, j)
        found = self._windows.get(key)
        if found is None:
            slots = self.slots
            first = slots.first_symbol(j * period)
            stop = slots.first_symbol((j + 1) * period)
            found = [k for k in range(first, stop) if slots.length(k) == self.length]
            if len(self._windows) > 4096:
                self._windows.clear()
            self._windows[key] = found
        return found

    def occasion(self, period: int, phase: int, k: int) -> int:
        """The first occasion at or after opportunity ``k`` of a grant of ``period`` and ``phase``."""
        first = self.slots.start_symbol(k) // period
        for j in range(first, first + 1 + self.slots.period_symbols * 2):
            occasions = self.window(period, j)
            if occasions:
                chosen = occasions[phase % len(occasions)]
                if chosen >= k:
                    return chosen
        raise ValueError(f"no configured-grant occasion in {period} symbols")  # pragma: no cover

    def held(self, k: int) -> int:
        """PRBs the configured grants hold in opportunity ``k``, used or not."""
        if not self.grants or self.slots.length(k) != self.length:
            return 0
        total = 0
        start = self.slots.start_symbol(k)
        for period, grants in self.grants.items():
            occasions = self.window(period, start // period)
            n = len(occasions)
            position = occasions.index(k)
            key = (period, n, position)
            prbs = self._held.get(key)
            if prbs is None:
                prbs = sum(held for phase, held in grants if phase % n == position)
                self._held[key] = prbs
            total += prbs
        return total


def configured_grant_load(
    config: Nr5gNetwork, grants: list[tuple[float, float, int]]
) -> tuple[int, int, int] | None:
    """The busiest occasion of configured grants ``(period s, radio bytes, UEs)`` in a cell of
    ``config``: ``(PRBs held, UEs there, PRBs per UE of the largest grant)``; None without grants.
    """
    grid = Grid(config)
    plan = ConfiguredGrants(grid.ul, grid.cg_length)
    largest = 0
    for period, size, count in grants:
        symbols = round(period / grid.symbol)
        prbs = grant_prbs(config, grid, size)
        largest = max(largest, prbs)
        for phase in range(count):
            plan.add(symbols, phase, prbs)
    if not plan.grants:
        return None
    span = math.lcm(grid.ul.period_symbols, *plan.grants)
    worst = (0, 0, largest)
    for k in range(grid.ul.first_symbol(0), grid.ul.first_symbol(span)):
        held = plan.held(k)
        if held > worst[0]:
            start = grid.ul.start_symbol(k)
            there = 0
            for period, members in plan.grants.items():
                occasions = plan.window(period, start // period)
                if k in occasions:
                    position = occasions.index(k)
                    there += sum(1 for phase, _ in members if phase % len(occasions) == position)
            worst = (held, there, largest)
    return worst


def grant_prbs(config: Nr5gNetwork, grid: Grid, size: float) -> int:
    """PRBs a configured grant of ``size`` radio bytes holds in each of its occasions."""
    return math.ceil(size / (uplink_bytes_per_prb_symbol(config) * grid.cg_length) - 1e-9)


def uplink_bytes_per_prb_symbol(config: Nr5gNetwork) -> float:
    """Bytes one uplink PRB carries per symbol (TS 38.214 MCS, uplink layers and overhead)."""
    bits = 12 * spectral_efficiency(config.mcs) * config.uplink_layers
    return bits * (1.0 - config.uplink_overhead) / 8.0


def downlink_bytes_per_prb_symbol(config: Nr5gNetwork) -> float:
    """Bytes one downlink PRB carries per symbol."""
    return 12 * spectral_efficiency(config.mcs) * config.layers * (1.0 - config.overhead) / 8.0


class _Entry:
    """A message in a UE's (or the gNB's) transmit buffer."""

    __slots__ = ("arrival", "done", "left", "packet")

    def __init__(self, packet: Packet, size: float, arrival: float) -> None:
        self.packet = packet
        self.left = size
        self.arrival = arrival
        self.done = 0.0


class Ue:
    """One UE's buffer and access state in one direction."""

    __slots__ = (
        "access",
        "backlog",
        "cg_next",
        "cg_period",
        "cg_phase",
        "cg_prbs",
        "conn",
        "equipment",
        "grant_from",
        "last_done",
        "name",
        "priority",
        "queue",
        "served",
        "slice",
    )

    def __init__(self, name: str, conn: Connection, slice_name: str | None, priority: int) -> None:
        self.name = name
        self.conn = conn
        self.slice = slice_name
        self.priority = priority
        self.queue: list[_Entry] = []
        self.backlog = 0.0
        self.grant_from: int | None = None  # first opportunity it may be scheduled in dynamically
        self.cg_next: int | None = None  # its next configured-grant occasion with data
        self.access = "scheduled"  # uplink: grant_based or configured_grant
        self.cg_period = 0  # symbols
        self.cg_phase = 0
        self.cg_prbs = 0
        self.equipment: InOrderDelay | None = None  # UE-side equipment, machine side of the radio
        self.last_done = 0.0
        self.served = 1.0  # average bytes per opportunity, for proportional fair

    def eligible(self, cutoff: float) -> float:
        """Bytes that reached the buffer by ``cutoff`` and are not yet sent."""
        total = 0.0
        for entry in self.queue:
            if entry.arrival > cutoff + EPSILON:
                break
            total += entry.left
        return total


class Nr5gLink(Link):
    """A 5G NR cell: uplink and downlink schedulers sharing one frame structure."""

    kind = "nr5g"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        config: Nr5gNetwork,
        rng_for: Callable[[str], Draws],
    ) -> None:
        super().__init__(env, name, rng_for)
        self.config = config
        prbs = config.prb_count
        assert prbs is not None, "the schema checks that the PRB count is known"
        self.prbs = prbs
        self.grid = Grid(config)
        self.per_prb_symbol = {
            "up": uplink_bytes_per_prb_symbol(config),
            "down": downlink_bytes_per_prb_symbol(config),
        }
        self.grants = ConfiguredGrants(self.grid.ul, self.grid.cg_length)
        self.framing = Framing(1500.0, None, link_bytes=L2_HEADERS, min_frame=0.0)
        self.draws = rng_for(f"network:{name}:harq")
        self.core = sampler(config.core_latency, rng_for(f"network:{name}:core"))
        self.core_constant = config.core_latency.mean if is_constant(config.core_latency) else None
        self.equipment = {
            way: None if is_constant(law) and law.mean == 0 else law
            for way, law in (("up", config.equipment.up), ("down", config.equipment.down))
        }
        self.slice_of: dict[str, str] = {
            machine: slice_name
            for slice_name, piece in config.slices.items()
            for machine in piece.machines
        }
        self.up = _Scheduler(self, "up")
        self.down = _Scheduler(self, "down")

    def core_delay(self) -> float:
        return self.core_constant if self.core_constant is not None else self.core()

    def radio_bytes(self, packet: Packet) -> float:
        """Bytes of a message over the radio: MQTT, TCP/IP per segment, PDCP/RLC/MAC headers."""
        msg = packet.msg
        count, full, last = self.framing.frames(
            msg.payload, packet.topic, packet.qos, packet.record
        )
        return (count - 1) * full + last

    def connect(self, client: str, direction: Direction, sink: Deliver, feeders: int) -> Deliver:
        conn = Connection(client, direction, sink)
        machine = client.split("[", 1)[0]
        slice_name = self.slice_of.get(machine)
        priority = self.config.slices[slice_name].priority if slice_name else 0
        ue = Ue(client, conn, slice_name, priority)
        law = self.equipment[direction]
        if law is not None:
            ue.equipment = InOrderDelay(
                sampler(law, self.rng_for(f"network:{self.name}:equipment:{direction}:{client}"))
            )
        if direction == "up":
            self._uplink_access(ue, machine, client)
            entry = ordered_entry(
                self.env, lambda packet, when: self.up.arrive(ue, packet, when), feeders
            )
            delay = ue.equipment
            if delay is None:
                return entry
            return lambda packet, when: entry(packet, delay(when))
        scheduler = self.down
        env = self.env

        def send_down(packet: Packet, when: float) -> None:
            # through the core to the gNB: a random delay, so arrivals need events to stay in order
            Arrival(env, when + self.core_delay(), lambda p, t: scheduler.arrive(ue, p, t), packet)

        return send_down

    def _uplink_access(self, ue: Ue, machine: str, client: str) -> None:
        """The UE's uplink access from its slice or the cell; a configured grant is held from now."""
        ue.access, period, size = self.config.uplink_for(ue.slice)
        if ue.access != "configured_grant":
            return
        ue.cg_period = round(period / self.grid.symbol)
        index = client[len(machine) + 1 : -1] if client != machine else ""
        ue.cg_phase = int(index) if index.isdigit() else 0
        ue.cg_prbs = grant_prbs(self.config, self.grid, size)
        self.grants.add(ue.cg_period, ue.cg_phase, ue.cg_prbs)

    def usage(self, duration: float) -> dict[str, float]:
        """The share of each direction's PRB x symbols over ``duration`` that carried
        transmissions (HARQ retransmissions included, control channels and reference signals not)."""
        shares = {}
        for way, scheduler in (("up", self.up), ("down", self.down)):
            slots = scheduler.slots
            per_period = self.prbs * sum(slots.lengths)
            available = per_period * duration / (slots.period_symbols * slots.symbol)
            shares[way] = scheduler.used / available if available else 0.0
        return shares

    def suffer(self, attack: Jamming) -> None:
        """A jammer: in the opportunities that start while it acts, ``prb_share`` of the PRBs are
        unusable (the scheduler leaves them out, as it learns them from its interference
        measurements) and first transmissions fail with its ``bler``."""
        for way, scheduler in (("up", self.up), ("down", self.down)):
            if attack.direction in (way, "both"):
                scheduler.jams.append(attack)

    def held(self) -> list[Packet]:
        return [
            entry.packet
            for scheduler in (self.up, self.down)
            for ue in scheduler.active
            for entry in ue.queue
        ]


class _Scheduler:
    """The gNB's scheduler for one direction: opportunities, access, PRB sharing, HARQ."""

    def __init__(self, cell: Nr5gLink, direction: Direction) -> None:
        self.cell = cell
        self.env = cell.env
        config = cell.config
        self.config = config
        self.direction = direction
        grid = cell.grid
        self.slots = grid.ul if direction == "up" else grid.dl
        self.per_prb_symbol = cell.per_prb_symbol[direction]
        self.bler = config.uplink_bler if direction == "up" else config.bler
        self.clear_bler = self.bler
        self.jams: list[Jamming] = []  # the jammers acting on this direction
        self.grants = cell.grants if direction == "up" else None
        self.prepare = config.ue_processing if direction == "up" else config.gnb_processing
        self.decode = config.gnb_processing if direction == "up" else config.ue_processing
        self.active: dict[Ue, None] = {}
        self.reserved: dict[int, int] = {}  # PRBs held by HARQ retransmissions, per opportunity
        self.used = 0.0  # PRB x symbols transmitted, retransmissions included
        self.next_tick: int | None = None
        self.turn = 0

    # ----------------------------------------------------------------------------------- access

    def after_request(self, received: float) -> int:
        """The first PUSCH opportunity a grant answering a request received at ``received`` gives."""
        config = self.config
        grid = self.cell.grid
        pdcch = grid.pdcch.first(received + config.gnb_processing)
        grant_time = grid.pdcch.start(pdcch)
        earliest_slot = grid.pdcch.slot(pdcch) + config.k2
        return self.slots.first(max(grant_time + config.ue_processing, earliest_slot * grid.slot))

    def sr_received(self, t: float) -> float:
        """When the gNB has the scheduling request of data that reached the UE at ``t``."""
        sr = self.cell.grid.sr
        k = sr.first(t)
        period = self.config.sr_period
        k += (-k) % period
        return sr.end(k)

    def cg_occasion(self, ue: Ue, k: int) -> int:
        """The first configured-grant occasion of ``ue`` at or after opportunity ``k``."""
        assert self.grants is not None
        return self.grants.occasion(ue.cg_period, ue.cg_phase, k)

    def arrive(self, ue: Ue, packet: Packet, when: float) -> None:
        """A message reaches the transmit buffer at ``when`` (called in time order)."""
        size = self.cell.radio_bytes(packet)
        ue.queue.append(_Entry(packet, size, when))
        ue.backlog += size
        self.active[ue] = None
        if ue.access == "configured_grant":
            occasion = self.cg_occasion(ue, self.slots.first(when + self.prepare))
            if ue.cg_next is None or occasion < ue.cg_next:
                ue.cg_next = occasion
            self.wake(occasion)
        elif ue.grant_from is None:
            if ue.access == "grant_based":
                ue.grant_from = self.after_request(self.sr_received(when))
            else:
                ue.grant_from = self.slots.first(when + self.prepare)
            self.wake(ue.grant_from)

    # ------------------------------------------------------------------------------ scheduling

    def wake(self, k: int) -> None:
        """Make sure opportunity ``k`` is scheduled."""
        if self.next_tick is not None and self.next_tick <= k:
            return
        self.next_tick = k
        start = self.slots.start(k)
        Arrival(self.env, max(start, self.env.now), self._tick, k)

    def _tick(self, k: int, _when: float) -> None:
        if k != self.next_tick:
            return  # superseded by an earlier opportunity
        self.next_tick = None
        self.serve(k)
        upcoming: int | None = None
        for ue in self.active:
            candidates = []
            if ue.grant_from is not None:
                candidates.append(max(ue.grant_from, k + 1))
            if ue.cg_next is not None:
                candidates.append(ue.cg_next)
            if candidates:
                soonest = min(candidates)
                upcoming = soonest if upcoming is None else min(upcoming, soonest)
        if upcoming is not None:
            self.wake(upcoming)

    def serve(self, k: int) -> None:
        """Share opportunity ``k``'s PRBs among the UEs that may send in it, and send."""
        cell = self.cell
        slots = self.slots
        symbols = slots.length(k)
        per_prb = self.per_prb_symbol * symbols
        free = cell.prbs - self.reserved.pop(k, 0)
        if self.grants is not None:
            free -= self.grants.held(k)  # the configured grants' PRBs, used or not
        if self.jams:
            free -= self._jammed(slots.start(k))
        cutoff = slots.start(k) - self.prepare
        grants: dict[Ue, float] = {}
        dynamic: list[tuple[Ue, float]] = []
        for ue in self.active:
            ready = ue.eligible(cutoff)
            if ready <= 0:
                continue
            if ue.cg_next == k:
                grants[ue] = min(ready, ue.cg_prbs * per_prb)  # in the UE's own PRBs
                ready -= grants[ue]
            if ready > 0 and ue.grant_from is not None and ue.grant_from <= k:
                dynamic.append((ue, ready))
        if dynamic and free > 0:
            wanted = dict(dynamic)
            for ue, prbs in self._share(dynamic, free, per_prb).items():
                grants[ue] = grants.get(ue, 0.0) + min(wanted[ue], prbs * per_prb)
        for ue, amount in grants.items():
            self._transmit(ue, k, amount, math.ceil(amount / per_prb - 1e-9))
        if self.config.scheduler == "proportional_fair":
            for ue in self.active:
                ue.served = 0.9 * ue.served + 0.1 * grants.get(ue, 0.0)
        self._after(k)

    def _after(self, k: int) -> None:
        """Update each UE's access state once opportunity ``k`` is done."""
        for ue in list(self.active):
            if ue.backlog <= EPSILON:
                ue.backlog = 0.0
                ue.grant_from = None
                ue.cg_next = None
                del self.active[ue]
                continue
            if ue.access == "configured_grant":
                if ue.cg_next is not None and ue.cg_next <= k:
                    ue.cg_next = self.cg_occasion(ue, k + 1)
                if ue.grant_from is None:
                    # the rest was reported in the PUSCH (BSR): a dynamic grant follows, and the
                    # UE sends in whichever comes first, that grant or its next occasion
                    ue.grant_from = self.after_request(self.slots.end(k))

    def _jammed(self, t: float) -> int:
        """The PRBs the jammers active at ``t`` make unusable (the largest share counts); their
        BLER, else the cell's, for the transport blocks sent now."""
        share = 0.0
        bler = self.clear_bler
        for jam in self.jams:
            if jam.start <= t < jam.end:
                share = max(share, jam.prb_share)
                if jam.bler is not None:
                    bler = max(bler, jam.bler)
        self.bler = bler
        return math.floor(share * self.cell.prbs + 1e-9)

    def _share(self, wants: list[tuple[Ue, float]], free: int, per_prb: float) -> dict[Ue, int]:
        """PRBs for each UE, by slice reservations first, then the scheduling policy."""
        need = {ue: math.ceil(amount / per_prb - 1e-9) for ue, amount in wants}
        given: dict[Ue, int] = dict.fromkeys(need, 0)
        total = self.cell.prbs
        for slice_name, piece in self.config.slices.items():
            members = [ue for ue in need if ue.slice == slice_name]
            budget = min(free, math.floor(piece.share * total))
            if members and budget > 0:
                for ue, prbs in self._policy(members, need, budget).items():
                    given[ue] += prbs
                    need[ue] -= prbs
                    free -= prbs
        if free > 0:
            for ue, prbs in self._policy([ue for ue in need if need[ue] > 0], need, free).items():
                given[ue] += prbs
        return given

    def _policy(self, ues: list[Ue], need: dict[Ue, int], free: int) -> dict[Ue, int]:
        scheduler = self.config.scheduler
        if scheduler == "round_robin":
            return self._equal_shares(ues, need, free)
        if scheduler == "proportional_fair":
            order = sorted(ues, key=lambda ue: ue.served)
        else:
            rotation = {ue: (i - self.turn) % max(1, len(ues)) for i, ue in enumerate(ues)}
            order = sorted(ues, key=lambda ue: (-ue.priority, -_head_priority(ue), rotation[ue]))
            self.turn += 1
        shares: dict[Ue, int] = {}
        for ue in order:
            if free <= 0:
                break
            prbs = min(need[ue], free)
            shares[ue] = prbs
            free -= prbs
        return shares

    def _equal_shares(self, ues: list[Ue], need: dict[Ue, int], free: int) -> dict[Ue, int]:
        """Round robin: equal PRB shares, water-filled, the odd PRBs rotating among the UEs."""
        shares: dict[Ue, int] = dict.fromkeys(ues, 0)
        waiting = sorted(ues, key=lambda ue: need[ue])
        while waiting and free > 0:
            share = free // len(waiting)
            if share == 0:
                start = self.turn % len(waiting)
                for ue in (waiting[start:] + waiting[:start])[:free]:
                    shares[ue] += 1
                self.turn += 1
                break
            ue = waiting[0]
            if need[ue] - shares[ue] <= share:
                free -= need[ue] - shares[ue]
                shares[ue] = need[ue]
                waiting.pop(0)
            else:
                for other in waiting:
                    shares[other] += share
                free -= share * len(waiting)
                waiting = [u for u in waiting if shares[u] < need[u]]
        return shares

    # --------------------------------------------------------------------------- transmission

    def retransmission(self, end: float) -> int:
        """The first opportunity a transport block that failed at ``end`` can go again in.

        Uplink: the gNB decodes, and asks again with a grant as for a request (PDCCH, k2). Downlink:
        the UE's NACK waits for the first uplink symbols for PUCCH after it decoded (``k1``, TS
        38.213 9.2.3; in TDD the feedback of several D slots waits for the same uplink), then the
        gNB needs its processing time, and the retransmission comes no sooner than ``harq_rtt``
        after the failed block.
        """
        config = self.config
        if self.direction == "up":
            return self.after_request(end)
        sr = self.cell.grid.sr
        feedback = sr.end(sr.first(end + config.ue_processing))
        return self.slots.first(max(end + config.harq_rtt, feedback + config.gnb_processing))

    def _transmit(self, ue: Ue, k: int, amount: float, prbs: int) -> None:
        """Send ``amount`` bytes of ``ue``'s buffer in opportunity ``k``, HARQ included."""
        config = self.config
        slots = self.slots
        draws = self.cell.draws
        bler = self.bler
        attempt_end = slots.end(k)
        received = None
        self.used += prbs * slots.length(k)
        for _ in range(config.max_transmissions - 1):
            if not bler or draws.uniform() >= bler:
                received = attempt_end + self.decode
                break
            bler = config.retransmission_bler  # the copies combine (incremental redundancy)
            again = self.retransmission(attempt_end)
            while slots.length(again) < slots.length(k):
                again += 1  # the same transport block needs as many resource elements again
            again_prbs = math.ceil(prbs * slots.length(k) / slots.length(again) - 1e-9)
            self.reserved[again] = self.reserved.get(again, 0) + again_prbs
            self.used += again_prbs * slots.length(again)
            attempt_end = slots.end(again)
        if received is None:
            received = attempt_end + self.decode
            if bler and draws.uniform() < bler:
                received += config.rlc_retransmission
        ue.backlog -= amount
        queue = ue.queue
        while amount > EPSILON and queue:
            entry = queue[0]
            taken = entry.left if entry.left < amount else amount
            entry.left -= taken
            amount -= taken
            if received > entry.done:
                entry.done = received
            if entry.left > EPSILON:
                break
            queue.pop(0)
            self._complete(ue, entry)

    def _complete(self, ue: Ue, entry: _Entry) -> None:
        """The whole message is through the radio; PDCP hands messages on in order."""
        done = entry.done if entry.done > ue.last_done else ue.last_done
        ue.last_done = done
        if self.direction == "up":
            done += self.cell.core_delay()
        elif ue.equipment is not None:
            done = ue.equipment(done)
        ue.conn.deliver(entry.packet, done)


def _head_priority(ue: Ue) -> int:
    if not ue.queue:
        return 0
    return ue.queue[0].packet.msg.priority
