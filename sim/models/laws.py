"""Samplers for the probability laws of :mod:`sim.scenario.laws` (delays and payload sizes)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.models.draws import BLOCK, FIRST_BLOCK, Draws
from sim.scenario.laws import (
    Constant,
    Exponential,
    Law,
    Lognormal,
    Normal,
    Trace,
    Uniform,
    read_trace,
)

Sampler = Callable[[], float]


def sampler(law: Law, draws: Draws) -> Sampler:
    """A function returning independent draws from ``law``, from the generator of ``draws``
    (a :class:`LawStream` taken one value at a time)."""
    if is_constant(law):
        value = law.mean
        return lambda: value
    return LawStream(law, draws.rng)


class LawStream:
    """Draws from one law, from one generator: a block at a time as an array (:meth:`take`, what
    the fast engine uses) or one at a time (calling it, what the event engine's models do); both
    give the same sequence, whatever the blocks, as each law is computed here once, on arrays.

    The normal law is truncated at zero by redrawing: a delay or a size is never negative (the
    accepted values, in order, are those a one-at-a-time redraw would give). A trace (read once
    per file, see :func:`sim.scenario.laws.read_trace`) draws one of its samples, each equally
    likely, or one point of its histogram: a bin chosen by weight, uniform within it.
    """

    __slots__ = ("_block", "_i", "_make", "_surplus")

    def __init__(self, law: Law, rng: np.random.Generator) -> None:
        self._make = _vector(law, rng)
        self._block: list[float] = []
        self._i = 0
        self._surplus = np.empty(0)  # drawn by a block call, not yet handed out

    @classmethod
    def blocks(cls, make: Callable[[int], np.ndarray]) -> LawStream:
        """A stream of what ``make(n)`` draws (a generator's standard draws, say)."""
        stream = cls.__new__(cls)
        stream._make = make
        stream._block = []
        stream._i = 0
        stream._surplus = np.empty(0)
        return stream

    def untake(self, values: np.ndarray) -> None:
        """Put back the last values :meth:`take` gave, unused: they come out next."""
        if values.size:
            self._surplus = np.concatenate([values, self._surplus])

    def _draw(self, n: int) -> np.ndarray:
        """The next ``n`` values."""
        parts = [self._surplus]
        have = self._surplus.size
        while have < n:
            block = self._make(n - have)
            parts.append(block)
            have += block.size
        values = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self._surplus = values[n:]
        return values[:n]

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` values as an array (after any handed out one at a time)."""
        rest = self._block[self._i :]
        self._block, self._i = [], 0
        if not rest:
            return self._draw(n)
        if len(rest) >= n:
            self._block, self._i = rest, n
            return np.asarray(rest[:n])
        return np.concatenate([np.asarray(rest), self._draw(n - len(rest))])

    def __call__(self) -> float:
        i = self._i
        if i >= len(self._block):
            self._block = self._draw(_grow(len(self._block))).tolist()
            i = 0
        self._i = i + 1
        return self._block[i]


def _vector(law: Law, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    """``draw(n)``: a block of about ``n`` draws of ``law`` (at least one)."""
    if isinstance(law, Constant):
        value = law.value
        return lambda n: np.full(n, value)
    if isinstance(law, Uniform):
        low, span = law.low, law.high - law.low
        if span == 0:
            return lambda n: np.full(n, low)
        return lambda n: low + span * rng.random(n)
    if isinstance(law, Exponential):
        mean = law.mean
        return lambda n: mean * rng.standard_exponential(n)
    if isinstance(law, Lognormal):
        mu, sigma = law.mu, law.sigma
        return lambda n: np.exp(mu + sigma * rng.standard_normal(n))
    if isinstance(law, Normal):
        mean, std = law.mean, law.std

        def truncated(n: int) -> np.ndarray:
            values = mean + std * rng.standard_normal(n)
            return values[values >= 0.0]

        return truncated
    if isinstance(law, Trace):
        return _trace_vector(law, rng)
    raise TypeError(f"no sampler for law {law!r}")


def _trace_vector(law: Trace, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    data = read_trace(law.file)
    if data.samples is not None:
        samples = data.samples * law.scale
        count = float(samples.size)
        return lambda n: samples[
            np.minimum((count * rng.random(n)).astype(np.int64), samples.size - 1)
        ]
    assert data.edges is not None and data.weights is not None
    # One uniform draw u does both steps: the bin k whose cumulative weights bracket u is chosen
    # with its weight, and (u - start_k) / weight_k is then uniform in [0, 1) within that bin
    # (inversion of the histogram's piecewise-linear distribution function).
    keep = data.weights > 0
    lows = data.edges[:-1][keep] * law.scale
    widths = np.diff(data.edges)[keep] * law.scale
    weights = data.weights[keep]
    ends = np.cumsum(weights)
    ends[-1] = 1.0
    starts = ends - weights
    slopes = widths / weights
    last = ends.size - 1

    def histogram(n: int) -> np.ndarray:
        u = rng.random(n)
        k = np.minimum(np.searchsorted(ends, u, side="right"), last)
        return lows[k] + (u - starts[k]) * slopes[k]

    return histogram


def _grow(size: int) -> int:
    return FIRST_BLOCK if size == 0 else min(2 * size, BLOCK)


class InOrderDelay:
    """A delay drawn per packet at a stage that keeps packets in order (a host's network stack, a
    router): each packet leaves its draw after it came, and not before the one ahead of it."""

    __slots__ = ("draw", "last")

    def __init__(self, draw: Sampler) -> None:
        self.draw = draw
        self.last = 0.0

    def __call__(self, when: float) -> float:
        when += self.draw()
        if when < self.last:
            when = self.last
        self.last = when
        return when


def is_constant(law: Law) -> bool:
    """Whether every draw of ``law`` is the same number."""
    return isinstance(law, Constant) or (isinstance(law, Uniform) and law.low == law.high)
