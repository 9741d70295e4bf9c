"""The fast engine's sources: each stream's releases and payloads, and each end host's stack
delays, drawn as arrays, chunk by chunk, from the generators the event engine's models use."""

from __future__ import annotations

import numpy as np

from sim.fast.kernels import host_stack
from sim.models.draws import component_rng
from sim.models.laws import LawStream, is_constant
from sim.scenario.schema import MAX_PAYLOAD, Scenario


class Stream:
    """One stream of one machine instance: its releases and payload sizes, drawn in chunks with
    the operations of :class:`sim.models.traffic.StreamSource`, from the same generators."""

    __slots__ = (
        "conn",
        "every",
        "gaps",
        "jitter",
        "mean_gap",
        "nominal",
        "pending",
        "route",
        "sizes",
        "uniform",
    )

    def __init__(
        self,
        scenario: Scenario,
        replication: int,
        client: str,
        name: str,
        stream: object,
        conn: int,
        route: int,
    ) -> None:
        seed = scenario.seed
        rng = component_rng(seed, replication, f"machine:{client}:{name}")
        sizes = component_rng(seed, replication, f"machine:{client}:{name}:payload")
        self.sizes = LawStream(stream.payload, sizes)  # type: ignore[attr-defined]
        self.conn = conn
        self.route = route
        self.every = stream.every  # type: ignore[attr-defined]
        self.jitter = stream.jitter  # type: ignore[attr-defined]
        if self.every is not None:
            self.uniform = LawStream.blocks(rng.random)
            u = self.uniform.take(2)
            self.nominal = self.every * float(u[0])
            self.pending = self.nominal + self.jitter * float(u[1])
        else:
            self.mean_gap = 1.0 / stream.poisson  # type: ignore[attr-defined]
            self.gaps = LawStream.blocks(rng.standard_exponential)
            self.pending = self.mean_gap * float(self.gaps.take(1)[0])

    def releases(self, end: float) -> np.ndarray:
        """The releases before ``end`` (the first one after stays pending, its draw made)."""
        if self.pending >= end:
            return np.empty(0)
        if self.every is not None:
            return self._periodic(end)
        return self._poisson(end)

    def _periodic(self, end: float) -> np.ndarray:
        every = self.every
        m = int((end - self.nominal) / every) + 2
        nominal = np.cumsum(np.concatenate([[self.nominal], np.full(m, every)]))[1:]
        if self.jitter:
            u = self.uniform.take(m)
            following = nominal + self.jitter * u
        else:
            following = nominal
        j = int(np.searchsorted(following, end))  # increasing, as jitter < every
        if self.jitter:
            self.uniform.untake(u[j + 1 :])
        out = np.concatenate([[self.pending], following[:j]])
        self.nominal = float(nominal[j])
        self.pending = float(following[j])
        return out

    def _poisson(self, end: float) -> np.ndarray:
        parts = [np.asarray([self.pending])]
        now = self.pending
        while True:
            m = int(1.2 * (end - now) / self.mean_gap) + 16
            gaps = self.gaps.take(m)
            following = np.cumsum(np.concatenate([[now], self.mean_gap * gaps]))[1:]
            j = int(np.searchsorted(following, end))
            if j < m:
                self.gaps.untake(gaps[j + 1 :])
                parts.append(following[:j])
                self.pending = float(following[j])
                return np.concatenate(parts)
            parts.append(following)
            now = float(following[-1])


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
