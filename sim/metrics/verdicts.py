"""Verdicts: does a row meet its requirement's targets, and how sure is that?

Each target of a requirement (:class:`sim.scenario.schema.Requirement`) is judged with a 95 %
interval of its estimate:

- ``reliability`` (share of messages on time) and ``max_loss`` (share dropped): the exact binomial
  (Clopper-Pearson) interval of the pooled counts, widened to the replications' Student-t interval
  of the per-replication shares when there are two or more (messages of one run are not
  independent: the replications' spread shows it).
- ``availability``: the same two intervals, the binomial one over the number of survival-time
  periods observed (machines x window x replications / survival time), since an outage shorter than
  a survival time cannot be seen.
- ``min_throughput``: the replications' Student-t interval (two or more replications needed).

A target is ``pass`` when the whole interval is on the right side of it, ``fail`` when the whole
interval is on the wrong side, ``inconclusive`` otherwise, with the messages (or periods) a run would
need to decide it: with no failure seen, the n at which the exact interval's lower bound,
``0.025 ** (1 / n)``, reaches the target: ``ln 40 / (1 - target)``, about ``3.7 / (1 - target)``
(the rule of three's 3/n is the one-sided bound; these intervals are two-sided), and how much
simulated time that is at the row's rate. The margin is estimate minus target (negative: short of it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sim.scenario.schema import Requirement


@dataclass(frozen=True)
class Verdict:
    """The judgement of one target of a row's requirement."""

    target: str  # reliability, availability, max_loss, min_throughput
    required: float
    estimate: float | None
    low: float | None
    high: float | None
    verdict: str  # pass, fail, inconclusive
    margin: float | None
    needed: int | None = None  # messages (or survival periods) a decision needs, if inconclusive
    needed_s: float | None = None  # simulated time that is, over all replications
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "required": self.required,
            "estimate": self.estimate,
            "ci95": None if self.low is None else [self.low, self.high],
            "verdict": self.verdict,
            "margin": self.margin,
            "needed": self.needed,
            "needed_s": self.needed_s,
            "reason": self.reason,
        }


def binomial_interval(successes: int, trials: int) -> tuple[float, float]:
    """The exact 95 % (Clopper-Pearson) interval of a success probability."""
    if trials <= 0:
        return 0.0, 1.0
    low = 0.0 if successes == 0 else float(stats.beta.ppf(0.025, successes, trials - successes + 1))
    high = (
        1.0
        if successes == trials
        else float(stats.beta.ppf(0.975, successes + 1, trials - successes))
    )
    return low, high


def replication_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """The 95 % Student-t interval of the mean of per-replication ``values`` (None below two)."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if data.size < 2:
        return None
    half = float(stats.t.ppf(0.975, data.size - 1) * data.std(ddof=1) / math.sqrt(data.size))
    return float(data.mean() - half), float(data.mean() + half)


def trials_to_decide(rate: float, allowed: float) -> int:
    """How many trials decide a failure share observed at ``rate`` against ``allowed``: with none
    seen, the n at which the exact interval's lower bound of the success share, ``0.025 ** (1 /
    n)``, reaches ``1 - allowed``; with some, the n at which the exact (Clopper-Pearson) interval of
    ``rate n`` failures in n, in its Poisson form (bounds ``chi2(0.025 or 0.975; 2k or 2k + 2) /
    2n``, right for the small shares targets have), lies wholly below ``allowed`` (rate below it)
    or above it; 0 when no number of trials would (the estimate on the target, or so close that
    more than 10^18 would be needed)."""
    none_seen = math.log(0.025) / math.log1p(-allowed)
    if rate <= 0.0:
        return math.ceil(none_seen - 1e-9)
    if rate == allowed:
        return 0  # never: the estimate sits on the target

    def decided(n: float) -> bool:
        if rate < allowed:
            return float(stats.chi2.ppf(0.975, 2.0 * (rate * n + 1.0))) / (2.0 * n) <= allowed
        return float(stats.chi2.ppf(0.025, 2.0 * rate * n)) / (2.0 * n) >= allowed

    low, high = 1.0, max(none_seen, 1.0)
    while not decided(high):
        low, high = high, high * 2.0
        if high > 1e18:
            return 0
    while high - low > max(1.0, 1e-6 * high):
        middle = (low + high) / 2.0
        low, high = (low, middle) if decided(middle) else (middle, high)
    return math.ceil(high)


def _side(required: float, interval: tuple[float, float], at_least: bool) -> str:
    low, high = interval
    if at_least:
        return "pass" if low >= required else "fail" if high < required else "inconclusive"
    return "pass" if high <= required else "fail" if low > required else "inconclusive"


def _decide(
    target: str,
    required: float,
    estimate: float,
    counted: tuple[float, float],
    values: Sequence[float],
    at_least: bool,
    failures: int,
    trials: int,
    per_second: float,
) -> Verdict:
    """A share to reach (``at_least``) or not to exceed, judged by the binomial interval of the
    ``counted`` trials widened to the replications' interval of ``values``."""
    spread = replication_interval(values)
    low, high = counted
    if spread:
        low, high = max(0.0, min(low, spread[0])), min(1.0, max(high, spread[1]))
    verdict = _side(required, (low, high), at_least)
    needed = needed_s = None
    reason = ""
    if verdict == "inconclusive" and _side(required, counted, at_least) != "inconclusive":
        # the counts would decide; the replications disagree: more of them narrow the interval
        data = np.asarray(values, dtype=float)
        margin = abs(estimate - required)
        more = math.ceil((2.0 * float(data.std(ddof=1)) / margin) ** 2) if margin > 0 else None
        reason = f"the {data.size} replications spread from {data.min():.6g} to {data.max():.6g}"
        reason += f"; about {more} replications needed to decide" if more else ""
    elif verdict == "inconclusive":
        allowed = (1.0 - required) if at_least else required
        if allowed > 0:
            rate = failures / trials if trials else 0.0
            needed = trials_to_decide(rate, allowed)
            if needed:
                needed_s = needed / per_second if per_second > 0 else None
                reason = f"{trials:,} seen; about {needed:,} needed to decide"
            else:
                needed = None
                reason = f"{trials:,} seen; the estimate sits on the target"
        else:
            reason = "a target of none cannot be shown by sampling"
    return Verdict(
        target,
        required,
        estimate,
        low,
        high,
        verdict,
        estimate - required,
        needed,
        needed_s,
        reason,
    )


def judge(
    requirement: Requirement | None,
    *,
    published: int,
    judged: int,
    misses: int,
    dropped: int,
    availabilities: Sequence[float],
    shares_on_time: Sequence[float],
    losses: Sequence[float],
    throughputs: Sequence[float],
    machines: int,
    window: float,
    replications: int,
) -> list[Verdict]:
    """The verdicts of one row's targets (empty without a requirement or targets)."""
    if requirement is None:
        return []
    verdicts: list[Verdict] = []
    observed = window * replications
    if requirement.reliability is not None and judged:
        on_time = judged - misses
        verdicts.append(
            _decide(
                "reliability",
                requirement.reliability,
                on_time / judged,
                binomial_interval(on_time, judged),
                shares_on_time,
                True,
                misses,
                judged,
                judged / observed,
            )
        )
    if requirement.availability is not None and requirement.survival_time and availabilities:
        periods = max(1, int(machines * observed / requirement.survival_time))
        estimate = float(np.mean(availabilities))
        failed = round((1.0 - estimate) * periods)
        verdicts.append(
            _decide(
                "availability",
                requirement.availability,
                estimate,
                binomial_interval(periods - failed, periods),
                availabilities,
                True,
                failed,
                periods,
                periods / observed,
            )
        )
    if requirement.max_loss is not None and published:
        verdicts.append(
            _decide(
                "max_loss",
                requirement.max_loss,
                dropped / published,
                binomial_interval(dropped, published),
                losses,
                False,
                dropped,
                published,
                published / observed,
            )
        )
    if requirement.min_throughput is not None and throughputs:
        estimate = float(np.mean(throughputs))
        spread = replication_interval(throughputs)
        if spread is None:
            verdicts.append(
                Verdict(
                    "min_throughput",
                    requirement.min_throughput,
                    estimate,
                    None,
                    None,
                    "inconclusive",
                    estimate - requirement.min_throughput,
                    reason="one replication: no interval; run two or more",
                )
            )
        else:
            verdicts.append(
                Verdict(
                    "min_throughput",
                    requirement.min_throughput,
                    estimate,
                    spread[0],
                    spread[1],
                    _side(requirement.min_throughput, spread, at_least=True),
                    estimate - requirement.min_throughput,
                )
            )
    return verdicts


def combined(kinds: Iterable[str]) -> str | None:
    """Of several targets' verdicts: fail if any fails, pass if all pass, inconclusive otherwise;
    None without any."""
    seen = set(kinds)
    if not seen:
        return None
    return "fail" if "fail" in seen else "pass" if seen == {"pass"} else "inconclusive"


def overall(verdicts: Sequence[Verdict]) -> str | None:
    """:func:`combined` of a row's target verdicts."""
    return combined(v.verdict for v in verdicts)
