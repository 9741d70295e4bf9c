"""The sending side of MQTT QoS 1 and 2 on one connection: the in-flight window and the queue.

A sender (a machine's client, the broker's session with a subscriber, a bridge) may have at most
``max_inflight`` QoS 1/2 messages sent and not yet acknowledged (paho-mqtt's
``max_inflight_messages``, Mosquitto's ``max_inflight_messages``; both 20 by default). Beyond that
messages wait in a queue, in order; a broker's queue holds at most ``max_queued`` (Mosquitto's
``max_queued_messages``: the message that finds it full is dropped and counted), a client's is
unbounded (paho's default). A message leaves the window with its PUBACK (QoS 1) or PUBCOMP (QoS 2);
its PUBREC makes the sender send PUBREL.

When the connection drops, the sender stops; when it is back (with a persistent session) it sends
again, in order, every message not yet acknowledged: the PUBLISH (flagged DUP) or, for a QoS 2
message whose PUBREC had come back, the PUBREL (MQTT 3.1.1 section 4.4), then the queue.

Everything here happens at the time it happens (SimPy events where a call comes early), because
the window's state at one moment decides what the next message does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Literal

import simpy

from sim.models.events import Arrival
from sim.models.mqtt.packets import DONE, HELD, PUBREC, PUBREL, WIRE, Control, Publish

Transmit = Callable[[object, float], None]
Complete = Callable[[Publish, float], None]


class Outbox:
    """QoS 1/2 window and queue of one sender on one connection."""

    __slots__ = (
        "complete",
        "due",
        "env",
        "inflight",
        "late_for",
        "max_inflight",
        "max_queued",
        "name",
        "online",
        "queue",
        "reply",
        "transmit",
    )

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        max_inflight: int,
        max_queued: int | None = None,
        complete: Complete | None = None,
        late_for: Literal["copy", "message", "rows"] = "copy",
    ) -> None:
        """``late_for``: whom a message sent again after a reconnection is late for: ``"copy"``,
        the one copy (a broker's session with a subscriber); ``"message"``, every copy (the
        publisher's connection); ``"rows"``, the copies behind this sender (a bridge)."""
        self.env = env
        self.name = name
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.complete = complete
        self.late_for = late_for
        self.transmit: Transmit = _unwired  # towards the receiver
        self.reply: Transmit = _unwired  # how the receiver answers (towards this sender)
        self.online = True
        # sent and not yet acknowledged, in order (True: answered early, its place not yet free)
        self.inflight: dict[Publish, bool] = {}
        self.queue: deque[Publish] = deque()
        self.due: deque[tuple[float, Publish]] = deque()  # early last answers, in time order

    def send(self, pub: Publish, when: float) -> None:
        """Send ``pub`` at ``when`` if the window and the connection allow it, else queue it."""
        if when > self.env.now:
            Arrival(self.env, when, self.send, pub)
            return
        if self.has_room(when):
            self._transmit(pub, when)
        elif self.max_queued is not None and len(self.queue) >= self.max_queued:
            pub.state = DONE
            for row in pub.rows:
                row.drop(pub.msg, when)
        else:
            self.queue.append(pub)
            if self.due:  # the queue now waits for the room these answers make: at their times
                for at, answered in self.due:
                    Arrival(self.env, at, self._free, answered)
                self.due.clear()

    def has_room(self, now: float) -> bool:
        """Whether a message could be sent at ``now`` without waiting."""
        if self.due:
            self._settle(now)
        return self.online and not self.queue and len(self.inflight) < self.max_inflight

    def transmit_now(self, pub: Publish, when: float) -> None:
        """Send ``pub`` at once: the caller knows the window has room and nothing is queued."""
        self._transmit(pub, when)

    def _transmit(self, pub: Publish, when: float) -> None:
        if pub.qos:
            self.inflight[pub] = False  # True once answered (see ack)
        pub.state = WIRE
        self.transmit(pub, when)

    def ack(self, ctrl: Control, when: float) -> None:
        """An acknowledgement (PUBACK, PUBREC or PUBCOMP) of one of our messages arrives."""
        if when > self.env.now:
            if ctrl.kind != PUBREC and not self.queue:
                # The exchange's last answer, known early while nothing waits for the room it
                # makes: the exchange completes now, its place in the window is given back when
                # the window is next looked at (saves an event per message).
                pub = ctrl.ref
                if self.inflight.get(pub) is False:  # type: ignore[call-overload]
                    self.inflight[pub] = True  # type: ignore[index]
                    if self.complete is not None:
                        self.complete(pub, when)  # type: ignore[arg-type]
                    self.due.append((when, pub))  # type: ignore[arg-type]
            else:
                Arrival(self.env, when, self.ack, ctrl)
            return
        if self.due:
            self._settle(when)
        pub: Publish = ctrl.ref  # type: ignore[assignment]
        if pub not in self.inflight:
            return  # a second answer to a copy sent again after a reconnection
        if ctrl.kind == PUBREC:
            if not pub.rec:
                pub.rec = True
                self.transmit(Control(PUBREL, pub, pub.msg.priority), when)
            return
        self._finish(pub, when)
        self._next(when)

    def _finish(self, pub: Publish, when: float) -> None:
        answered = self.inflight.pop(pub, None)
        if answered is False and self.complete is not None:
            self.complete(pub, when)

    def _settle(self, now: float) -> None:
        """Give back the places of the exchanges that completed by ``now``."""
        due = self.due
        while due and due[0][0] <= now:
            self.inflight.pop(due.popleft()[1], None)

    def _free(self, pub: Publish, when: float) -> None:
        self.inflight.pop(pub, None)
        self._next(when)

    def _next(self, when: float) -> None:
        queue = self.queue
        while queue and self.online and len(self.inflight) < self.max_inflight:
            self._transmit(queue.popleft(), when)

    def pause(self) -> None:
        """The connection is lost: send nothing until :meth:`resume`."""
        self._settle(self.env.now)  # (an answer due later would have crossed the outage)
        self.online = False

    def resume(self, when: float) -> None:
        """The connection is back: send again what is not acknowledged, then the queue."""
        self._settle(when)
        self.online = True
        for pub, answered in list(self.inflight.items()):  # (answers may come back at once)
            if answered:
                continue
            pub.resent = True
            if pub.rec:
                self.transmit(Control(PUBREL, pub, pub.msg.priority), when)
            else:
                if not pub.released:
                    pub.state = WIRE
                    self._late(pub)
                self.transmit(pub, when)
        for pub in self.queue:  # waited for the connection: late as well
            pub.resent = True
            self._late(pub)
        self._next(when)

    def _late(self, pub: Publish) -> None:
        if self.late_for == "message":
            pub.msg.resumed = True
        elif self.late_for == "rows":
            for row in pub.rows:
                row.late.add(pub.msg)

    def purge(self, when: float) -> None:
        """A clean session ends: the broker forgets every message it had for the client."""
        self._settle(when)
        for pub in [*self.inflight, *self.queue]:
            if pub.state != DONE and not pub.released:
                pub.state = DONE
                for row in pub.rows:
                    row.drop(pub.msg, when)
        self.inflight.clear()
        self.queue.clear()

    def held(self) -> list[Publish]:
        """Messages whose copies this sender holds: queued, or lost with the connection, or stored
        by the receiver until PUBREL (not on a network, where the network model holds them)."""
        held = [pub for pub in self.queue if pub.state != DONE]
        held += [pub for pub in self.inflight if pub.state == HELD and not pub.released]
        return held


def _unwired(_packet: object, _when: float) -> None:
    raise RuntimeError("an outbox was used before the engine wired it to a connection")
