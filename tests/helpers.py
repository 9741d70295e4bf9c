"""What the tests share: where the repository's files are, the scenario blocks and builders that
recur, running the command line as a user does, and the confidence-interval rule of statistical
checks.

Imported by the test modules as ``helpers`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.engine import Plant
from sim.metrics.collector import Row
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"  # what the project ships
FIXTURES = ROOT / "tests" / "scenarios"  # fixed copies of the contract scenarios (README there)
DATA = ROOT / "tests" / "data"
DETERMINISTIC6G = DATA / "deterministic6g"
# Only in the developers' workspace, never in a user's clone: tests of it skip when it is absent.
SHARED_CONTRACT = ROOT.parent / "shared" / "contract"

STANDARD_ERRORS = 3.0  # the 95 % Student interval (about 2.1 SE at R = 20) widened a little

# A broker that costs nothing: no service, fan-out or per-byte time and no host stack, so a test's
# timeline is the networks' alone.
FREE_BROKER = {
    "service_time": "0s",
    "fanout_time": "0s",
    "per_byte_time": "0s",
    "connect_time": "0s",
    "tls_handshake_time": "0s",
    "tls_read_time": "0s",
    "tls_write_time": "0s",
    "host": "none",
}


# ------------------------------------------------------------------------------- scenarios


def seconds(value: float) -> str:
    """A time for a scenario file, to the last digit."""
    return f"{value!r}s"


def parametric(latency: str = "10ms", **fields: Any) -> dict[str, Any]:
    """A parametric network with a constant latency and no framing (unless ``fields`` say), so
    that every packet takes exactly ``latency``."""
    return {"kind": "parametric", "latency": latency, "overhead": "0B", **fields}


def plant(
    *,
    network: dict[str, Any],
    streams: dict[str, Any],
    count: int = 1,
    broker: dict[str, Any] | None = None,
    subscribers: dict[str, Any] | None = None,
    networks: dict[str, Any] | None = None,
    machines: dict[str, Any] | None = None,
    net: str = "net",
    machine: str = "m",
    **top: Any,
) -> dict[str, Any]:
    """The plant most tests build, as a scenario mapping: ``count`` machines of class ``machine``
    on network ``net`` publishing ``streams`` to broker ``b`` (free unless ``broker`` says), and
    one subscriber ``sink`` next to it taking every topic (unless ``subscribers`` say).
    ``networks`` and ``machines`` add more of them; ``top`` sets top-level keys (``duration``,
    ``warmup``, ``seed``, ``replications``, ``tcp``, ...). Every host is ``none`` unless given
    (:func:`no_hosts`)."""
    return no_hosts(
        {
            "name": "test",
            "duration": "10s",
            "seed": 1,
            **top,
            "networks": {net: network, **(networks or {})},
            "brokers": {"b": FREE_BROKER if broker is None else broker},
            "machines": {
                machine: {"count": count, "network": net, "broker": "b", "streams": streams},
                **(machines or {}),
            },
            "subscribers": subscribers or {"sink": {"broker": "b", "topics": ["#"]}},
        }
    )


def no_hosts(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``host: none`` on every machine, broker, subscriber and gateway that names no
    host of its own: a model's test sees the model alone (tests/test_hosts.py checks the hosts)."""
    for table in ("machines", "brokers", "subscribers"):
        for spec in (data.get(table) or {}).values():
            if isinstance(spec, dict):
                spec.setdefault("host", "none")
    for spec in (data.get("networks") or {}).values():
        if isinstance(spec, dict) and spec.get("kind") == "gateway":
            spec.setdefault("host", "none")
    return data


def uniform_plant(
    latency: str = "20ms", reliability: str | None = None, **top: Any
) -> dict[str, Any]:
    """Machines ``m`` sending 10 B every 10 ms over a network whose latency is uniform on
    ``[0, latency]``, with a 10 ms deadline (and a ``reliability`` target when given): with 20 ms,
    half the messages on time. ``top`` as for :func:`plant` (``count``, ``duration``, ...)."""
    requirement: dict[str, Any] = {"deadline": "10ms"}
    if reliability is not None:
        requirement["reliability"] = reliability
    top = {"count": 2, "duration": "3s", "warmup": "1s", "replications": 2, **top}
    return plant(
        network={"kind": "parametric", "latency": {"uniform": ["0ms", latency]}},
        streams={
            "s": {"topic": "t/{id}", "every": "10ms", "payload": "10B", "requirement": requirement}
        },
        **top,
    )


def plant_scenario(**spec: Any) -> Scenario:
    """:func:`plant`, validated."""
    return Scenario.model_validate(plant(**spec))


def scenario_file(folder: Path, name: str, data: dict[str, Any]) -> Path:
    """``data`` (with :func:`no_hosts`) written as ``folder/name.yaml``, for the command line and
    the studies, which take files."""
    path = folder / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(no_hosts(copy.deepcopy(data)), sort_keys=False), encoding="utf-8"
    )
    return path


def written_scenario(folder: Path, data: dict[str, Any]) -> Scenario:
    """``data`` written as a YAML file in ``folder`` and loaded as a user's file is loaded (with
    :func:`no_hosts` unless it extends another file)."""
    path = folder / f"scenario-{len(list(folder.iterdir()))}.yaml"
    data = no_hosts(copy.deepcopy(data)) if "extends" not in data else data
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_scenario(path)


def run_plant(scenario: Scenario, replication: int = 0) -> Plant:
    """Build and run one replication; its records are taken, so that conservation is checked
    (``records()`` raises ConservationError when a copy is unaccounted for)."""
    built = Plant(scenario, replication)
    built.run()
    built.records()
    return built


def in_publish_order(row: Row) -> tuple[np.ndarray, np.ndarray]:
    """Publish and delivery times of a row's deliveries, in publish order."""
    published = np.asarray(row.delivered_published_at)
    order = np.argsort(published, kind="stable")
    return published[order], np.asarray(row.delivered_at)[order]


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


def quantile_interval(
    samples: np.ndarray, q: float, confidence: float = 0.997
) -> tuple[float, float]:
    """A distribution-free confidence interval of the ``q`` quantile from independent ``samples``:
    the order statistics whose ranks a Binomial(n, q) count brackets with ``confidence`` (the
    default matches the three standard errors of :func:`assert_within_ci`)."""
    from scipy import stats

    ordered = np.sort(np.asarray(samples, dtype=float))
    n = ordered.size
    tail = (1.0 - confidence) / 2.0
    low = int(stats.binom.ppf(tail, n, q))
    high = int(stats.binom.ppf(1.0 - tail, n, q))
    return float(ordered[max(low - 1, 0)]), float(ordered[min(high, n - 1)])


def batch_estimates(
    times: np.ndarray, values: np.ndarray, start: float, end: float, batches: int, statistic
) -> np.ndarray:
    """``statistic`` of ``values`` in each of ``batches`` equal stretches of ``[start, end)`` of
    ``times``: the method of batch means, which gives nearly independent estimates from one long
    run when each batch is much longer than the process's relaxation time."""
    edges = np.linspace(start, end, batches + 1)
    which = np.searchsorted(edges, times, side="right") - 1
    return np.asarray([statistic(values[which == b]) for b in range(batches)])
