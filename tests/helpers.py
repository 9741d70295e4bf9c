"""What the tests share: where the repository's files are, the scenario blocks and builders that
recur, running the command line as a user does, and the confidence-interval rule of statistical
checks.

Imported by the test modules as ``helpers`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"  # what the project ships
FIXTURES = ROOT / "tests" / "scenarios"  # fixed copies of the contract scenarios (README there)
DATA = ROOT / "tests" / "data"
DETERMINISTIC6G = DATA / "deterministic6g"
# Only in the developers' workspace, never in a user's clone: tests of it skip when it is absent.
SHARED_CONTRACT = ROOT.parent / "shared" / "contract"

STANDARD_ERRORS = 3.0  # the 95 % Student interval (about 2.1 SE at R = 20) widened a little


# ------------------------------------------------------------------------------- command line


def factory5g(
    *args: str | Path, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sim ARGS`` as a user would, in a separate process; never raises on failure."""
    return subprocess.run(
        [sys.executable, "-m", "sim", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


# ------------------------------------------------------------------------------- statistics


def assert_within_ci(
    estimates: Sequence[float] | np.ndarray, theory: float, what: str, narrow: float = 0.05
) -> None:
    """``theory`` lies within the run's confidence interval built from independent ``estimates``.

    The interval is the mean of the estimates plus or minus three standard errors (the two-sided
    95 % Student interval widened a little). It must also be narrower than ``narrow`` times
    ``theory`` on each side: an interval too wide to tell right from wrong fails, so that a run too
    short cannot pass by saying nothing.
    """
    values = np.asarray(estimates, dtype=float)
    assert values.size >= 2, f"{what}: a confidence interval needs at least two estimates"
    centre = float(values.mean())
    half = STANDARD_ERRORS * float(values.std(ddof=1)) / math.sqrt(values.size)
    assert half <= narrow * abs(theory), (
        f"{what}: interval +/-{half:.4g} wider than {narrow:g} x {theory:.6g}; run longer"
    )
    assert abs(centre - theory) <= half, (
        f"{what}: simulated {centre:.6g} +/- {half:.3g} (3 SE, {values.size} estimates) "
        f"but theory says {theory:.6g} ({(centre / theory - 1) * 100:+.2f} %)"
    )


def batch_estimates(
    times: np.ndarray, values: np.ndarray, start: float, end: float, batches: int, statistic
) -> np.ndarray:
    """``statistic`` of ``values`` in each of ``batches`` equal stretches of ``[start, end)`` of
    ``times``: the method of batch means, which gives nearly independent estimates from one long
    run when each batch is much longer than the process's relaxation time."""
    edges = np.linspace(start, end, batches + 1)
    which = np.searchsorted(edges, times, side="right") - 1
    return np.asarray([statistic(values[which == b]) for b in range(batches)])
