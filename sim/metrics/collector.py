"""Streaming collection of what happened to each copy of each message, per metric row.

A row is one (machine class, stream, subscriber): the copies of a stream's messages that are meant
for one subscriber. The collector only appends numbers while the simulation runs; every statistic is
computed afterwards (:mod:`sim.metrics.summary`), so the hot path stays a few list appends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.models.message import Message
    from sim.models.mqtt.client import Completion


class Row:
    """Publications, deliveries and drops of one (machine class, stream, subscriber)."""

    __slots__ = (
        "completion",
        "deadline",
        "delivered_at",
        "delivered_instance",
        "delivered_payload",
        "delivered_published_at",
        "dropped_at",
        "dropped_published_at",
        "duplicates",
        "instances",
        "late",
        "machine",
        "period",
        "published",
        "resumed",
        "retained",
        "stream",
        "subscriber",
        "survival_time",
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
    ) -> None:
        self.machine = machine
        self.stream = stream
        self.subscriber = subscriber
        self.instances = instances
        self.deadline = deadline
        self.survival_time = survival_time
        self.period = period
        self.published = 0  # copies published inside the measurement window
        self.delivered_published_at: list[float] = []
        self.delivered_at: list[float] = []
        self.delivered_payload: list[float] = []
        self.delivered_instance: list[int] = []
        self.dropped_published_at: list[float] = []
        self.dropped_at: list[float] = []
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
        self.delivered_published_at.append(msg.t_pub)
        self.delivered_at.append(when)
        self.delivered_payload.append(msg.payload)
        self.delivered_instance.append(msg.instance)
        if late or msg.resumed or (self.late and msg in self.late):
            self.resumed.append((msg.t_pub, when))

    def drop(self, msg: Message, when: float) -> None:
        """A copy of ``msg`` meant for this row was discarded at ``when``."""
        self.dropped_published_at.append(msg.t_pub)
        self.dropped_at.append(when)
