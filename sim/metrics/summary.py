"""Per-row statistics of a run: counts, latency percentiles, throughput, deadline misses, availability.

Definitions (the README's output columns):

- *published*: copies published inside the measurement window ``[warmup, duration)`` and meant for
  the row's subscriber. *delivered*, *dropped*: those of them delivered or dropped by the end;
  *in flight*: those still on their way at the end. published = delivered + dropped + in flight.
- *latency*: publish to delivery, over the delivered copies.
- *completion* (QoS 1/2 streams): publish to the publisher's PUBACK (QoS 1) or PUBCOMP (QoS 2),
  over the messages published in the window and completed by the end; the same for every
  subscriber of the stream.
- *resumed*: copies delivered in the window that waited for a lost connection to come back (late by
  the outage); *duplicates*: QoS 1 copies that arrived a second time after a reconnection (counted
  once as delivered); *retained*: retained messages sent to a client that subscribed again. The last
  two count over the whole run.
- *throughput*: deliveries whose delivery time falls inside the window, whenever they were
  published, divided by the window's length; a saturated link shows its capacity, not the offered load.
- *deadline miss ratio*: copies delivered later than the deadline, or never delivered (dropped, or
  still undelivered at their deadline), over the copies whose fate at the deadline is known by the end.
- *availability* (3GPP TS 22.104): the application fails when no valid message (one delivered within
  its deadline) has arrived for longer than the survival time; availability is the fraction of the
  window not in that failed state, averaged over the machines of the class.

Replications pool their latencies: exactly where every replication kept them (at most
:data:`sim.metrics.SAMPLE_LIMIT` copies per row, or all with ``--samples``), else their histograms
(within 0.39 %, :mod:`sim.metrics.histogram`); the 95 % confidence intervals of the mean and of the p99 come from
the spread of the per-replication values (Student's t with R - 1 degrees of freedom).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.metrics.collector import Row
from sim.metrics.histogram import LatencyHistogram
from sim.metrics.verdicts import judge, overall, replication_interval
from sim.metrics.warmup import warmup_warnings
from sim.results import Results, StreamResult
from sim.scenario.schema import Scenario

PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


@dataclass
class ReplicationRow:
    """What one row saw in one replication: exact counts, the latency histograms, and the exact
    latencies (with their publish and delivery times) when the row kept them
    (:data:`sim.metrics.SAMPLE_LIMIT`), else None."""

    machine: str
    stream: str
    subscriber: str
    published: int
    delivered: int
    dropped: int
    in_flight: int
    window_deliveries: int
    window_bits: float
    deadline: float | None
    misses: int
    judged: int
    survival_time: float | None
    availability: float | None
    resumed: int
    duplicates: int
    retained: int
    latency: LatencyHistogram
    completion_latency: LatencyHistogram
    batches: np.ndarray  # (2, BATCHES): copies and their latencies' sum, by publish time
    latencies: np.ndarray | None
    published_at: np.ndarray | None  # of the delivered copies, in the order of ``latencies``
    delivered_at: np.ndarray | None
    completion: np.ndarray | None
    engine: str = "event"  # which engine computed it
    refused: int = 0  # copies published in the window that a broker's defences refused

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.machine, self.stream, self.subscriber)

    @property
    def exact(self) -> bool:
        """Whether the exact latencies (and completions) are here, not only their histograms."""
        return self.latencies is not None and self.completion is not None


def replication_row(row: Row, held: list[float]) -> ReplicationRow:
    """The statistics of ``row`` at the end of its run.

    ``held`` lists the publish times of the row's copies that the plant still held at the end.
    """
    row.flush()
    tally = row.tally
    in_flight, misses, judged = tally.at_end(np.asarray(held, dtype=float))
    exact = tally.exact()
    published_at = delivered_at = latencies = None
    if exact is not None:
        published_at, delivered_at = exact
        latencies = delivered_at - published_at
    completion: np.ndarray | None = np.empty(0)
    completion_latency = LatencyHistogram()
    if row.completion is not None:
        row.completion.flush()
        completion = row.completion.tally.exact()
        completion_latency = row.completion.tally.latency
    warmup, end = tally.warmup, tally.end
    resumed = sum(1 for sent, at in row.resumed if sent >= warmup and at <= end)
    return ReplicationRow(
        machine=row.machine,
        stream=row.stream,
        subscriber=row.subscriber,
        published=row.published,
        delivered=tally.delivered,
        dropped=tally.dropped,
        in_flight=in_flight,
        window_deliveries=tally.window_deliveries,
        window_bits=tally.window_bits,
        deadline=row.deadline,
        misses=misses if row.deadline is not None else 0,
        judged=judged if row.deadline is not None else 0,
        survival_time=row.survival_time,
        availability=tally.availability(),
        resumed=resumed,
        duplicates=row.duplicates,
        retained=row.retained,
        refused=row.refused,
        latency=tally.latency,
        completion_latency=completion_latency,
        batches=tally.batches,
        latencies=latencies,
        published_at=published_at,
        delivered_at=delivered_at,
        completion=completion,
    )


def network_traffic(
    replications: list[dict[str, dict[str, list[float]]]], duration: float
) -> dict[str, dict[str, dict[str, float]]]:
    """Per network and direction, the MQTT traffic per second of simulated time (warm-up
    included), averaged over the replications: PUBLISH packets, control packets, MQTT bit/s; for a
    radio the share of its PRB x symbols that carried transmissions; and under ``link`` what a
    medium that counts it did (Wi-Fi: transmissions, collisions, drops, resends per second, the
    longest queue)."""
    networks: dict[str, dict[str, dict[str, float]]] = {}
    count = len(replications)
    for traffic in replications:
        for network, ways in traffic.items():
            for way, sent in ways.items():
                if way == "link":  # the medium's own counts (Wi-Fi), per second
                    link = networks.setdefault(network, {}).setdefault("link", {})
                    for name, value in sent.items():  # type: ignore[attr-defined]
                        if name == "longest_queue":
                            link[name] = max(link.get(name, 0.0), float(value))
                        else:
                            link[f"{name}_per_s"] = (
                                link.get(f"{name}_per_s", 0.0) + value / duration / count
                            )
                    continue
                publish, control, size = sent[:3]
                figures = networks.setdefault(network, {}).setdefault(
                    way, {"publish_per_s": 0.0, "control_per_s": 0.0, "mqtt_bit_s": 0.0}
                )
                figures["publish_per_s"] += publish / duration / count
                figures["control_per_s"] += control / duration / count
                figures["mqtt_bit_s"] += 8.0 * size / duration / count
                if len(sent) > 3:
                    figures["radio_utilisation"] = (
                        figures.get("radio_utilisation", 0.0) + sent[3] / count
                    )
    return networks


def _statistics(values: np.ndarray) -> dict[str, float] | None:
    """Mean, percentiles and maximum of ``values``; None when there are none."""
    if not values.size:
        return None
    figures = {"mean": float(values.mean())}
    percentiles = np.percentile(values, list(PERCENTILES.values()))
    figures.update({name: float(v) for name, v in zip(PERCENTILES, percentiles, strict=True)})
    figures["max"] = float(values.max())
    return figures


def _histogram_statistics(histogram: LatencyHistogram) -> dict[str, float] | None:
    """:func:`_statistics` from a histogram: the mean and maximum exact, each percentile the
    value of its rank to within the histogram's relative error."""
    if not histogram.total:
        return None
    figures = {"mean": histogram.mean}
    figures.update({name: histogram.quantile(q / 100.0) for name, q in PERCENTILES.items()})
    figures["max"] = histogram.maximum
    return figures


def _pooled(
    exact: list[np.ndarray | None], histograms: list[LatencyHistogram]
) -> tuple[dict[str, float] | None, np.ndarray | None, LatencyHistogram]:
    """The statistics of the replications' values pooled: exact when every replication kept its
    values, else from the merged histograms; with the pooled values (or None) and the histogram."""
    merged = LatencyHistogram()
    for histogram in histograms:
        merged.merge(histogram)
    if all(values is not None for values in exact):
        pooled = np.concatenate(exact) if exact else np.empty(0)  # type: ignore[arg-type]
        return _statistics(pooled), pooled, merged
    return _histogram_statistics(merged), None, merged


def _per_replication(records: list[ReplicationRow]) -> dict[str, list[float]]:
    """The mean, p50 and p99 latency of each replication that delivered something (exact where
    the replication kept its latencies, else from its histogram)."""
    spread: dict[str, list[float]] = {"mean": [], "p50": [], "p99": []}
    for record in records:
        values = record.latencies
        if values is not None:
            if values.size:
                spread["mean"].append(float(values.mean()))
                spread["p50"].append(float(np.percentile(values, 50.0)))
                spread["p99"].append(float(np.percentile(values, 99.0)))
        elif record.latency.total:
            spread["mean"].append(record.latency.mean)
            spread["p50"].append(record.latency.quantile(0.50))
            spread["p99"].append(record.latency.quantile(0.99))
    return spread


def _confidence(values: list[float]) -> list[float] | None:
    """95 % confidence interval of the mean of per-replication ``values`` (Student's t), or None
    below two values."""
    interval = replication_interval(values)
    return None if interval is None else list(interval)


def _engine(scenario: Scenario, replications: list[list[ReplicationRow]]) -> dict[str, str]:
    """Which engine computed the replications, and why (:func:`sim.engines.choose`)."""
    from sim.engines import choose

    chosen, why = choose(scenario)
    ran = sorted({record.engine for records in replications for record in records}) or [chosen]
    if ran != [chosen]:
        why = (
            "the fast engine stopped where the traffic left its scope (a TCP window that would "
            "bind, or a PINGRESP later than the next keep-alive check); the event engine ran"
        )
    return {"name": "+".join(ran), "reason": why}


ATTACK_PREFIX = "attack:"


def attack_of(scenario: Scenario, machine: str) -> Any:
    """The attack whose rows are named ``attack:<name>`` (None: a machine class's row)."""
    if not machine.startswith(ATTACK_PREFIX):
        return None
    return scenario.attacks[machine[len(ATTACK_PREFIX) :]]


def _count_forged(scenario: Scenario, streams: list[StreamResult]) -> None:
    """A rogue publisher's copies that reached a subscriber are forged copies of the stream it
    imitates: counted on that stream's row for the subscriber (the copies inside the window)."""
    by_key = {row.key: row for row in streams}
    for row in streams:
        attack = attack_of(scenario, row.machine)
        if attack is None or attack.kind != "spoof":
            continue
        machine, _, stream = attack.target.partition(".")
        target = by_key.get((machine, stream, row.subscriber))
        if target is not None:
            target.forged += row.delivered


def summarize(
    scenario: Scenario, replications: list[list[ReplicationRow]], keep_samples: bool = True
) -> Results:
    """Pool the replications of a scenario into one result per row."""
    window = scenario.window
    by_key: dict[tuple[str, str, str], list[ReplicationRow]] = {}
    for records in replications:
        for record in records:
            by_key.setdefault(record.key, []).append(record)

    streams: list[StreamResult] = []
    samples: dict[tuple[str, str, str], np.ndarray] = {}
    histograms: dict[tuple[str, str, str], LatencyHistogram] = {}
    messages: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
    for key, records in sorted(by_key.items()):
        count = len(records)
        latency, pooled, histogram = _pooled(
            [r.latencies for r in records], [r.latency for r in records]
        )
        completion, _, _ = _pooled(
            [r.completion for r in records], [r.completion_latency for r in records]
        )
        histograms[key] = histogram
        first = records[0]
        judged = sum(r.judged for r in records)
        published = sum(r.published for r in records)
        dropped = sum(r.dropped for r in records)
        availabilities = [r.availability for r in records if r.availability is not None]
        machine, stream, subscriber = key
        spread = _per_replication(records)
        attack = attack_of(scenario, machine)
        requirement = None
        if attack is None:
            requirement = scenario.subscribers[subscriber].requirement_for(
                machine, stream, scenario.machines[machine].streams[stream].requirement
            )
        verdicts = judge(
            requirement,
            published=published,
            judged=judged,
            misses=sum(r.misses for r in records),
            dropped=dropped,
            availabilities=availabilities,
            shares_on_time=[1.0 - r.misses / r.judged for r in records if r.judged],
            losses=[r.dropped / r.published for r in records if r.published],
            throughputs=[r.window_bits / window for r in records],
            machines=scenario.machines[machine].count if attack is None else 1,
            window=window,
            replications=count,
        )
        streams.append(
            StreamResult(
                machine=key[0],
                stream=key[1],
                subscriber=key[2],
                published=published,
                delivered=sum(r.delivered for r in records),
                dropped=dropped,
                in_flight=sum(r.in_flight for r in records),
                loss_ratio=dropped / published if published else None,
                latency_s=latency,
                throughput_msg_s=sum(r.window_deliveries for r in records) / (count * window),
                throughput_bit_s=sum(r.window_bits for r in records) / (count * window),
                deadline_s=first.deadline,
                deadline_miss_ratio=(
                    sum(r.misses for r in records) / judged
                    if first.deadline is not None and judged
                    else None
                ),
                survival_time_s=first.survival_time,
                availability=float(np.mean(availabilities)) if availabilities else None,
                completion_s=completion,
                resumed=sum(r.resumed for r in records),
                duplicates=sum(r.duplicates for r in records),
                retained=sum(r.retained for r in records),
                refused=sum(r.refused for r in records),
                ci95={"mean": _confidence(spread["mean"]), "p99": _confidence(spread["p99"])},
                replications=count,
                requirement=(
                    requirement.model_dump(mode="json", exclude_none=True)
                    if requirement is not None
                    else None
                ),
                verdicts=[v.to_dict() for v in verdicts],
                verdict=overall(verdicts),
                per_replication=spread,
            )
        )
        if keep_samples and pooled is not None:
            samples[key] = pooled
            messages[key] = {
                "replication": np.concatenate(
                    [np.full(r.latencies.size, i, dtype=np.int32) for i, r in enumerate(records)]
                ),
                "published_s": np.concatenate([r.published_at for r in records]),
                "delivered_s": np.concatenate([r.delivered_at for r in records]),
                "latency_s": pooled,
            }
    _count_forged(scenario, streams)
    # the warm-up test looks for a trend in a stationary plant; an attack is a trend by design
    warnings = (
        []
        if scenario.attacks
        else warmup_warnings(
            scenario.warmup,
            {key: [r.batches for r in records] for key, records in by_key.items()},
        )
    )
    return Results(
        engine=_engine(scenario, replications),
        scenario=scenario.name,
        description=scenario.description,
        seed=scenario.seed,
        replications=scenario.replications,
        duration_s=scenario.duration,
        warmup_s=scenario.warmup,
        streams=streams,
        samples=samples,
        histograms=histograms,
        messages=messages,
        warnings=warnings,
    )
