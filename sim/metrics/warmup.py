"""Is the warm-up long enough? Two checks, said as warnings with the results.

- **No warm-up at all.** Every plant starts empty (queues empty, windows open, no backlog), so a
  window that starts at time 0 holds the start-up transient, and means and percentiles are biased
  low; the bias shrinks only as the run grows (for the M/M/1 of tests/scenarios/mm1.yaml at 0.8
  load, short runs without a warm-up had the mean's 95 % interval cover the true 5 ms in 77 of 100
  seeds, by the review that asked for this check).
- **A first stretch unlike the rest.** Each replication's measurement window is cut into
  ``BATCHES`` equal stretches by publish time and the row's mean latency taken in each (batch
  means). If the transient has not passed by the end of the warm-up, the first stretch's means
  differ from the later ones': Welch's t test of the first stretches (one per replication) against
  all the later ones, two-sided at 1 % (several rows are tested at once). This is the comparison of
  the first and the later part of the output that Schruben's and Heidelberger and Welch's
  stationarity tests formalise (L. Schruben, "Detecting initialization bias in simulation output",
  Operations Research 30(3), 1982; P. Heidelberger and P. D. Welch, Operations Research 31(6),
  1983), on batch means so that the messages' correlation within a stretch is not taken as
  evidence. It finds a transient that lasts a good part of a stretch, not a short one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

BATCHES = 10
LEAST = 20  # messages a stretch needs for its mean to count
LEVEL = 0.01


def initial_bias(batches: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """``(first stretch's mean, the later stretches' mean)`` in seconds when they differ at the
    1 % level over the replications' batches of one row (each a ``(2, BATCHES)`` array: copies and
    the sum of their latencies in each stretch of the window, by publish time); None when they do
    not, or when a stretch has too few messages to tell."""
    first: list[float] = []
    later: list[float] = []
    for counts, sums in batches:
        if counts.min() < LEAST:
            return None
        means = sums / counts
        first.append(float(means[0]))
        later.extend(float(mean) for mean in means[1:])
    if not first:
        return None
    others = np.asarray(later)
    if len(first) == 1:  # one replication: the first stretch against the spread of the others
        spread = others.std(ddof=1) * np.sqrt(1 + 1 / others.size)
        if spread == 0:
            return None
        p = 2 * stats.t.sf(abs(first[0] - others.mean()) / spread, others.size - 1)
    else:
        p = stats.ttest_ind(first, later, equal_var=False).pvalue
    if not np.isfinite(p) or p >= LEVEL:
        return None
    return float(np.mean(first)), float(others.mean())


def warmup_warnings(warmup: float, rows: dict[tuple[str, str, str], list[np.ndarray]]) -> list[str]:
    """The warnings of a run: no warm-up, and each row whose first stretch is unlike the rest."""
    if warmup <= 0:
        return [
            "no warm-up: the figures include the plant's start from empty (queues empty, no "
            "backlog) and are biased low; give the scenario a warmup"
        ]
    lines = []
    for (machine, stream, subscriber), batches in sorted(rows.items()):
        found = initial_bias(batches)
        if found:
            first, rest = found
            lines.append(
                f"warm-up: {machine}/{stream} -> {subscriber}: the window's first tenth has a mean "
                f"latency of {first * 1e3:.3g} ms against {rest * 1e3:.3g} ms after it "
                "(Welch's test at 1 %): the warm-up looks too short"
            )
    return lines
