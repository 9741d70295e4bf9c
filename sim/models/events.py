"""How a packet reaches a component at a future time, with as few SimPy events as possible.

A component whose state depends on other traffic (a shared link, a broker's service loop) must see
its arrivals in time order. When only one feeder sends to it, and that feeder's output is already in
time order (a FIFO's departures, a TCP connection's in-order deliveries), the arrival can be handed
over at once, even though its time lies in the future: nothing else can come between. Only a component
with several feeders needs a SimPy event per arrival, and then only for arrivals not already due now.
A delay that depends on no other traffic (propagation, processing) never needs an event of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.core import NORMAL
from simpy.events import Event

Offer = Callable[[Any, float], None]


class Arrival(Event):
    """``offer(item, when)`` called at simulated time ``when``; ``item`` holds a packet in flight."""

    def __init__(self, env: simpy.Environment, when: float, offer: Offer, item: Any) -> None:
        self.env = env
        self.callbacks = [self._arrive]
        self._value = item
        self._ok = True
        self.when = when
        self.offer = offer
        # Environment.schedule would store now + (when - now), which can differ from ``when`` in
        # the last place; the heap entry is SimPy's own (time, priority, id, event).
        heappush(env._queue, (when, NORMAL, next(env._eid), self))

    def _arrive(self, _event: Event) -> None:
        self.offer(self._value, self.when)


def ordered_entry(env: simpy.Environment, offer: Offer, feeders: int) -> Offer:
    """The entry to a component fed by ``feeders`` time-ordered senders.

    With one feeder (or none) the component is called directly; with several, an arrival that lies in
    the future is held in a SimPy event until its time, so the component sees all arrivals in order.
    """
    if feeders <= 1:
        return offer

    def entry(item: Any, when: float) -> None:
        if when <= env.now:
            offer(item, when)
        else:
            Arrival(env, when, offer, item)

    return entry


def pending_arrivals(env: simpy.Environment) -> list[Any]:
    """Items held in arrival events that have not fired yet (packets in flight at the end).

    Reads SimPy's event queue, which the Environment keeps as a heap of ``(time, priority, id, event)``.
    """
    return [event._value for (_, _, _, event) in env._queue if isinstance(event, Arrival)]
