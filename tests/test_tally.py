"""Bounded-memory metrics (sim.metrics.tally): a row's statistics folded chunk by chunk are those of
the whole record, exact copies are kept only up to the limit (or all, when asked for), and the
percentiles a long run reports from its histograms are within their stated error of the exact ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import FIXTURES, SCENARIOS

import sim.engine
from sim.engine import Plant, run_scenario
from sim.metrics import SAMPLE_LIMIT
from sim.metrics.histogram import LatencyHistogram
from sim.metrics.tally import Tally
from sim.scenario.loader import load_scenario

WARMUP, END, DEADLINE, SURVIVAL, PERIOD = 1.0, 11.0, 0.030, 0.050, 0.020


def _record(rng: np.random.Generator, instances: int = 5) -> dict[str, np.ndarray]:
    """Deliveries of periodic 20 ms cycles with random latencies, some beyond the deadline, a
    few long gaps (lost stretches) and some copies delivered after the end."""
    published = np.concatenate(
        [np.arange(0.0, END, 0.020) + rng.uniform(0, 0.02) for _ in range(instances)]
    )
    instance = np.repeat(np.arange(instances), published.size // instances)
    keep = rng.uniform(size=published.size) > 0.05  # a few never arrive
    keep &= ~((published > 4.0) & (published < 4.3) & (instance == 2))  # an outage of one machine
    published, instance = published[keep], instance[keep]
    delivered = published + rng.exponential(0.012, published.size)
    return {
        "published": published,
        "delivered": delivered,
        "payload": rng.integers(1, 500, published.size).astype(float),
        "instance": instance,
    }


def _availability(
    record: dict[str, np.ndarray], instances: int, period: float | None = PERIOD
) -> float:
    """TS 22.104 availability written out from its definition, message by message: per instance,
    a valid message (delivered in the window within the deadline) anticipates its successor one
    period after it was published, by the deadline (aperiodic: none, it covers from its arrival);
    the instance is down once the survival time has passed beyond that, until the next valid
    arrival, from the window's start to its end."""
    delivered, published = record["delivered"], record["published"]
    valid = (delivered >= WARMUP) & (delivered <= END) & (delivered - published <= DEADLINE)
    ahead = 0.0 if period is None else period + DEADLINE
    up = []
    for i in range(instances):
        mine = valid & (record["instance"] == i)
        order = np.argsort(delivered[mine], kind="stable")
        cover, down = WARMUP + ahead + SURVIVAL, 0.0
        for sent, got in zip(published[mine][order], delivered[mine][order], strict=True):
            down += max(0.0, got - cover)
            cover = max(cover, (got if period is None else sent + ahead) + SURVIVAL)
        down += max(0.0, END - cover)
        up.append(1.0 - down / (END - WARMUP))
    return float(np.mean(up))


def test_a_tally_fed_in_chunks_at_flush_times_has_the_figures_of_the_whole_record() -> None:
    """The record handed over at 37 flush times in recording order (each flush takes what is
    delivered by then, the rest waits) gives the counts of their definitions, the histogram of all
    latencies, and the availability of the definition, to rounding."""
    rng = np.random.default_rng(5)
    record = _record(rng)
    order = rng.permutation(record["published"].size)  # models record out of delivery order
    tally = Tally(WARMUP, END, DEADLINE, SURVIVAL, 5, period=PERIOD)
    aperiodic = Tally(WARMUP, END, DEADLINE, SURVIVAL, 5)
    waiting = {name: values[order] for name, values in record.items()}
    for now in [*np.linspace(0.5, END, 36), math.inf]:
        final = waiting["delivered"] <= now
        chunk = [waiting[name][final] for name in ("published", "delivered", "payload", "instance")]
        tally.deliver(*chunk)
        aperiodic.deliver(*chunk)
        waiting = {name: values[~final] for name, values in waiting.items()}
    published, delivered = record["published"], record["delivered"]
    counted = (published >= WARMUP) & (delivered <= END)
    latencies = delivered[counted] - published[counted]
    assert tally.delivered == latencies.size
    assert tally.late == np.count_nonzero(latencies > DEADLINE)
    after_end = published[(published >= WARMUP) & (delivered > END)]
    in_flight, misses, judged = tally.at_end(np.empty(0))
    assert in_flight == after_end.size
    overdue = np.count_nonzero(after_end + DEADLINE <= END)
    assert (misses, judged) == (tally.late + overdue, latencies.size + overdue)
    in_measurement = (delivered >= WARMUP) & (delivered <= END)
    assert tally.window_deliveries == np.count_nonzero(in_measurement)
    assert tally.window_bits == record["payload"][in_measurement].sum() * 8
    whole = LatencyHistogram()
    whole.add(latencies)
    assert np.array_equal(tally.latency.counts, whole.counts)
    assert tally.availability() == pytest.approx(_availability(record, 5), rel=1e-12)
    assert tally.availability() < 1.0  # the outage of machine 2 and the lost copies count
    assert aperiodic.availability() == pytest.approx(_availability(record, 5, None), rel=1e-12)
    assert tally.batches[0].sum() == latencies.size
    assert tally.batches[1].sum() == pytest.approx(latencies.sum(), rel=1e-12)


def test_availability_counts_anticipated_messages_not_delivery_jitter() -> None:
    """A 10 ms cycle with a 10 ms deadline and a survival time of one cycle (TS 22.104's motion
    control rows), latencies alternating 1 ms and 9 ms: every message is on time, so the
    application never fails, although consecutive arrivals are up to 18 ms apart. One lost message
    is survived; two in a row (cycles 50 and 51) leave it without the anticipated message from
    0.49 + 0.01 + 0.01 + 0.01 = 0.52 s until cycle 52 arrives 1 ms later: 1 ms down in 1 s."""
    cycle = 0.010
    published = np.arange(100) * cycle
    delivered = published + np.where(np.arange(100) % 2 == 0, 0.001, 0.009)

    def availability(kept: np.ndarray) -> float | None:
        tally = Tally(0.0, 1.0, cycle, cycle, 1, period=cycle)
        n = int(kept.sum())
        tally.deliver(published[kept], delivered[kept], np.ones(n), np.zeros(n, dtype=np.int64))
        return tally.availability()

    every = np.ones(100, dtype=bool)
    assert availability(every) == 1.0
    one_lost = every.copy()
    one_lost[50] = False
    assert availability(one_lost) == 1.0
    two_lost = one_lost.copy()
    two_lost[51] = False
    assert availability(two_lost) == pytest.approx(1.0 - 0.001, rel=1e-12)


def test_exact_copies_are_kept_up_to_the_limit_then_let_go() -> None:
    """Under the limit the tally keeps every handed copy; one chunk beyond it, none, and it says
    so; with no limit (``--samples``), all."""
    rng = np.random.default_rng(1)
    record = _record(rng, instances=1)
    size = record["published"].size
    for limit, whole in ((size, True), (size - 1, False), (None, True)):
        tally = Tally(WARMUP, END, None, None, 1, limit)
        half = size // 2
        for part in (slice(0, half), slice(half, size)):
            tally.deliver(
                *(record[n][part] for n in ("published", "delivered", "payload", "instance"))
            )
        assert (tally.exact() is not None) is whole
        assert tally.latency.total == tally.delivered  # the histogram has them either way


def _fields(plant: Plant, loose: bool = False) -> list[dict]:
    """Each record's fields, sortable and comparable; ``loose``: sums (of latencies, of time
    down) to rounding, as adding in other groupings gives them."""

    def near(value: object) -> object:
        return pytest.approx(value, rel=1e-12) if loose else value

    out = []
    for record in plant.records():
        values = dict(vars(record))
        if values["availability"] is not None:
            values["availability"] = near(values["availability"])
        values["batches"] = near(values["batches"].ravel().tolist())
        for name in ("latency", "completion_latency"):
            h = values[name]
            values[name] = (h.counts.tolist(), h.total, h.minimum, h.maximum, near(h.sum))
        for name in ("latencies", "published_at", "delivered_at", "completion"):
            values[name] = sorted(values[name].tolist())
        out.append(values)
    return out


def test_flushing_often_or_never_gives_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line 3 outage scenario over its long outage (QoS 0 and 1, a bridge, deadlines and survival times, copies
    delivered ahead of the simulated clock): rows flushed every 8 copies give the records of rows
    never flushed before the end."""
    scenario = load_scenario(
        SCENARIOS / "line3-5g-outage.yaml", {"duration": "28s", "replications": 1}
    )
    monkeypatch.setattr(sim.engine, "FLUSH", 1 << 40)
    plant = Plant(scenario)
    plant.run()
    assert all(
        row.buffered == len(row.delivered_at) + len(row.dropped_at) for row in plant.rows.values()
    )
    never = _fields(plant, loose=True)
    monkeypatch.setattr(sim.engine, "FLUSH", 8)
    plant = Plant(scenario)
    plant.run()
    assert max(row.buffered for row in plant.rows.values()) < 1000  # they were flushed
    often = _fields(plant)
    assert often == never
    assert any(r["availability"] not in (None, 1.0) for r in often)  # the outage costs availability
    assert any(r["delivered"] > 1000 for r in never)


def test_a_long_run_reports_percentiles_from_its_histogram_within_the_stated_error() -> None:
    """The M/M/1 at load 0.8 for 400 s delivers more than SAMPLE_LIMIT copies: the row lets its
    exact latencies go, and each reported percentile is the exact order statistic of its rank
    (from the same run with every copy kept) to within the histogram's 2**-8 relative error; the
    counts, mean and maximum are those of the exact run."""
    scenario = load_scenario(FIXTURES / "mm1.yaml", {"duration": "400s"})
    bounded = run_scenario(scenario)
    exact = run_scenario(scenario, samples=True)
    key = bounded.streams[0].key
    samples = exact.samples[key]
    assert samples.size > SAMPLE_LIMIT
    assert key not in bounded.samples
    b, e = bounded.streams[0], exact.streams[0]
    assert (b.published, b.delivered, b.dropped, b.in_flight) == (
        e.published,
        e.delivered,
        e.dropped,
        e.in_flight,
    )
    error = LatencyHistogram().relative_error
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("p999", 99.9)):
        rank = np.percentile(samples, q, method="inverted_cdf")
        assert abs(b.latency_s[name] - rank) <= error * rank, name
    assert b.latency_s["mean"] == pytest.approx(e.latency_s["mean"], rel=1e-12)
    assert b.latency_s["max"] == e.latency_s["max"]
    assert b.latency_s["mean"] == pytest.approx(0.005, rel=0.05)  # 1 / (mu - lambda)
