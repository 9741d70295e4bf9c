"""Round trips of small control messages on each kind of plant network, hosts included.

For each network: 20 machines (industrial PCs) publish 100 B every 10 ms to a broker on a server;
a subscriber (a server) on the same network receives them. The one-way delay machine -> broker ->
subscriber crosses the network up and down and four host stacks; a round trip (the subscriber
answering the machine the same way) is the sum of two independent one-way delays, drawn in pairs
from the run's samples. Prints p0 / p50 / p99 / p99.9 in milliseconds.

    python benchmarks/round_trips.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.engine import Plant  # noqa: E402
from sim.scenario.schema import Scenario  # noqa: E402

NETWORKS = {
    "Ethernet 1 GbE, 1 switch": {"kind": "ethernet", "hops": 2, "rate": "1Gbps",
                                 "switch_latency": "4.5us"},
    "Ethernet 100 Mbit/s, 1 switch": {"kind": "ethernet", "hops": 2, "rate": "100Mbps"},
    "Wi-Fi 802.11ac, idle": {"kind": "wifi", "profile": "802.11ac", "latency": "50us"},
    "Wi-Fi 802.11ac, 10 laptops x 5 Mbit/s": {
        "kind": "wifi", "profile": "802.11ac", "latency": "50us",
        "background": {"count": 10, "rate": "5Mbps", "size": "1500B"},
    },
    "private LTE (band 40, TDD 2)": {"kind": "nr5g", "profile": "private-lte"},
    "5G SA n78, grant based": {"kind": "nr5g", "profile": "sa-midband"},
    "5G SA n78, configured grant": {"kind": "nr5g", "profile": "sa-midband",
                                    "uplink_access": "configured_grant", "cg_period": "2.5ms",
                                    "cg_size": "256B"},
    "5G URLLC 28 GHz": {"kind": "nr5g", "profile": "urllc"},
}  # fmt: skip


def scenario(network: dict, seconds: float) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "round-trips",
            "duration": f"{seconds}s",
            "warmup": "1s",
            "seed": 3,
            "networks": {"net": network},
            "brokers": {"b": {}},
            "machines": {
                "m": {
                    "count": 20,
                    "network": "net",
                    "broker": "b",
                    "streams": {"s": {"topic": "c/{id}", "every": "10ms", "payload": "100B"}},
                },
            },
            "subscribers": {"sink": {"broker": "b", "topics": ["c/#"], "network": "net"}},
        }
    )


def round_trips(network: dict, seconds: float) -> np.ndarray:
    plant = Plant(scenario(network, seconds))
    plant.run()
    row = plant.rows[("m", "s", "sink")]
    one_way = np.asarray(row.delivered_at) - np.asarray(row.delivered_published_at)
    rng = np.random.default_rng(0)
    return (one_way[rng.permutation(one_way.size)] + one_way[rng.permutation(one_way.size)]) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"{'network':<34} {'p0':>7} {'p50':>7} {'p99':>7} {'p99.9':>7}  ms round trip")
    for name, network in NETWORKS.items():
        rtt = round_trips(network, args.seconds)
        p50, p99, p999 = np.percentile(rtt, [50, 99, 99.9])
        print(f"{name:<34} {rtt.min():7.3f} {p50:7.3f} {p99:7.3f} {p999:7.3f}")


if __name__ == "__main__":
    main()
