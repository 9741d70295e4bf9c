"""Streaming statistics of one metric row in one replication, in memory bounded by the plant.

The models append each delivered or dropped copy to a row's buffers (:mod:`sim.metrics.collector`);
the engine hands the buffers over here now and then, in chunks of copies whose fate is final (their
delivery or drop lies at or before the current simulated time, so nothing recorded later can come
before them). A :class:`Tally` folds each chunk into

- exact counts: delivered, dropped, late for the deadline, deliveries and bits inside the
  measurement window, copies still undelivered at the end and those of them overdue;
- a :class:`~sim.metrics.histogram.LatencyHistogram` of the latencies (relative error 0.39 %);
- availability with survival time, per machine instance (TS 22.104 clause 3.1 and Annex C: the
  application fails once an anticipated message has not come for longer than the survival time):
  each instance is covered until its next anticipated message is due plus the survival time, and
  the cover is carried from chunk to chunk, so each gap is measured once, exactly;
- batch means by publish time for the warm-up test (:mod:`sim.metrics.warmup`);
- and the exact copies themselves while there are at most :data:`SAMPLE_LIMIT` of them (or all of
  them, when they were asked for): the percentiles a small run reports are then the exact ones,
  and the protocol tests read exact timelines.

The memory a row uses is then the histogram's 49 kB, one float per machine instance and the chunk
in hand, whatever the simulated duration.
"""

from __future__ import annotations

import numpy as np

from sim.metrics import SAMPLE_LIMIT
from sim.metrics.histogram import LatencyHistogram
from sim.metrics.warmup import BATCHES


class Kept:
    """Exact per-copy columns, kept in chunks while their count stays within ``limit`` (None: no
    limit); beyond it they are let go, and :attr:`whole` says so."""

    __slots__ = ("chunks", "count", "limit", "whole")

    def __init__(self, names: tuple[str, ...], limit: int | None) -> None:
        self.chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
        self.count = 0
        self.limit = limit
        self.whole = True

    def add(self, **columns: np.ndarray) -> None:
        if not self.whole:
            return
        size = len(next(iter(columns.values())))
        if self.limit is not None and self.count + size > self.limit:
            self.whole = False
            self.chunks = {name: [] for name in self.chunks}
            return
        self.count += size
        for name, values in columns.items():
            self.chunks[name].append(values)

    def column(self, name: str, dtype: type = float) -> np.ndarray:
        """Every kept value of column ``name``, in the order they were added."""
        chunks = self.chunks[name]
        if not chunks:
            return np.empty(0, dtype=dtype)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


class Tally:
    """What one row saw in one replication, folded in chunk by chunk (see the module)."""

    def __init__(
        self,
        warmup: float,
        end: float,
        deadline: float | None,
        survival_time: float | None,
        instances: int,
        limit: int | None = SAMPLE_LIMIT,
        period: float | None = None,
    ) -> None:
        self.warmup = warmup
        self.end = end
        self.deadline = deadline
        self.survival_time = survival_time
        self.latency = LatencyHistogram()
        self.delivered = 0
        self.late = 0  # delivered after the deadline
        self.dropped = 0
        self.undelivered = 0  # published in the window, still on the way at the end
        self.overdue = 0  # of them, those whose deadline has passed by the end
        self.window_deliveries = 0
        self.window_bits = 0.0
        self.batch_counts = np.zeros(BATCHES, dtype=np.int64)
        self.batch_sums = np.zeros(BATCHES)
        self._edges = np.linspace(warmup, end, BATCHES + 1)
        # availability: a valid message anticipates the next one. Periodic (``period``): due one
        # transfer interval after it was published, by the deadline; aperiodic: none is
        # anticipated, so the cover is its arrival. Each instance is covered until then plus the
        # survival time; the time beyond its cover until the next valid arrival is time down.
        self._ahead = period + (deadline or 0.0) if period is not None else None
        first = warmup + (self._ahead or 0.0) + (survival_time or 0.0)
        self._cover = np.full(instances, first) if survival_time is not None else None
        self._down = np.zeros(instances) if survival_time is not None else None
        self.deliveries = Kept(("published", "delivered", "payload", "instance"), limit)
        self.drops = Kept(("published", "at"), limit)

    # ------------------------------------------------------------------------------ folding

    def deliver(
        self,
        published: np.ndarray,
        delivered: np.ndarray,
        payload: np.ndarray,
        instance: np.ndarray,
    ) -> None:
        """Copies delivered at ``delivered`` (final: nothing recorded later is delivered earlier)."""
        self.deliveries.add(
            published=published, delivered=delivered, payload=payload, instance=instance
        )
        in_window = published >= self.warmup
        on_time = delivered <= self.end
        counted = in_window & on_time
        sent = published[counted]
        latencies = delivered[counted] - sent
        self.latency.add(latencies)
        self.delivered += latencies.size
        self._still_on_the_way(published[in_window & ~on_time])
        in_measurement = (delivered >= self.warmup) & on_time
        self.window_deliveries += int(np.count_nonzero(in_measurement))
        self.window_bits += float(payload[in_measurement].sum() * 8.0)
        if self.deadline is not None:
            self.late += int(np.count_nonzero(latencies > self.deadline))
        batch = np.searchsorted(self._edges, sent, side="right") - 1
        self.batch_counts += np.bincount(batch, minlength=BATCHES + 1)[:BATCHES]
        self.batch_sums += np.bincount(batch, weights=latencies, minlength=BATCHES + 1)[:BATCHES]
        if self._cover is not None:
            valid = in_measurement
            if self.deadline is not None:
                valid = valid & (delivered - published <= self.deadline)
            self._arrivals(delivered[valid], published[valid], instance[valid])

    def drop(self, published: np.ndarray, at: np.ndarray) -> None:
        """Copies dropped at ``at`` (final, as for :meth:`deliver`)."""
        self.drops.add(published=published, at=at)
        in_window = published >= self.warmup
        on_time = at <= self.end
        self.dropped += int(np.count_nonzero(in_window & on_time))
        self._still_on_the_way(published[in_window & ~on_time])

    def _still_on_the_way(self, published: np.ndarray) -> None:
        self.undelivered += published.size
        self.overdue += self._overdue(published)

    def _overdue(self, published: np.ndarray) -> int:
        if self.deadline is None:
            return 0
        return int(np.count_nonzero(published + self.deadline <= self.end))

    def _arrivals(self, times: np.ndarray, published: np.ndarray, instances: np.ndarray) -> None:
        """Valid arrivals at ``times`` of messages published at ``published``: each arrival after
        its instance's cover counts the time beyond it as down, and covers the instance until the
        message's successor is due (periodic) or it arrived (aperiodic), plus the survival
        time."""
        if not times.size:
            return
        order = np.lexsort((times, instances))
        times, instances = times[order], instances[order]
        anchor = times if self._ahead is None else published[order] + self._ahead
        cover = anchor + self.survival_time  # type: ignore[operator]
        first = np.ones(times.size, dtype=bool)
        first[1:] = instances[1:] != instances[:-1]
        carried = self._cover[instances[first]]  # type: ignore[index]
        cover[first] = np.maximum(cover[first], carried)
        # each instance's cover so far: a running maximum within its run of arrivals (a message
        # overtaken by a later one's arrival anticipates less than that one did)
        if np.any(np.diff(cover)[~first[1:]] < 0):
            for i in range(1, cover.size):
                if not first[i] and cover[i] < cover[i - 1]:
                    cover[i] = cover[i - 1]
        before = np.empty_like(cover)
        before[1:] = cover[:-1]
        before[first] = carried
        gaps = np.clip(times - before, 0.0, None)
        self._down += np.bincount(instances, weights=gaps, minlength=self._down.size)  # type: ignore[union-attr]
        last = np.ones(times.size, dtype=bool)
        last[:-1] = first[1:]
        self._cover[instances[last]] = cover[last]  # type: ignore[index]

    # ------------------------------------------------------------------------------ figures

    def at_end(self, held: np.ndarray) -> tuple[int, int, int]:
        """``(in flight, misses, judged)`` at the end, given the publish times of the copies the
        plant still holds: in flight, those published in the window and not delivered or dropped
        by the end; misses, copies late for the deadline, dropped, or undelivered when their
        deadline passed; judged, the copies whose fate at the deadline is known by the end."""
        held = held[held >= self.warmup]
        overdue = self.overdue + self._overdue(held)
        return (
            self.undelivered + held.size,
            self.late + self.dropped + overdue,
            self.delivered + self.dropped + overdue,
        )

    @property
    def batches(self) -> np.ndarray:
        """``(2, BATCHES)``: the counted copies in each stretch of the window by publish time, and
        the sum of their latencies (for :func:`sim.metrics.warmup.initial_bias`)."""
        return np.stack([self.batch_counts.astype(float), self.batch_sums])

    def availability(self) -> float | None:
        """The share of the window each instance was up, averaged over the instances (TS 22.104:
        down once an anticipated message has not come for longer than the survival time)."""
        if self._cover is None:
            return None
        tail = np.clip(self.end - self._cover, 0.0, None)
        down = self._down + tail  # type: ignore[operator]
        return float(np.mean(1.0 - down / (self.end - self.warmup)))

    def exact(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The publish and delivery times of the counted copies (published in the window,
        delivered by the end), in the order they were handed over; None beyond the limit."""
        if not self.deliveries.whole:
            return None
        published = self.deliveries.column("published")
        delivered = self.deliveries.column("delivered")
        counted = (published >= self.warmup) & (delivered <= self.end)
        return published[counted], delivered[counted]


class CompletionTally:
    """The publisher's QoS 1/2 completion times of one stream (publish to PUBACK or PUBCOMP), over
    the messages published in the window and completed by the end; exact while few."""

    def __init__(self, warmup: float, end: float, limit: int | None = SAMPLE_LIMIT) -> None:
        self.warmup = warmup
        self.end = end
        self.latency = LatencyHistogram()
        self.kept = Kept(("published", "completed"), limit)

    def complete(self, published: np.ndarray, completed: np.ndarray) -> None:
        self.kept.add(published=published, completed=completed)
        counted = (published >= self.warmup) & (completed <= self.end)
        self.latency.add(completed[counted] - published[counted])

    def exact(self) -> np.ndarray | None:
        """The completion times of the counted messages; None beyond the limit."""
        if not self.kept.whole:
            return None
        published = self.kept.column("published")
        completed = self.kept.column("completed")
        counted = (published >= self.warmup) & (completed <= self.end)
        return completed[counted] - published[counted]


__all__ = ["CompletionTally", "Kept", "Tally"]
