"""TCP under MQTT: in-order delivery, loss recovery and the window, per connection direction.

What TCP does about loss and flow control, modelled for the links that cut
messages into segments (parametric, Ethernet, Wi-Fi), with the parameters of the scenario's ``tcp`` block:

- **Loss is delay, not loss.** Each segment is lost with the network's ``loss``; TCP resends it.
  *Fast retransmit* (RFC 5681 section 3.2): every later segment that arrives makes the receiver send
  a duplicate ACK; once ``dupack_threshold`` of them are back at the sender it resends the lost
  segment at once, so it arrives about one round trip after the loss when traffic follows it.
  Otherwise the *retransmission timeout* fires (RFC 6298): Linux sets RTO = SRTT + max(tcp_rto_min,
  4 RTTVAR) with ``tcp_rto_min`` = 200 ms (``min_rto``), i.e. RTT + min_rto on a steady path, and
  doubles it for each further loss of the same segment (RFC 6298 section 5.5), up to Linux's
  ``TCP_RTO_MAX`` of 120 s (RFC 6298 (2.5): a maximum of at least 60 s). A lost retransmission is
  always recovered by the timeout.
- **In-order delivery.** The receiver releases a message when it and everything before it has
  arrived; later messages wait behind a lost segment.
- **Window.** At most ``window`` bytes of TCP payload are unacknowledged: a segment leaves only once
  the byte ``window`` bytes before its end is acknowledged. An ACK reaches the sender the network's
  reverse latency after the receiver released the segment (cumulative ACK).

What it omits: congestion control (slow start, cwnd: the window is the receive window only, as on a
LAN whose buffers never overflow), delayed ACKs, Nagle, SACK and RACK-TLP (Linux detects some losses
sooner), the time a retransmission spends queueing (it takes the lost segment's own one-way delay),
and retransmissions using capacity again. Duplicate ACKs are counted in sequence order, so on a path
with random per-message latency the d-th duplicate is the latest of the first d later segments.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.events import Arrival
from sim.models.links.base import Connection, Deliver, Direction
from sim.models.message import Packet
from sim.scenario.schema import Tcp as TcpSettings

Emit = Callable[[Packet, int, int, float], None]


MAX_RTO = 120.0  # s: Linux TCP_RTO_MAX (include/net/tcp.h); RFC 6298 (2.5) allows >= 60 s


def backoff(rto: float, timeouts: int) -> float:
    """The time ``timeouts`` retransmission timers take one after another, the first ``rto`` long,
    each twice the one before (RFC 6298 5.5) but never longer than :data:`MAX_RTO`."""
    if rto >= MAX_RTO:
        return MAX_RTO * timeouts
    doublings = min(timeouts, math.floor(math.log2(MAX_RTO / rto)) + 1)
    return rto * (2.0**doublings - 1.0) + MAX_RTO * (timeouts - doublings)


class TcpPath:
    """What TCP needs to know about one network: its ``tcp`` settings, its loss, its round trip.

    ``reverse`` is the time an ACK takes back to the sender; ``rtt`` the path's round trip without
    queueing, from which the retransmission timeout is ``min_rto + rtt`` (Linux, see the module).
    """

    __slots__ = ("draws", "dupacks", "env", "loss", "reverse", "rto", "window")

    def __init__(
        self,
        env: simpy.Environment,
        tcp: TcpSettings,
        *,
        loss: float,
        draws: Draws,
        reverse: float,
        rtt: float,
    ) -> None:
        self.env = env
        self.window = tcp.window
        self.dupacks = tcp.dupack_threshold
        self.rto = tcp.min_rto + rtt
        self.loss = loss
        self.draws = draws
        self.reverse = reverse


class _Piece:
    """Segments held by the receiver behind a lost one; or, with ``lost``, the lost segment itself."""

    __slots__ = (
        "arrival",
        "dupacks",
        "end",
        "fwd",
        "latest",
        "lost",
        "packet",
        "recovered",
        "seg",
        "spacing",
        "start",
    )

    def __init__(
        self,
        start: float,
        end: float,
        arrival: float,
        packet: Packet | None,
        seg: float,
        spacing: float,
        lost: bool,
    ) -> None:
        self.start = start  # its first byte, in the connection's sequence
        self.end = end  # the byte after its last one
        self.arrival = arrival  # when its last segment arrived (or, lost, would have)
        self.packet = packet  # the message it completes, if any
        self.seg = seg  # bytes per segment (the last may be shorter)
        self.spacing = spacing  # time between the arrivals of its segments
        self.lost = lost
        self.fwd = 0.0  # lost: its one-way delay, which the retransmission takes again
        self.dupacks = 0  # lost: later segments arrived so far
        self.latest = 0.0  # lost: when the latest of them arrived
        self.recovered: float | None = None  # lost: when the retransmission arrives


def _released(record: tuple, byte: float) -> float:
    """When the receiver released (and acknowledged) the bytes up to ``byte``, inside ``record``.

    A record is ``(end, at)``: everything before byte ``end`` was released at ``at``; or, for a run
    of segments that arrived ``spacing`` apart, ``(end, at, start, seg, spacing, floor)``: the
    segment holding ``byte`` was released one ``spacing`` earlier for each segment after it, but
    not before ``floor`` (the release of what came before the run).
    """
    if len(record) == 2:
        return record[1]
    end, at, start, seg, spacing, floor = record
    after = math.ceil((end - start) / seg) - math.ceil((byte - start) / seg)
    if after > 0:
        at -= after * spacing
        if at < floor:
            at = floor
    return at


class TcpConnection(Connection):
    """One direction of a TCP connection with loss recovery and a window (see the module).

    The model sends through it in two steps. :meth:`clearance` says when a whole message may leave
    (at once when the window has room: the fast path; a single-segment message possibly later, when
    the ACK that opens the window is back); ``None`` means the model calls :meth:`submit`, which
    queues the message and calls ``emit(packet, first, n, when)`` for each run of segments ``first``
    to ``first + n - 1`` as the window lets it leave, no earlier than ``when``. The model reports
    what arrives at the far end, in sequence order, with :meth:`receive` (or :meth:`receive_frame`
    for one segment); the connection delivers each message to ``sink`` in order once it is complete.
    """

    __slots__ = (
        "acked",
        "acks",
        "emit",
        "holes",
        "lossy",
        "overhead",
        "pace",
        "path",
        "pumping",
        "queue",
        "rcv",
        "reorder",
        "reverse",
        "sent",
        "sent_at",
        "window",
    )

    def __init__(
        self, name: str, direction: Direction, sink: Deliver, path: TcpPath, emit: Emit
    ) -> None:
        super().__init__(name, direction, sink)
        self.path = path
        self.emit = emit
        self.window = path.window
        self.reverse = path.reverse
        self.lossy = path.loss > 0.0
        # the sender's own link, where the model has one (an Ethernet NIC): seconds per byte on the
        # wire, and the bytes a segment adds to its payload there; segments leave it one by one
        self.pace = 0.0
        self.overhead = 0.0
        self.sent = 0.0  # sender: bytes handed to the network so far
        self.sent_at = 0.0  # sender: when the last of them left
        self.queue: deque[list] = deque()  # sender: messages the window holds back
        self.acks: deque[tuple] = deque()  # receiver's releases, for the ACKs (see _released)
        self.acked = 0.0  # sender: bytes known acknowledged by the time of the last send
        self.pumping = False
        self.rcv = 0.0  # receiver: bytes reported so far
        self.reorder: deque[_Piece] = deque()  # receiver: waiting behind a lost segment
        self.holes: list[_Piece] = []  # receiver: lost segments not yet recovered

    # ------------------------------------------------------------------------------- sender

    def clearance(self, nbytes: float, when: float, single: bool) -> float | None:
        """When a whole message of ``nbytes`` ready at ``when`` may leave; counted as sent then.

        ``single``: the message is one segment, so it may simply wait for the ACK that makes room.
        ``None``: the model must :meth:`submit` it (messages wait, or its segments leave apart).
        """
        if self.queue:
            return None
        if when < self.sent_at:
            when = self.sent_at
        end = self.sent + nbytes
        need = end - self.window
        acks = self.acks
        # advance the frontier: what is acknowledged by now stays so for every later send (this
        # also keeps the records few when the window is far from full)
        released = when - self.reverse
        while acks and acks[0][1] <= released:
            self.acked = acks.popleft()[0]
        if need > self.acked:
            # look, without discarding: if the message must wait, the pump asks again for less
            if not acks or acks[-1][0] < need:
                return None
            for record in acks:
                if record[0] >= need:
                    break
            gate = self.reverse + (record[1] if len(record) == 2 else _released(record, need))
            if gate > when:
                if not single:
                    return None
                when = gate
        self.sent = end
        self.sent_at = when
        return when

    def submit(self, packet: Packet, when: float, count: int, seg: float, last: float) -> None:
        """Queue a message of ``count`` segments (``seg`` bytes each, the last ``last``) from ``when``."""
        self.queue.append([packet, when, count, seg, last, 0])
        self._pump()

    def _pump(self) -> None:
        """Emit what the window lets through, in runs of segments that may leave at the same time."""
        if self.pumping:
            return  # an emit led back here; the loop below sees the new ACKs
        self.pumping = True
        queue = self.queue
        window = self.window
        pace = self.pace
        overhead = self.overhead
        acks = self.acks
        acked = self.acked  # (only clearance moves it)
        reverse = self.reverse
        try:
            while queue:
                entry = queue[0]
                packet, when, count, seg, last, first = entry
                if when < self.sent_at:
                    when = self.sent_at
                byte = self.sent
                n = 0
                # when the segment leaves: on the sender's own link, after those before it
                at = when if when > self.free_at or not pace else self.free_at
                while first + n < count:
                    size = seg if first + n < count - 1 else last
                    need = byte + size - window
                    if need > acked:
                        # the first record reaching ``need`` (queries only grow: drop the rest)
                        while acks and acks[0][0] < need:
                            acks.popleft()
                        if not acks:
                            break  # the ACK that opens the window is not known yet
                        record = acks[0]
                        gate = reverse + (
                            record[1] if len(record) == 2 else _released(record, need)
                        )
                        if gate > at:
                            if n:
                                break  # this segment starts a later run
                            when = gate
                            at = gate if gate > self.free_at or not pace else self.free_at
                    at += (size + overhead) * pace
                    byte += size
                    n += 1
                if not n:
                    return  # the next segment waits for an ACK not yet known
                self.sent = byte
                self.sent_at = when
                if first + n == count:
                    queue.popleft()
                else:
                    entry[5] = first + n
                self.emit(packet, first, n, when)
        finally:
            self.pumping = False

    # ----------------------------------------------------------------------------- receiver

    def receive_frame(self, when: float, nbytes: float, packet: Packet | None, fwd: float) -> None:
        """The next segment (``nbytes``) reaches the far end at ``when``, ``fwd`` after it left;
        ``packet`` if it completes a message."""
        if self.lossy:  # (only a loss makes the receiver hold segments back)
            self._receive_lossy(when, nbytes, packet, 1, nbytes, 0.0, fwd)
        else:
            end = self.rcv + nbytes
            self.rcv = end
            if when < self.last:
                when = self.last
            self.last = when
            self.acks.append((end, when))
            if packet is not None:
                self.sink(packet, when)
        if self.queue:
            self._pump()

    def receive(
        self,
        when: float,
        nbytes: float,
        packet: Packet | None,
        segments: int,
        seg: float,
        spacing: float,
        fwd: float,
    ) -> None:
        """The next ``segments`` segments (``nbytes`` in all, ``seg`` each but the last) reach the
        far end ``spacing`` apart, the last at ``when``, ``fwd`` after it left; ``packet`` if they
        complete a message."""
        if self.lossy:
            self._receive_lossy(when, nbytes, packet, segments, seg, spacing, fwd)
        elif segments > 1 and spacing > 0.0:
            # inlined _release_one for a run of segments that arrived one after another
            start = self.rcv
            end = start + nbytes
            self.rcv = end
            floor = self.last
            if when < floor:
                when = floor
            self.last = when
            self.acks.append((end, when, start, seg, spacing, floor))
            if packet is not None:
                self.sink(packet, when)
        else:
            # inlined _release_one for segments that arrive together (most messages)
            end = self.rcv + nbytes
            self.rcv = end
            if when < self.last:
                when = self.last
            self.last = when
            self.acks.append((end, when))
            if packet is not None:
                self.sink(packet, when)
        if self.queue:
            self._pump()

    def _receive_lossy(
        self,
        when: float,
        nbytes: float,
        packet: Packet | None,
        segments: int,
        seg: float,
        spacing: float,
        fwd: float,
    ) -> None:
        loss = self.path.loss
        uniform = self.path.draws.uniform
        byte = self.rcv
        end = byte + nbytes
        self.rcv = end
        first = byte  # first byte of the segments in a row that arrived
        arrived = 0
        for k in range(segments):
            seg_end = end if k == segments - 1 else byte + seg
            at = when - (segments - 1 - k) * spacing
            if loss and uniform() < loss:
                if arrived:
                    self._arrived(first, byte, at - spacing, arrived, None, seg, spacing)
                    arrived = 0
                self._lost(byte, seg_end, at, fwd, packet if seg_end == end else None)
                first = seg_end
            else:
                arrived += 1
            byte = seg_end
        if arrived:
            self._arrived(first, end, when, arrived, packet, seg, spacing)
        self._release()

    def _arrived(
        self,
        start: float,
        end: float,
        when: float,
        segments: int,
        packet: Packet | None,
        seg: float,
        spacing: float,
    ) -> None:
        """Segments ``start`` to ``end`` arrived (the last at ``when``): released, or held behind a
        lost one, each counting as a duplicate ACK for it."""
        if not self.reorder:
            self._release_one(start, end, when, packet, segments, seg, spacing)
            return
        self.reorder.append(_Piece(start, end, when, packet, seg, spacing, False))
        threshold = self.path.dupacks
        first = when - (segments - 1) * spacing
        recovered = []
        for hole in self.holes:
            needed = threshold - hole.dupacks
            if segments >= needed:
                at = first + (needed - 1) * spacing
                recovered.append((hole, at if at > hole.latest else hole.latest))
            else:
                hole.dupacks += segments
                if when > hole.latest:
                    hole.latest = when
        for hole, at in recovered:
            self._recover(hole, at)

    def _lost(
        self, start: float, end: float, when: float, fwd: float, packet: Packet | None
    ) -> None:
        """The segment ``start`` to ``end`` is lost; it would have arrived at ``when``."""
        hole = _Piece(start, end, when, packet, end - start, 0.0, True)
        hole.fwd = fwd
        self.reorder.append(hole)
        self.holes.append(hole)
        path = self.path
        env = path.env
        # the timeout fires RTO after the segment left; fast retransmit wins if the duplicate ACKs
        # are back before then, i.e. if the d-th later segment arrives before this time
        deadline = when - fwd + path.rto - path.reverse
        Arrival(env, deadline if deadline > env.now else env.now, self._timeout, hole)

    def _timeout(self, hole: _Piece, _when: float) -> None:
        if hole.recovered is None:
            self._recover(hole, None)
            self._release()
            if self.queue:
                self._pump()

    def _recover(self, hole: _Piece, dupacks_at: float | None) -> None:
        """Decide how the lost segment comes back: fast retransmit when the ``dupack_threshold``-th
        later segment arrived at ``dupacks_at`` early enough, else the timeout; then each further loss
        of the retransmission costs a timeout, doubling."""
        path = self.path
        rto = path.rto
        repeats = 0
        uniform = path.draws.uniform
        while uniform() < path.loss:
            repeats += 1
        fast = None if dupacks_at is None else dupacks_at + path.reverse + hole.fwd
        if fast is not None and fast < hole.arrival + rto:
            hole.recovered = fast + backoff(rto, repeats)
        else:
            hole.recovered = hole.arrival + backoff(rto, repeats + 1)
        self.holes.remove(hole)

    def _release(self) -> None:
        """Release, in order, what no unrecovered loss holds back any more."""
        reorder = self.reorder
        while reorder:
            piece = reorder[0]
            if piece.lost:
                if piece.recovered is None:
                    return
                when = piece.recovered
                segments = 1
            else:
                when = piece.arrival
                segments = math.ceil((piece.end - piece.start) / piece.seg)
            reorder.popleft()
            self._release_one(
                piece.start, piece.end, when, piece.packet, segments, piece.seg, piece.spacing
            )

    def _release_one(
        self,
        start: float,
        end: float,
        when: float,
        packet: Packet | None,
        segments: int,
        seg: float,
        spacing: float,
    ) -> None:
        """Bytes ``start`` to ``end`` are in order at the far end, the last at ``when``."""
        floor = self.last
        if when < floor:
            when = floor
        self.last = when
        if segments > 1 and spacing > 0.0:
            self.acks.append((end, when, start, seg, spacing, floor))
        else:
            self.acks.append((end, when))
        if packet is not None:
            self.sink(packet, when)

    def pending(self) -> list[Packet]:
        """Messages the connection holds: waiting for the window, or behind a lost segment."""
        held = [entry[0] for entry in self.queue]
        held += [piece.packet for piece in self.reorder if piece.packet is not None]
        return held
