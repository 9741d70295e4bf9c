"""A latency histogram of bounded size and stated relative error, mergeable across replications
and workers (every row of every run has one: :mod:`sim.metrics.tally`).

Layout: HdrHistogram's log-linear buckets (G. Tene, HdrHistogram, hdrhistogram.org), computed in
numpy. A positive value ``v`` falls in octave ``e = floor(log2(v / lowest))`` and, within it, in
one of ``2**bits`` equal sub-buckets; every bucket's width is at most ``2**-bits`` of its lower
edge, so reporting a bucket's midpoint is within a relative error of ``2**-(bits + 1)`` of any
value in it (``bits = 7``: 0.39 %). Values below ``lowest`` (1 ns by default), exact zeros
included, have a bucket of their own, ``[0, lowest)``, and are reported to within ``lowest / 2``;
values above ``highest`` are refused rather than clipped.

Why this and not a sketch library: the error bound is a fixed relative one, like DDSketch's
(Masson et al., VLDB 2019), but the buckets are fixed in advance, so two histograms merge by adding
their count arrays, the same on any worker, and the whole structure is one ``int64`` array that
stores in an ``.npz`` file with the rest of a replication. The exact count, sum, minimum and maximum
are kept beside the buckets, so the mean and the extremes are exact.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _bucket_index(values, lowest, bits):  # pragma: no cover - compiled
    """Each value's bucket: 0 below ``lowest``, else 1 + its octave's ``2**bits`` sub-buckets
    before it + its sub-bucket (``scaled = mantissa * 2**exponent``, mantissa in [0.5, 1))."""
    out = np.empty(values.size, np.int64)
    subs = 1 << bits
    for i in range(values.size):
        scaled = values[i] / lowest
        if scaled < 1.0:
            out[i] = 0
            continue
        mantissa, exponent = math.frexp(scaled)
        sub = math.floor((mantissa * 2.0 - 1.0) * subs)
        out[i] = 1 + ((exponent - 1) << bits) + (sub if sub < subs - 1 else subs - 1)
    return out


class LatencyHistogram:
    """Counts of latencies (seconds) in log-linear buckets; see the module's docstring."""

    __slots__ = ("bits", "counts", "highest", "lowest", "maximum", "minimum", "sum", "total")

    def __init__(self, bits: int = 7, lowest: float = 1e-9, highest: float = 1e5) -> None:
        if not 1 <= bits <= 16:
            raise ValueError(f"bits: 1 to 16 sub-bucket bits, got {bits}")
        if not 0 < lowest < highest:
            raise ValueError("need 0 < lowest < highest")
        self.bits = bits
        self.lowest = lowest
        self.highest = highest
        octaves = math.ceil(math.log2(highest / lowest)) + 1
        self.counts = np.zeros(1 + (octaves << bits), dtype=np.int64)  # bucket 0: below lowest
        self.total = 0
        self.sum = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf

    @property
    def relative_error(self) -> float:
        """The largest relative error of a reported quantile: half a bucket's relative width."""
        return 2.0 ** -(self.bits + 1)

    def _index(self, values: np.ndarray) -> np.ndarray:
        return _bucket_index(values, self.lowest, self.bits)

    def _lower(self, index: int) -> float:
        """The lower edge of bucket ``index`` (0 for the bucket below ``lowest``)."""
        if index == 0:
            return 0.0
        octave, sub = (index - 1) >> self.bits, (index - 1) & ((1 << self.bits) - 1)
        return float(self.lowest * math.ldexp(1.0 + sub / (1 << self.bits), octave))

    def add(self, values: np.ndarray) -> None:
        """Count ``values`` (seconds, not negative, not above ``highest``)."""
        data = np.asarray(values, dtype=float).ravel()
        if not data.size:
            return
        if data.min() < 0 or data.max() > self.highest or not np.isfinite(data).all():
            raise ValueError(f"latencies must lie in [0, {self.highest:g}] s")
        self.counts += np.bincount(self._index(data), minlength=self.counts.size)
        self.total += int(data.size)
        self.sum += float(data.sum())
        self.minimum = min(self.minimum, float(data.min()))
        self.maximum = max(self.maximum, float(data.max()))

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s counts (same layout) to this one's."""
        if (other.bits, other.lowest, other.highest) != (self.bits, self.lowest, self.highest):
            raise ValueError("histograms of different layouts do not merge")
        self.counts += other.counts
        self.total += other.total
        self.sum += other.sum
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    @property
    def mean(self) -> float:
        return self.sum / self.total if self.total else math.nan

    def quantile(self, q: float) -> float:
        """The value of rank ``ceil(q n)`` (at least 1) in the sorted sample, to within
        :attr:`relative_error` (the midpoint of its bucket, kept inside the exact extremes)."""
        if not 0 <= q <= 1:
            raise ValueError(f"q: a fraction from 0 to 1, got {q}")
        if not self.total:
            return math.nan
        rank = max(1, math.ceil(q * self.total - 1e-9))
        index = int(np.searchsorted(np.cumsum(self.counts), rank))
        low, high = self._lower(index), self._lower(index + 1)
        return max(self.minimum, min(self.maximum, 0.5 * (low + high)))

    def buckets(self) -> tuple[np.ndarray, np.ndarray]:
        """The occupied buckets in increasing order: each one's reported value (its midpoint,
        kept inside the exact extremes, as :meth:`quantile` reports it) and its count."""
        index = np.flatnonzero(self.counts)
        low = np.asarray([self._lower(int(i)) for i in index])
        high = np.asarray([self._lower(int(i) + 1) for i in index])
        middle = np.clip(0.5 * (low + high), self.minimum, self.maximum)
        return middle, self.counts[index]

    def to_parts(self) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """The histogram as plain parts for a file: its layout and exact figures, and the
        buckets that hold something (their indices and counts)."""
        index = np.flatnonzero(self.counts)
        figures = {
            "bits": self.bits,
            "lowest": self.lowest,
            "highest": self.highest,
            "total": self.total,
            "sum": self.sum,
            "minimum": self.minimum if self.total else None,
            "maximum": self.maximum if self.total else None,
        }
        return figures, index, self.counts[index]

    @classmethod
    def from_parts(
        cls, figures: dict[str, float], index: np.ndarray, counts: np.ndarray
    ) -> LatencyHistogram:
        """:meth:`to_parts`'s inverse."""
        histogram = cls(int(figures["bits"]), figures["lowest"], figures["highest"])
        histogram.counts[index] = counts
        histogram.total = int(figures["total"])
        histogram.sum = float(figures["sum"])
        if histogram.total:
            histogram.minimum = float(figures["minimum"])
            histogram.maximum = float(figures["maximum"])
        return histogram

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        return (
            (self.bits, self.lowest, self.highest, self.total, self.sum)
            == (other.bits, other.lowest, other.highest, other.total, other.sum)
            and (self.minimum, self.maximum) == (other.minimum, other.maximum)
            and np.array_equal(self.counts, other.counts)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def nbytes(self) -> int:
        """Memory of the counts, independent of how many values were added."""
        return int(self.counts.nbytes)


__all__ = ["LatencyHistogram"]
