"""Samplers for the probability laws of :mod:`sim.scenario.laws` (delays and payload sizes)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable

import numpy as np

from sim.models.draws import Draws
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
    """A function returning independent draws from ``law``.

    The normal law is truncated at zero by redrawing: a delay or a size is never negative. A trace
    (read once per file, see :func:`sim.scenario.laws.read_trace`) draws one of its samples, each
    equally likely, or one point of its histogram: a bin chosen by weight, uniform within it.
    """
    if isinstance(law, Constant):
        value = law.value
        return lambda: value
    if isinstance(law, Uniform):
        low, span = law.low, law.high - law.low
        if span == 0:
            return lambda: low
        uniform = draws.uniform
        return lambda: low + span * uniform()
    if isinstance(law, Exponential):
        mean = law.mean
        exponential = draws.exponential
        return lambda: mean * exponential()
    if isinstance(law, Lognormal):
        mu, sigma = law.mu, law.sigma
        normal = draws.normal
        exp = math.exp
        return lambda: exp(mu + sigma * normal())
    if isinstance(law, Normal):
        mean, std = law.mean, law.std
        normal = draws.normal

        def truncated() -> float:
            while True:
                value = mean + std * normal()
                if value >= 0.0:
                    return value

        return truncated
    if isinstance(law, Trace):
        return _trace_sampler(law, draws)
    raise TypeError(f"no sampler for law {law!r}")


def _trace_sampler(law: Trace, draws: Draws) -> Sampler:
    data = read_trace(law.file)
    uniform = draws.uniform
    if data.samples is not None:
        samples = (data.samples * law.scale).tolist()
        last = len(samples) - 1
        count = float(len(samples))

        def sample() -> float:
            i = int(count * uniform())
            return samples[i if i < last else last]

        return sample
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
    low_of, start_of = lows.tolist(), starts.tolist()
    slope_of = (widths / weights).tolist()
    cumulative = ends.tolist()
    last = len(cumulative) - 1

    def histogram() -> float:
        u = uniform()
        k = bisect_right(cumulative, u)
        if k > last:
            k = last
        return low_of[k] + (u - start_of[k]) * slope_of[k]

    return histogram


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
