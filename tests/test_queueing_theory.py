"""The testbed's queues checked against queueing theory (DESIGN.md, "Validation as tests").

Each test builds a plant from ordinary testbed parts (a Poisson telemetry stream, a parametric or
Ethernet network with ``overhead: 0B`` so that the wire carries exactly the payload, a broker with no
service or fan-out cost unless the test says otherwise, a subscriber without a network) so that the
plant *is* a textbook queue, and compares what the run measured with the closed form.

Statistical checks use a confidence interval computed from the run, not a hand-picked tolerance: the
scenario runs ``R`` independent replications (each one starts empty and drops a warm-up much longer
than the queue's relaxation time), each replication gives one estimate, and the theoretical value
must lie within three standard errors of the mean of the estimates (the two-sided 95 % Student
interval is about 2.1 standard errors at ``R = 20``, so this is that interval widened a little). Each
check also requires the interval to be narrow (a few per cent of the value), so that a run too short
to tell right from wrong cannot pass by having a huge interval.

Exact checks compare every message with a sample path recomputed by hand from its publish time and
payload (the Lindley recursion of a FIFO queue), to 1e-9 s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import FIXTURES, assert_within_ci, batch_estimates, plant_scenario
from scipy import stats

from sim.engine import Plant, run_replication, run_scenario
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

KEY = ("source", "s", "sink")


# ------------------------------------------------------------------------------------- helpers


def queue_scenario(
    *,
    arrivals: float,
    payload: Any,
    network: dict[str, Any] | None = None,
    broker: dict[str, Any] | None = None,
    duration: float = 16.0,
    warmup: float = 1.0,
    replications: int = 20,
    seed: int = 1,
    count: int = 1,
) -> Scenario:
    """``count`` machines (one by default), each with a Poisson stream of ``arrivals``/s, through
    ``network`` to one subscriber.

    The default network is a 10 Mbit/s FIFO with no latency and no framing overhead: a message of
    ``b`` bytes is served in ``8 b / 1e7`` s. The default broker costs nothing.
    """
    return plant_scenario(
        name="queue",
        duration=f"{duration}s",
        warmup=f"{warmup}s",
        seed=seed,
        replications=replications,
        network=network
        or {"kind": "parametric", "latency": "0s", "rate": "10Mbps", "overhead": "0B"},
        broker=broker,
        count=count,
        streams={
            "s": {"topic": "q/{id}", "poisson": f"{arrivals}/s", "payload": payload, "qos": 0}
        },
        subscribers={"sink": {"broker": "b", "topics": ["q/#"]}},
        net="wire",
        machine="source",
    )


def latencies_per_replication(scenario: Scenario) -> list[np.ndarray]:
    """The latencies of the one row of ``scenario``, one array per replication."""
    out = []
    for replication in range(scenario.replications):
        (record,) = run_replication(scenario, replication)
        assert record.key == KEY
        assert record.dropped == 0
        out.append(record.latencies)
    return out


def pk_sojourn(arrivals: float, mean_service: float, second_moment: float) -> float:
    """Mean time in an M/G/1 FIFO queue, Pollaczek-Khinchine: E[S] + lambda E[S^2] / (2 (1 - rho))."""
    rho = arrivals * mean_service
    assert rho < 1
    return mean_service + arrivals * second_moment / (2.0 * (1.0 - rho))


def fifo_departures(arrivals: np.ndarray, services: np.ndarray) -> np.ndarray:
    """Departure times of a single FIFO server (Lindley): d_n = max(a_n, d_{n-1}) + s_n."""
    out = np.empty_like(arrivals)
    free = -math.inf
    for i, (a, s) in enumerate(zip(arrivals, services, strict=True)):
        free = (a if a > free else free) + s
        out[i] = free
    return out


def rows_in_publish_order(
    plant: Plant, key: tuple[str, str, str] = KEY
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Publish times, delivery times and payloads of the row ``key``, sorted by publish time."""
    row = plant.rows[key]
    published = np.asarray(row.delivered_published_at)
    order = np.argsort(published, kind="stable")
    return (
        published[order],
        np.asarray(row.delivered_at)[order],
        np.asarray(row.delivered_payload)[order],
    )


MBPS10 = 8.0 / 10e6  # seconds per byte at 10 Mbit/s


# ------------------------------------------------------------------------------ contract: M/M/1


def test_contract_mm1_mean_and_p99() -> None:
    """The contract M/M/1 (lambda 800/s, mu 1000/s) has mean sojourn 1/(mu - lambda) = 5 ms and,
    the sojourn being exponential with rate mu - lambda, p99 = ln(100)/200 s = 23.03 ms.

    The file runs one replication of 190 s measured, so the confidence interval comes from batch
    means: 38 batches of 5 s, each about 55 relaxation times (1 / (mu (1 - sqrt(rho))^2) = 90 ms)
    long, are nearly independent estimates."""
    scenario = load_scenario(FIXTURES / "mm1.yaml")
    plant = Plant(scenario)
    plant.run()
    (record,) = plant.records()
    assert record.dropped == 0
    assert record.published == record.delivered + record.in_flight
    published, delivered, _ = rows_in_publish_order(plant, ("source", "s", "sink"))
    kept = published >= scenario.warmup
    published, latency = published[kept], (delivered - published)[kept]

    def batches(statistic):
        return batch_estimates(
            published, latency, scenario.warmup, scenario.duration, 38, statistic
        )

    assert_within_ci(batches(np.mean), 1.0 / (1000 - 800), "M/M/1 mean", narrow=0.10)
    assert_within_ci(
        batches(lambda v: np.percentile(v, 99)), math.log(100.0) / 200.0, "M/M/1 p99", narrow=0.20
    )
    # a Poisson stream of 800/s over the 190 s window, with a Poisson count's spread (sd 390)
    assert record.published == pytest.approx(800 * 190, abs=4 * math.sqrt(800 * 190))


# ------------------------------------------------------------------------------ M/M/1 with CIs


@pytest.fixture(scope="module")
def mm1_runs() -> list[np.ndarray]:
    """40 replications of an M/M/1 queue at rho = 0.8 (lambda 800/s, mu 1000/s), 19 s measured each.

    At rho = 0.8 successive sojourn times are strongly correlated (relaxation time about
    1 / (mu (1 - sqrt(rho))^2) = 90 ms), so it takes this much to pin the mean to a few per cent.
    """
    scenario = queue_scenario(
        arrivals=800, payload={"exponential": "1250B"}, seed=4, replications=40, duration=20.0
    )
    return latencies_per_replication(scenario)


def test_mm1_mean_sojourn_within_ci(mm1_runs: list[np.ndarray]) -> None:
    """M/M/1 mean time in system is 1/(mu - lambda) = 5 ms (within the run's confidence interval)."""
    assert_within_ci([float(x.mean()) for x in mm1_runs], 1.0 / (1000 - 800), "M/M/1 mean")


def test_mm1_mean_matches_the_reported_ci() -> None:
    """The summary's own 95 % CI of the mean (Student, across replications) covers 1/(mu - lambda).

    Lower load (rho = 0.5) so that each replication's mean is precise: 1/(1000 - 500) = 2 ms.
    """
    scenario = queue_scenario(
        arrivals=500, payload={"exponential": "1250B"}, seed=5, replications=10
    )
    row = run_scenario(scenario, keep_samples=False).stream(*KEY)
    low, high = row.ci95["mean"]
    half = (high - low) / 2
    # widen the 95 % interval (2.26 standard errors at R = 10) by one more standard error
    se = half / stats.t.ppf(0.975, 9)
    assert low - se <= 0.002 <= high + se, (low, high)
    assert half < 0.03 * 0.002
    assert row.replications == 10


@pytest.mark.parametrize(("t_ms", "narrow"), [(5.0, 0.05), (15.0, 0.2)])
def test_mm1_sojourn_is_exponential(mm1_runs: list[np.ndarray], t_ms: float, narrow: float) -> None:
    """M/M/1 FIFO sojourn time is exponential with rate mu - lambda: P(T > t) = exp(-200 t).

    At t = 5 ms that is e^-1 = 0.368, at 15 ms e^-3 = 0.0498 (a rarer event, so a wider interval;
    an M/D/1 queue of the same load, P(T > 15 ms) about 0.002, would still fall far outside it).
    """
    t = t_ms / 1000.0
    assert_within_ci(
        [float(np.mean(x > t)) for x in mm1_runs],
        math.exp(-(1000 - 800) * t),
        f"P(T > {t_ms} ms)",
        narrow=narrow,
    )


def test_mm1_median_sojourn(mm1_runs: list[np.ndarray]) -> None:
    """The median of an exponential sojourn of rate mu - lambda = 200/s is ln 2 / 200 = 3.466 ms."""
    assert_within_ci([float(np.median(x)) for x in mm1_runs], math.log(2.0) / 200.0, "M/M/1 median")


def test_mm1_p99_sojourn(mm1_runs: list[np.ndarray]) -> None:
    """The 99th percentile of the exponential sojourn is ln(100) / (mu - lambda) = 23.03 ms."""
    assert_within_ci(
        [float(np.percentile(x, 99.0)) for x in mm1_runs],
        math.log(100.0) / 200.0,
        "M/M/1 p99",
        narrow=0.1,
    )


# ------------------------------------------------------------------------------ M/D/1, M/G/1


@pytest.mark.parametrize(("rho", "expected_ms"), [(0.5, 1.5), (0.8, 3.0)])
def test_md1_pollaczek_khinchine(rho: float, expected_ms: float) -> None:
    """M/D/1 with D = 1250 B at 10 Mbit/s = 1 ms: mean sojourn D + rho D / (2 (1 - rho)).

    rho 0.5: 1 + 0.5/1 = 1.5 ms; rho 0.8: 1 + 0.8/0.4 = 3 ms. Nobody waits less than D.
    """
    d = 1250 * MBPS10
    assert pk_sojourn(rho / d, d, d * d) == pytest.approx(expected_ms / 1000.0)
    runs = latencies_per_replication(
        queue_scenario(arrivals=rho / d, payload="1250B", seed=int(rho * 10))
    )
    assert_within_ci([float(x.mean()) for x in runs], expected_ms / 1000.0, f"M/D/1 rho={rho}")
    assert min(float(x.min()) for x in runs) == pytest.approx(d, abs=1e-12)


def test_mg1_uniform_sizes_pollaczek_khinchine() -> None:
    """M/G/1 with payloads uniform on [250 B, 2250 B] at 10 Mbit/s and lambda = 700/s.

    S is uniform on [0.2 ms, 1.8 ms]: E[S] = 1 ms, E[S^2] = 1 ms^2 + (1.6 ms)^2 / 12 = 1.21333 ms^2,
    rho = 0.7, mean sojourn E[S] + lambda E[S^2] / (2 (1 - rho)) = 1 + 1.41556 = 2.41556 ms. (Sizes are
    rounded to whole bytes, which changes E[S^2] by 1/12 byte^2: negligible.)
    """
    expected = 1e-3 + 700 * (1e-6 + (1.6e-3) ** 2 / 12) / (2 * 0.3)
    assert expected == pytest.approx(2.41556e-3, rel=1e-5)
    runs = latencies_per_replication(
        queue_scenario(arrivals=700, payload={"uniform": ["250B", "2250B"]}, seed=7)
    )
    assert_within_ci([float(x.mean()) for x in runs], expected, "M/G/1 uniform")
    # against a wrong model that ignores the size variance (M/D/1 with the same mean: 2.1667 ms)
    assert pk_sojourn(700, 1e-3, 1e-6) < expected * 0.95


# ------------------------------------------------------------------------------ tandem queues


def test_tandem_link_then_broker_adds_exactly_the_broker_service() -> None:
    """Tandem M/D/1 -> ./D/1: a 1 ms link feeding a broker whose service_time D2 is 0.6 ms.

    Departures from a FIFO of constant service D1 are at least D1 apart, so a second server with
    D2 <= D1 never has a queue: every message's sojourn is its M/D/1 sojourn plus exactly D2. The
    machine's draws depend only on its own name and the seed, so the same scenario with a free broker
    publishes the same messages: each latency must differ by D2 to 1e-9 s, and the mean must be the
    M/D/1 mean (rho 0.8: 3 ms) plus D2.
    """
    d2 = 0.6e-3
    kwargs = {"arrivals": 800, "payload": "1250B", "seed": 11, "duration": 6.0, "replications": 1}
    free = Plant(queue_scenario(**kwargs))
    busy = Plant(
        queue_scenario(
            **kwargs, broker={"service_time": "600us", "fanout_time": "0s", "per_byte_time": "0s"}
        )
    )
    free.run()
    busy.run()
    pub_free, done_free, _ = rows_in_publish_order(free)
    pub_busy, done_busy, _ = rows_in_publish_order(busy)
    n = min(pub_free.size, pub_busy.size)
    assert n > 4000
    np.testing.assert_array_equal(pub_free[:n], pub_busy[:n])
    np.testing.assert_allclose(done_busy[:n] - done_free[:n], d2, rtol=0, atol=1e-9)

    runs = latencies_per_replication(
        queue_scenario(
            arrivals=800,
            payload="1250B",
            seed=12,
            broker={"service_time": "600us", "fanout_time": "0s", "per_byte_time": "0s"},
        )
    )
    assert_within_ci([float(x.mean()) for x in runs], 3e-3 + d2, "M/D/1 + D/1 tandem")


def ethernet(hops: int, **extra: Any) -> dict[str, Any]:
    """A 10 Mbit/s Ethernet with no framing overhead and no switch delay."""
    return {
        "kind": "ethernet",
        "hops": hops,
        "rate": "10Mbps",
        "switch_latency": "0s",
        "overhead": "0B",
        **extra,
    }


def test_ethernet_two_hops_constant_frames_second_hop_never_queues() -> None:
    """Ethernet, hops 2, one machine, constant 1250 B frames (D = 1 ms per hop), Poisson 800/s.

    Hop 1 (the machine's access port) is an M/D/1 queue; hop 2 has the same rate, so frames leave
    hop 1 at least D apart and never queue at hop 2: sojourn = M/D/1 sojourn + D, mean 3 + 1 = 4 ms,
    and on the same sample path each message takes exactly D longer than with hops 1.
    """
    d = 1250 * MBPS10
    runs = latencies_per_replication(
        queue_scenario(arrivals=800, payload="1250B", network=ethernet(2), seed=13)
    )
    assert_within_ci([float(x.mean()) for x in runs], 3e-3 + d, "Ethernet 2-hop M/D/1 + D")
    assert min(float(x.min()) for x in runs) == pytest.approx(2 * d, abs=1e-12)

    kwargs = {"arrivals": 800, "payload": "1250B", "seed": 14, "duration": 5.0, "replications": 1}
    one, two = (
        Plant(queue_scenario(**kwargs, network=ethernet(1))),
        Plant(queue_scenario(**kwargs, network=ethernet(2))),
    )
    one.run()
    two.run()
    pub1, done1, _ = rows_in_publish_order(one)
    pub2, done2, _ = rows_in_publish_order(two)
    n = min(pub1.size, pub2.size)
    np.testing.assert_array_equal(pub1[:n], pub2[:n])
    np.testing.assert_allclose(done2[:n] - done1[:n], d, rtol=0, atol=1e-9)


def test_ethernet_two_hops_exponential_sizes_follow_the_tandem_recursion() -> None:
    """Ethernet, hops 2, exponential frame sizes: a tandem with the *same* service time at both hops.

    This is not a Jackson network (the second hop's service times are the first hop's, not
    independent draws), so no product form applies; a long frame followed by a short one that queued
    behind it makes the short one wait at hop 2. The exact law is the sample path: with
    d1_n = max(a_n, d1_{n-1}) + S_n and d2_n = max(d1_n, d2_{n-1}) + S_n, every message must be
    delivered at d2_n (to 1e-9 s). Jumbo frames (MTU 9216 B) keep each message in one frame: a
    size of mean 500 B exceeds a segment with probability e^(-9176/500) = 1e-8; 1-hop sojourns must
    follow the single-queue recursion, and some messages must actually wait at hop 2.
    """
    network = ethernet(2, mtu="9216B")
    plant = Plant(
        queue_scenario(
            arrivals=1500,
            payload={"exponential": "500B"},
            network=network,
            seed=15,
            warmup=0.0,
            duration=5.0,
            replications=1,
        )
    )
    plant.run()
    published, delivered, payload = rows_in_publish_order(plant)
    assert published.size > 3000
    service = payload * MBPS10
    hop1 = fifo_departures(published, service)
    hop2 = fifo_departures(hop1, service)
    np.testing.assert_allclose(delivered, hop2, rtol=0, atol=1e-9)
    waited_at_hop2 = hop2 - hop1 - service > 1e-12
    assert waited_at_hop2.mean() > 0.05  # not the constant-size case in disguise


def test_ethernet_three_machines_three_hops_follow_the_feed_forward_recursion() -> None:
    """Three machines share the switch hops of a 3-hop Ethernet (10 Mbit/s, 7 us per switch, no
    overhead, 1500 B frames): a feed-forward network of FIFO queues, checked on its sample path.

    Each machine's access port serialises its own frames (a message of b bytes is ceil(b / 1500)
    frames, all full but the last) back to back; the frames of all machines merge, in the order they
    leave their access ports, into the FIFO of hop 2 and then of hop 3, each 7 us after the previous
    hop; a message is delivered when its last frame leaves hop 3. Recomputed by hand from publish
    times and payloads, every delivery must match to 1e-9 s (messages published in the last second
    are left out: a message still in flight could have gone ahead of them).
    """
    scenario = queue_scenario(
        arrivals=150,
        payload={"exponential": "2000B"},
        network=ethernet(3, switch_latency="7us"),
        count=3,
        seed=19,
        warmup=0.0,
        duration=6.0,
        replications=1,
    )
    plant = Plant(scenario)
    plant.run()
    row = plant.rows[KEY]
    published = np.asarray(row.delivered_published_at)
    payload = np.asarray(row.delivered_payload)
    instance = np.asarray(row.delivered_instance)
    assert set(instance.tolist()) == {0, 1, 2}

    frames: list[tuple[float, float, int, bool]] = []  # (leaves access port, bytes, message, last)
    for machine in range(3):
        (mine,) = np.nonzero(instance == machine)
        free = 0.0
        for k in mine[np.argsort(published[mine], kind="stable")]:
            count = max(1, math.ceil(payload[k] / 1500))
            free = max(published[k], free)
            for f in range(count):
                size = 1500.0 if f < count - 1 else payload[k] - 1500.0 * (count - 1)
                free += size * MBPS10
                frames.append((free, size, int(k), f == count - 1))
    frames.sort(key=lambda frame: frame[0])
    expected = np.full(published.size, np.nan)
    hop2 = hop3 = 0.0
    for leaves, size, k, last in frames:
        hop2 = max(leaves + 7e-6, hop2) + size * MBPS10
        hop3 = max(hop2 + 7e-6, hop3) + size * MBPS10
        if last:
            expected[k] = hop3
    settled = published < 5.0
    assert settled.sum() > 2000
    assert np.mean(payload[settled] > 1500) > 0.3  # many messages take several frames
    np.testing.assert_allclose(
        np.asarray(row.delivered_at)[settled], expected[settled], rtol=0, atol=1e-9
    )


# ------------------------------------------------------------------------------ cross traffic


def test_ethernet_cross_traffic_probe_waits_mg1_time() -> None:
    """A sparse Poisson probe through the shared hop of a 50 % loaded port waits the M/G/1 time.

    Ethernet, hops 2, 10 Mbit/s, Poisson cross traffic of 1500 B frames at load 0.5 on the shared hop
    (D = 1.2 ms, 416.7 frames/s). The probe: 25 B messages (s = 20 us per hop), Poisson 50/s. Poisson
    arrivals see time averages (PASTA), so a probe waits at the shared hop the mean M/G/1 FIFO wait
    of the mixed traffic, W = (lambda_c D^2 + lambda_p s^2) / (2 (1 - rho_c - rho_p)) = 0.6012 ms
    (the probe's own load 0.001 barely shows). Its latency is that wait, plus s at each of the two
    hops, plus its own (negligible) M/D/1 wait at its access port.
    """
    d = 1500 * MBPS10
    lam_c = 0.5 / d
    s = 25 * MBPS10
    lam_p = 50.0
    wait_shared = (lam_c * d * d + lam_p * s * s) / (2 * (1 - lam_c * d - lam_p * s))
    wait_access = lam_p * s * s / (2 * (1 - lam_p * s))
    expected = wait_access + s + wait_shared + s
    assert wait_shared == pytest.approx(0.6012e-3, rel=1e-3)

    scenario = queue_scenario(
        arrivals=lam_p,
        payload="25B",
        network=ethernet(2, cross_traffic={"load": "50%", "size": "1500B"}),
        seed=17,
        duration=41.0,
        warmup=1.0,
        replications=10,
    )
    runs = latencies_per_replication(scenario)
    assert_within_ci([float(x.mean()) for x in runs], expected, "probe latency", narrow=0.06)
    # a probe that finds the port idle (probability 1 - rho = 0.5) crosses in exactly 2 s
    assert min(float(x.min()) for x in runs) == pytest.approx(2 * s, abs=1e-12)
    idle = [float(np.mean(x <= 2 * s + 1e-12)) for x in runs]
    assert_within_ci(idle, 1 - 0.5 - lam_p * s, "P(probe finds the shared port idle)", narrow=0.06)
