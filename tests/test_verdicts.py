"""Verdicts against requirement targets (sim.metrics.verdicts), with honest uncertainty.

The intervals are exact binomial ones (Clopper-Pearson), checked against their closed forms; the
verdict rules against hand-made counts; and whole runs whose on-time share is known from the
latency law (uniform on [0, 20 ms] with a 10 ms deadline: half on time).
"""

from __future__ import annotations

import csv
import json
import math

import pytest
import yaml
from helpers import factory5g, uniform_plant

from sim.engine import run_scenario
from sim.metrics.verdicts import binomial_interval, judge, overall
from sim.scenario.schema import Requirement, Scenario


def test_the_binomial_interval_has_its_closed_forms() -> None:
    """All n trials successful: the lower bound is 0.025^(1/n); none: the upper is 1 - 0.025^(1/n)."""
    for n in (10, 1000, 100_000):
        low, high = binomial_interval(n, n)
        assert high == 1.0 and low == pytest.approx(0.025 ** (1 / n))
        low, high = binomial_interval(0, n)
        assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / n))


def counts(requirement: dict, judged: int, misses: int, replications: int = 1, **extra):
    """Judge a row of ``judged`` messages with ``misses`` late, spread evenly over replications."""
    share = 1 - misses / judged
    return judge(
        Requirement.model_validate(requirement),
        published=judged,
        judged=judged,
        misses=misses,
        dropped=extra.get("dropped", 0),
        availabilities=extra.get("availabilities", []),
        shares_on_time=[share] * replications,
        losses=[extra.get("dropped", 0) / judged] * replications,
        throughputs=extra.get("throughputs", [1.0] * replications),
        machines=1,
        window=100.0,
        replications=replications,
    )


def test_a_six_nines_target_is_never_shown_by_a_hundred_thousand_messages() -> None:
    """10^5 messages all on time: the 95 % lower bound is 0.99996, short of 99.9999 %: inconclusive,
    and a decision needs the n whose exact lower bound 0.025^(1/n) reaches 1 - 1e-6, ln 40 / 1e-6
    = 3.69 million messages (3,689 s at this row's 1000 msg/s): that many all on time pass, one
    fewer does not."""
    (verdict,) = counts({"deadline": "10ms", "reliability": "99.9999%"}, 100_000, 0)
    assert verdict.verdict == "inconclusive"
    assert verdict.needed == pytest.approx(math.log(40) / 1e-6, rel=1e-5)
    assert verdict.needed_s == pytest.approx(verdict.needed / 1000, rel=1e-6)
    (enough,) = counts({"deadline": "10ms", "reliability": "99.9999%"}, verdict.needed, 0)
    assert enough.verdict == "pass"
    (short,) = counts({"deadline": "10ms", "reliability": "99.9999%"}, verdict.needed - 1, 0)
    assert short.verdict == "inconclusive"
    (easy,) = counts({"deadline": "10ms", "reliability": "99.9%"}, 100_000, 0)
    assert easy.verdict == "pass" and easy.margin == pytest.approx(0.001)


@pytest.mark.parametrize(("rate", "allowed"), [(2.26e-7, 1e-6), (5e-4, 1e-3), (2e-3, 1e-3)])
def test_the_trials_said_to_decide_a_target_decide_it(rate: float, allowed: float) -> None:
    """With the failures at the share seen, 5 % more trials than the verdict says a decision
    needs give an interval wholly on one side of the target (pass below it, fail above), and half
    of them do not (the failures a whole number, so exactly ``needed`` may fall either side)."""
    from sim.metrics.verdicts import trials_to_decide

    needed = trials_to_decide(rate, allowed)
    target = {"deadline": "10ms", "reliability": f"{(1 - allowed) * 100:.6f}%"}
    more = round(needed * 1.05)
    (enough,) = counts(target, more, round(rate * more))
    assert enough.verdict == ("pass" if rate < allowed else "fail")
    half = needed // 2
    (fewer,) = counts(target, half, round(rate * half))
    assert fewer.verdict == "inconclusive"


def test_an_interval_that_straddles_the_target_is_inconclusive() -> None:
    """100 late of 10,000 is exactly 99 %: the interval [98.79 %, 99.19 %] holds the target."""
    (verdict,) = counts({"deadline": "10ms", "reliability": "99%"}, 10_000, 100)
    assert verdict.verdict == "inconclusive"
    assert verdict.low < 0.99 < verdict.high
    assert verdict.needed is None and "sits on the target" in verdict.reason
    (short,) = counts({"deadline": "10ms", "reliability": "99%"}, 10_000, 500)
    assert short.verdict == "fail" and short.margin == pytest.approx(-0.04)


def test_replications_that_disagree_widen_the_interval() -> None:
    """The same pooled counts, but three replications whose shares spread from 97 % to 100 %: the
    Student interval of their mean is wider than the binomial one, and decides."""
    requirement = Requirement.model_validate({"deadline": "10ms", "reliability": "98%"})
    verdicts = judge(
        requirement,
        published=30_000,
        judged=30_000,
        misses=300,
        dropped=0,
        availabilities=[],
        shares_on_time=[0.97, 1.0, 0.9999],
        losses=[0, 0, 0],
        throughputs=[1, 1, 1],
        machines=1,
        window=100.0,
        replications=3,
    )
    assert verdicts[0].verdict == "inconclusive"  # binomially 99 % +- 0.1 % would pass
    assert "3 replications spread from 0.97 to 1" in verdicts[0].reason
    assert "replications needed" in verdicts[0].reason
    assert overall(verdicts) == "inconclusive"


def test_losses_and_throughput_and_the_overall_verdict() -> None:
    target = {"deadline": "10ms", "max_loss": "1%", "min_throughput": "1Mbps"}
    verdicts = counts(target, 10_000, 0, replications=2, dropped=300, throughputs=[2e6, 2.1e6])
    by_target = {v.target: v.verdict for v in verdicts}
    assert by_target == {"max_loss": "fail", "min_throughput": "pass"}
    assert overall(verdicts) == "fail"
    one = counts({"min_throughput": "1Mbps"}, 100, 0, throughputs=[2e6])
    assert one[0].verdict == "inconclusive" and "replication" in one[0].reason


def half_on_time(target: str, replications: int = 2) -> Scenario:
    """Latency uniform on [0, 20 ms], deadline 10 ms: half the messages on time."""
    return Scenario.model_validate(half_on_time_data(target, replications))


def half_on_time_data(target: str, replications: int = 2) -> dict:
    return uniform_plant("20ms", target, count=5, duration="11s", replications=replications)


def test_a_run_knows_its_verdicts() -> None:
    """Half on time (TCP's in-order release makes it a little less): 99 % fails, 30 % passes."""
    failing = run_scenario(half_on_time("99%")).streams[0]
    assert failing.verdict == "fail"
    assert failing.verdicts[0]["estimate"] == pytest.approx(1 - failing.deadline_miss_ratio)
    passing = run_scenario(half_on_time("30%")).streams[0]
    assert passing.verdict == "pass"
    assert passing.verdicts[0]["ci95"][0] >= 0.30


def test_verdicts_reach_the_table_the_summary_and_the_csv(tmp_path) -> None:
    path = tmp_path / "half.yaml"
    path.write_text(
        yaml.safe_dump(half_on_time_data("99%")),
        encoding="utf-8",
    )
    done = factory5g("run", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "verdict" in done.stdout and "FAIL" in done.stdout
    notes = " ".join(done.stderr.split())  # (wrapped to the terminal's width)
    assert "FAIL: m/s -> sink (test): reliability" in notes
    assert "required 99.0%" in notes
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["streams"][0]["verdict"] == "fail"
    with open(tmp_path / "out" / "streams.csv", encoding="utf-8") as table:
        (row,) = list(csv.DictReader(table))
    assert row["verdict"] == "fail" and row["verdict_detail"].startswith("reliability fail")
