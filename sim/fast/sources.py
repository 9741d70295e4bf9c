"""The fast engine's sources: each stream's releases and payloads, and each end host's stack
delays, drawn as arrays, chunk by chunk, from the generators the event engine's models use."""

from __future__ import annotations

import numpy as np

from sim.fast.kernels import host_stack
from sim.models.draws import component_rng
from sim.models.laws import LawStream, is_constant
from sim.models.traffic import Releases
from sim.scenario.schema import MAX_PAYLOAD, Scenario
from sim.scenario.schema import Stream as StreamConfig


class Stream:
    """One stream of one machine instance: its releases (:class:`~sim.models.traffic.Releases`,
    as the event engine's source takes them) and payload sizes, drawn in chunks from the
    generators of :class:`sim.models.traffic.StreamSource`."""

    __slots__ = ("conn", "releases", "route", "sizes")

    def __init__(
        self,
        scenario: Scenario,
        replication: int,
        client: str,
        name: str,
        stream: StreamConfig,
        conn: int,
        route: int,
    ) -> None:
        seed = scenario.seed
        rng = component_rng(seed, replication, f"machine:{client}:{name}")
        sizes = component_rng(seed, replication, f"machine:{client}:{name}:payload")
        self.sizes = LawStream(stream.payload, sizes)
        self.conn = conn
        self.route = route
        self.releases = Releases(stream, rng)


class Hosts:
    """One end's host stack for every connection, one way (a client sending, a broker receiving,
    ...): a draw sequence per connection, from the generator the event engine's stack uses."""

    def __init__(
        self, scenario: Scenario, replication: int, laws: list, names: list[str], way: str
    ) -> None:
        self.streams = [
            None
            if law is None
            else law.mean
            if is_constant(law)
            else LawStream(law, component_rng(scenario.seed, replication, f"{name}:{way}"))
            for law, name in zip(laws, names, strict=True)
        ]
        self.last = np.zeros(len(laws))
        self.active = any(stream is not None for stream in self.streams)

    def __call__(self, conn: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The times ``times`` (in each connection's order) leave the stack."""
        if not self.active or not times.size:
            return times
        counts = np.bincount(conn, minlength=len(self.streams))
        parts = []
        for c in np.flatnonzero(counts):
            stream = self.streams[c]
            n = int(counts[c])
            if stream is None:
                parts.append(np.zeros(n))
            elif isinstance(stream, float):
                parts.append(np.full(n, stream))
            else:
                parts.append(stream.take(n))
        ptr = np.zeros(len(self.streams) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(counts)
        used = np.zeros(len(self.streams), dtype=np.int64)
        return host_stack(conn, times, np.concatenate(parts), ptr, used, self.last)


def payload_bytes(draws: np.ndarray) -> np.ndarray:
    """:func:`sim.models.traffic.payload_bytes` of an array of draws."""
    return np.clip(np.round(draws), 1, MAX_PAYLOAD)
