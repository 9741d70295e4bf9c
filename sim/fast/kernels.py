"""The fast engine's compiled loops (numba): each a stage's recursion over one chunk's arrays.

Each one does, per item, the operations the event engine's model does per message, in the same
order, so that both give the same floats; the model each one follows is named in its docstring.
State that outlives a chunk (a port's free time, a connection's last release) is passed in and
returned, or updated in place in the arrays given.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def fifo_port(times, wire, per_byte, free, latency):  # pragma: no cover - compiled
    """A FIFO of ``per_byte`` seconds a byte (0: no capacity limit), then each one's latency."""
    out = np.empty_like(times)
    for i in range(times.size):
        start = times[i]
        if per_byte:
            if start < free:
                start = free
            start += wire[i] * per_byte
            free = start
        out[i] = start + latency[i]
    return out, free


@njit(cache=True)
def in_order(conn, times, last):  # pragma: no cover - compiled
    """TCP's in-order release: not before what came before on the same connection."""
    out = np.empty_like(times)
    for i in range(times.size):
        c = conn[i]
        t = times[i]
        if t < last[c]:
            t = last[c]
        last[c] = t
        out[i] = t
    return out


@njit(cache=True)
def host_stack(conn, times, draws, ptr, used, last):  # pragma: no cover - compiled
    """A host's stack, in order per connection (:class:`~sim.models.laws.InOrderDelay`): each
    packet leaves its draw after it came and not before the one ahead (:func:`in_order`);
    connection ``c``'s draws are ``draws[ptr[c]:]``, of which ``used[c]`` are spent."""
    delayed = np.empty_like(times)
    for i in range(times.size):
        c = conn[i]
        delayed[i] = times[i] + draws[ptr[c] + used[c]]
        used[c] += 1
    return in_order(conn, delayed, last)


@njit(cache=True)
def broker_loop(
    times, kind, payload, route, ptr, sessions, service, per_byte, fanout, free
):  # pragma: no cover
    """The broker's loop: each PUBLISH's service and fan-out; a PINGREQ keeps its place."""
    copies = 0
    for i in range(times.size):
        if kind[i] == 0:
            copies += ptr[route[i] + 1] - ptr[route[i]]
    item = np.empty(copies, np.int64)
    session = np.empty(copies, np.int64)
    at = np.empty(copies)
    answered = np.full(times.size, np.nan)
    n = 0
    for i in range(times.size):
        start = times[i] if times[i] > free else free
        if kind[i] != 0:
            answered[i] = start
            continue
        done = start + service + per_byte * payload[i]
        for k in range(ptr[route[i]], ptr[route[i] + 1]):
            done += fanout
            item[n] = i
            session[n] = sessions[k]
            at[n] = done
            n += 1
        free = done
    return item, session, at, answered, free


@njit(cache=True)
def sessions(session, when, pace, limit, free, last, ring, ring_at, head, size):  # pragma: no cover
    """Each subscriber session: copies taken at the client's pace; a QoS 0 copy that finds
    ``max_queued`` waiting is dropped (NaN)."""
    out = np.empty_like(when)
    for i in range(when.size):
        s = session[i]
        w = when[i]
        p = pace[s]
        if p:
            q = limit[s]
            base = ring_at[s]
            while size[s] and ring[base + head[s]] <= w:
                head[s] = (head[s] + 1) % q
                size[s] -= 1
            if size[s] >= q:
                out[i] = np.nan
                continue
            start = w if w > free[s] else free[s]
            free[s] = start + p
            ring[base + (head[s] + size[s]) % q] = start
            size[s] += 1
        else:
            start = w if w > last[s] else last[s]
        last[s] = start
        out[i] = start
    return out


@njit(cache=True)
def keep_alive(timer, received, last_up, keep_alive, end, pub_ptr, pub_times):  # pragma: no cover
    """Each connection's keep-alive timer up to ``end``: the ping it sends there (NaN: none).

    ``pub_times[pub_ptr[c]:pub_ptr[c + 1]]`` are connection ``c``'s publishes of the chunk (its
    streams one after another); ``last_up`` its last send before the chunk."""
    ping = np.full(timer.size, np.nan)
    for c in range(timer.size):
        w = timer[c]
        while w < end:
            sent = last_up[c]
            for k in range(pub_ptr[c], pub_ptr[c + 1]):
                if sent < pub_times[k] < w:
                    sent = pub_times[k]
            quiet = sent if sent < received[c] else received[c]
            due = quiet + keep_alive[c]
            if due <= w:
                ping[c] = w
                received[c] = w
                last_up[c] = w
                w = w + keep_alive[c]
            else:
                w = due
        timer[c] = w
        sent = last_up[c]
        for k in range(pub_ptr[c], pub_ptr[c + 1]):
            if pub_times[k] > sent:
                sent = pub_times[k]
        last_up[c] = sent
    return ping


@njit(cache=True)
def window_binds(
    conn, sent, released, nbytes, checked, reverse, window, connections
):  # pragma: no cover
    """Whether some message leaves while more than ``window`` bytes, its own included, are not
    yet acknowledged: an ACK comes back ``reverse`` after the receiver released the message
    (:meth:`TcpConnection.clearance`, counting a message acknowledged once it is all released).
    Items in each connection's send order (connections interleaved); only ``checked`` ones are
    tested. A connection's unacknowledged messages are a run of its latest, kept as a list."""
    following = np.full(sent.size, -1, np.int64)
    newest = np.full(connections, -1, np.int64)
    oldest = np.full(connections, -1, np.int64)  # its oldest message not yet acknowledged
    total = np.zeros(connections)
    acked = np.zeros(connections)
    for i in range(sent.size):
        c = conn[i]
        if newest[c] >= 0:
            following[newest[c]] = i
        else:
            oldest[c] = i
        newest[c] = i
        total[c] += nbytes[i]
        k = oldest[c]
        while k != -1 and k < i and released[k] + reverse <= sent[i]:
            acked[c] += nbytes[k]
            k = following[k]
        oldest[c] = k
        if checked[i] and total[c] - acked[c] > window:
            return True
    return False


@njit(cache=True)
def access_link(conn, ready, size, per_byte, free):  # pragma: no cover - compiled
    """Each connection's own link (an Ethernet NIC or a subscriber's access port,
    :class:`~sim.models.links.ethernet.EthernetLink`): frames in each connection's order, each
    starting when it is ready and the link is free, ``size * per_byte`` on the wire; when each
    starts and when its last bit has left."""
    start = np.empty_like(ready)
    out = np.empty_like(ready)
    for i in range(ready.size):
        c = conn[i]
        s = ready[i] if ready[i] > free[c] else free[c]
        start[i] = s
        free[c] = s + size[i] * per_byte
        out[i] = free[c]
    return start, out


@njit(cache=True)
def shared_port(
    times, size, per_byte, free, arrival, gap, work, draws, first, out
):  # pragma: no cover
    """A shared FIFO output port with Poisson background traffic, frames ``first`` on (in arrival
    order, ``out`` their departures): before each frame the background bursts that arrived before
    it are served (:meth:`~sim.models.links.base.CrossTraffic.absorb`), each ``work`` long, the
    next one ``gap`` times the next exponential draw later. Stops where ``draws`` run out; returns
    the frame it got to, the port's free time, the next burst's arrival and the draws used."""
    used = 0
    for i in range(first, times.size):
        when = times[i]
        while arrival < when:
            if used == draws.size:
                return i, free, arrival, used
            free = (arrival if arrival > free else free) + work
            arrival += gap * draws[used]
            used += 1
        free = (when if when > free else free) + size[i] * per_byte
        out[i] = free
    return times.size, free, arrival, used
