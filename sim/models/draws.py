"""Random draws for the models, from one seeded generator per component.

Drawing one number at a time from :class:`numpy.random.Generator` costs about a microsecond of
call overhead; a model that needs one draw per message draws blocks of numbers instead and hands them
out one by one. The sequence depends only on the generator's seed, so runs are reproducible.
"""

from __future__ import annotations

import zlib

import numpy as np

BLOCK = 4096
FIRST_BLOCK = 64  # most components draw little; a buffer grows by doubling up to BLOCK


def component_rng(seed: int, replication: int, component: str) -> np.random.Generator:
    """The generator of one component (a machine, a link, a broker) in one replication.

    Keyed by the component's name, so that adding a machine to a scenario leaves the draws of every
    other component unchanged.
    """
    key = zlib.crc32(component.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([seed, replication, key]))


class Draws:
    """Buffered standard draws from one generator: uniform(0, 1), exponential(1), normal(0, 1)."""

    __slots__ = (
        "_exponential",
        "_i_exponential",
        "_i_normal",
        "_i_uniform",
        "_normal",
        "_uniform",
        "rng",
    )

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._uniform: list[float] = []
        self._exponential: list[float] = []
        self._normal: list[float] = []
        self._i_uniform = self._i_exponential = self._i_normal = 0

    def uniform(self) -> float:
        """A draw from uniform(0, 1)."""
        i = self._i_uniform
        if i >= len(self._uniform):
            self._uniform = self.rng.random(_grow(len(self._uniform))).tolist()
            i = 0
        self._i_uniform = i + 1
        return self._uniform[i]

    def exponential(self) -> float:
        """A draw from the exponential law of mean 1."""
        i = self._i_exponential
        if i >= len(self._exponential):
            self._exponential = self.rng.standard_exponential(
                _grow(len(self._exponential))
            ).tolist()
            i = 0
        self._i_exponential = i + 1
        return self._exponential[i]

    def normal(self) -> float:
        """A draw from the standard normal law."""
        i = self._i_normal
        if i >= len(self._normal):
            self._normal = self.rng.standard_normal(_grow(len(self._normal))).tolist()
            i = 0
        self._i_normal = i + 1
        return self._normal[i]


def _grow(size: int) -> int:
    return FIRST_BLOCK if size == 0 else min(2 * size, BLOCK)
