"""Samplers for the probability laws of :mod:`sim.scenario.laws` (delays and payload sizes)."""

from __future__ import annotations

import math
from collections.abc import Callable

from sim.models.draws import Draws
from sim.scenario.laws import Constant, Exponential, Law, Lognormal, Normal, Uniform

Sampler = Callable[[], float]


def sampler(law: Law, draws: Draws) -> Sampler:
    """A function returning independent draws from ``law``.

    The normal law is truncated at zero by redrawing: a delay or a size is never negative.
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
    raise TypeError(f"no sampler for law {law!r}")


def is_constant(law: Law) -> bool:
    """Whether every draw of ``law`` is the same number."""
    return isinstance(law, Constant) or (isinstance(law, Uniform) and law.low == law.high)
