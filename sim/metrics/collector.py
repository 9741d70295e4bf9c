"""Streaming collection of what happened to each copy of each message, per metric row.

A row is one (machine class, stream, subscriber): the copies of a stream's messages that are meant
for one subscriber. While the simulation runs the collector only appends numbers to short buffers
(the hot path stays a few list appends); the engine hands them over now and then, as numpy chunks,
to the row's :class:`~sim.metrics.tally.Tally`, which keeps the statistics in memory bounded by the
plant rather than by the simulated duration (:meth:`Row.flush`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.metrics import SAMPLE_LIMIT
from sim.metrics.tally import CompletionTally, Kept, Tally

if TYPE_CHECKING:
    from sim.models.message import Message
    from sim.models.mqtt.packets import Publish

FLUSH = 1 << 14  # buffered copies at which a row hands them over


def _final(times: list[float], now: float) -> np.ndarray:
    """Which buffered entries are final at ``now``: those not after it."""
    return np.asarray(times, dtype=float) <= now


class Row:
    """Publications, deliveries and drops of one (machine class, stream, subscriber)."""

    __slots__ = (
        "_at",
        "_drop_at",
        "_drop_published",
        "_instance",
        "_payload",
        "_published",
        "completion",
        "deadline",
        "duplicates",
        "instances",
        "late",
        "machine",
        "period",
        "published",
        "refused",
        "resumed",
        "retained",
        "stream",
        "subscriber",
        "survival_time",
        "tally",
    )

    def __init__(
        self,
        machine: str,
        stream: str,
        subscriber: str,
        instances: int,
        deadline: float | None,
        survival_time: float | None,
        period: float | None,
        *,
        warmup: float = 0.0,
        end: float = math.inf,
        limit: int | None = SAMPLE_LIMIT,
    ) -> None:
        self.machine = machine
        self.stream = stream
        self.subscriber = subscriber
        self.instances = instances
        self.deadline = deadline
        self.survival_time = survival_time
        self.period = period
        self.published = 0  # copies published inside the measurement window
        self.refused = 0  # of those, copies a broker's defences refused (dropped, counted apart)
        self._published: list[float] = []
        self._at: list[float] = []
        self._payload: list[float] = []
        self._instance: list[int] = []
        self._drop_published: list[float] = []
        self._drop_at: list[float] = []
        self.tally = Tally(warmup, end, deadline, survival_time, instances, limit, period)
        self.resumed: list[tuple[float, float]] = []  # (published, delivered) after a reconnection
        self.duplicates = 0  # QoS 1 copies that arrived a second time (over the whole run)
        self.retained = 0  # retained messages sent on resubscribing (over the whole run)
        self.completion: Completion | None = None  # the publisher's QoS 1/2 exchanges
        self.late: set[Message] = set()  # messages a bridge sent again after a reconnection

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.machine, self.stream, self.subscriber)

    def deliver(self, msg: Message, when: float, late: bool = False) -> None:
        """The subscriber received a copy of ``msg`` at ``when`` (possibly after the end of the run);
        ``late``: the copy waited for a lost connection to come back."""
        self._published.append(msg.t_pub)
        self._at.append(when)
        self._payload.append(msg.payload)
        self._instance.append(msg.instance)
        if late or msg.resumed or (self.late and msg in self.late):
            self.resumed.append((msg.t_pub, when))

    def drop(self, msg: Message, when: float) -> None:
        """A copy of ``msg`` meant for this row was discarded at ``when``."""
        self._drop_published.append(msg.t_pub)
        self._drop_at.append(when)

    def refuse(self, msg: Message, when: float) -> None:
        """A broker's defence (ACL, rate or size limit) refused the copy of ``msg`` at ``when``:
        dropped, and counted as refused."""
        if msg.t_pub >= self.tally.warmup:
            self.refused += 1
        self.drop(msg, when)

    @property
    def buffered(self) -> int:
        return len(self._at) + len(self._drop_at)

    def flush(self, now: float = math.inf) -> None:
        """Hand the copies whose fate is final at simulated time ``now`` (all of them by default,
        at the end of the run) to the tally; later ones stay buffered.

        Only availability needs each instance's copies in time order (a gap is measured from the
        previous valid arrival), so a row without a survival time hands over every copy at once,
        even those a model has already timed beyond ``now`` (the backlog of a saturated broker,
        which would otherwise wait here and grow with the run)."""
        if self.survival_time is None:
            now = math.inf
        if self._at:
            final = _final(self._at, now)
            columns = (
                np.asarray(self._published, dtype=float),
                np.asarray(self._at, dtype=float),
                np.asarray(self._payload, dtype=float),
                np.asarray(self._instance, dtype=np.int64),
            )
            if final.all():
                self._published, self._at, self._payload, self._instance = [], [], [], []
                self.tally.deliver(*columns)
            else:
                self.tally.deliver(*(column[final] for column in columns))
                rest = [column[~final].tolist() for column in columns]
                self._published, self._at, self._payload, self._instance = rest
        if self._drop_at:
            final = _final(self._drop_at, now)
            published = np.asarray(self._drop_published, dtype=float)
            at = np.asarray(self._drop_at, dtype=float)
            self.tally.drop(published[final], at[final])
            self._drop_published = published[~final].tolist()
            self._drop_at = at[~final].tolist()

    # what the row recorded so far, as lists, for tests and tools that read exact timelines
    # (complete while the row keeps its copies: SAMPLE_LIMIT)

    def _column(self, kept: Kept, name: str, buffer: list, dtype: type = float) -> list:
        return [*kept.column(name, dtype).tolist(), *buffer]

    @property
    def delivered_published_at(self) -> list:
        return self._column(self.tally.deliveries, "published", self._published)

    @property
    def delivered_at(self) -> list:
        return self._column(self.tally.deliveries, "delivered", self._at)

    @property
    def delivered_payload(self) -> list:
        return self._column(self.tally.deliveries, "payload", self._payload)

    @property
    def delivered_instance(self) -> list:
        return self._column(self.tally.deliveries, "instance", self._instance, np.int64)

    @property
    def dropped_published_at(self) -> list:
        return self._column(self.tally.drops, "published", self._drop_published)

    @property
    def dropped_at(self) -> list:
        return self._column(self.tally.drops, "at", self._drop_at)


class Completion:
    """When the publisher's QoS 1/2 exchanges of one stream completed (PUBACK or PUBCOMP back)."""

    __slots__ = ("_completed", "_published", "tally")

    def __init__(
        self, warmup: float = 0.0, end: float = math.inf, limit: int | None = SAMPLE_LIMIT
    ) -> None:
        self._published: list[float] = []
        self._completed: list[float] = []
        self.tally = CompletionTally(warmup, end, limit)

    def record(self, pub: Publish, when: float) -> None:
        self._published.append(pub.msg.t_pub)
        self._completed.append(when)

    @property
    def buffered(self) -> int:
        return len(self._completed)

    def flush(self, now: float = math.inf) -> None:
        """Hand the exchanges completed by ``now`` to the tally."""
        if not self._completed:
            return
        final = _final(self._completed, now)
        published = np.asarray(self._published, dtype=float)
        completed = np.asarray(self._completed, dtype=float)
        self.tally.complete(published[final], completed[final])
        self._published = published[~final].tolist()
        self._completed = completed[~final].tolist()

    @property
    def published_at(self) -> list[float]:
        return [*self.tally.kept.column("published").tolist(), *self._published]

    @property
    def completed_at(self) -> list[float]:
        return [*self.tally.kept.column("completed").tolist(), *self._completed]
