"""The DETERMINISTIC6G measurements each 5G profile cites, and the scenario that repeats one.

The sets measure the 5G system as a TSN bridge, from port to port (a tester on each side), so
the scenario has no host stacks (``host: none``) and a broker that costs nothing: the cell alone.
Used by tests/test_measured_5g.py and benchmarks/measured_5g.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.engine import Plant
from sim.scenario.laws import read_trace
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "deterministic6g"
SETS = {
    "sa-midband": ("PD-Wireless-5G-2a", "5G-midband-Uplink_PD-Wireless-5G-2a.csv",
                   "5G-midband-Downlink_PD-Wireless-5G-2a.csv", "10ms", "100B"),
    "sa-mmwave": ("PD-Wireless-5G-4a", "5G-mmW-UL-histData.csv", "5G-mmW-DL-histData.csv",
                  "10ms", "100B"),
    "urllc": ("PD-Wireless-5G-3a", "5G-URLLC-mmW-Uplink_PD-Wireless-5G-3a.csv",
              "5G-URLLC-mmW-Downlink_PD-Wireless-5G-3a.csv", "7ms", "32B"),
}  # fmt: skip


def measured(folder: str, name: str, q: float) -> float:
    """The ``q`` quantile in ms of a DETERMINISTIC6G histogram."""
    return read_trace(DATA / folder / name).quantile(q)


def measurement_scenario(
    profile: str,
    every: str,
    payload: str,
    seconds: float,
    devices: int,
    seed: int = 1,
    cell: dict | None = None,
) -> Scenario:
    """``devices`` testers on the cell publishing up to a broker beside the core (uplink), and as
    many subscribers on the cell receiving a controller's messages published beside the broker
    (downlink); no host stacks, a broker that costs nothing: the cell alone."""
    stream = {"every": every, "payload": payload, "qos": 0}
    return Scenario.model_validate(
        {
            "name": f"measured-{profile}",
            "duration": f"{seconds}s",
            "warmup": "1s",
            "seed": seed,
            "networks": {
                "cell": {"kind": "nr5g", "profile": profile, **(cell or {})},
                "core": {"kind": "parametric"},
            },
            "brokers": {
                "b": {
                    "service_time": "0s",
                    "fanout_time": "0s",
                    "per_byte_time": "0s",
                    "host": "none",
                }
            },
            "machines": {
                "device": {
                    "count": devices,
                    "network": "cell",
                    "broker": "b",
                    "host": "none",
                    "streams": {"up": {"topic": "up/{id}", **stream}},
                },
                "controller": {
                    "count": devices,
                    "network": "core",
                    "broker": "b",
                    "host": "none",
                    "streams": {"down": {"topic": "down/{id}", **stream}},
                },
            },
            "subscribers": {
                "plc": {"broker": "b", "topics": ["up/#"], "host": "none"},
                **{
                    f"dev{i}": {
                        "broker": "b",
                        "topics": [f"down/{i}"],
                        "network": "cell",
                        "host": "none",
                    }
                    for i in range(devices)
                },
            },
        }
    )


def one_way(
    profile: str, seconds: float, devices: int, cell: dict | None = None
) -> dict[str, np.ndarray]:
    """Uplink and downlink one-way delays in ms (``cell``: fields over the profile's)."""
    _, _, _, every, payload = SETS[profile]
    plant = Plant(measurement_scenario(profile, every, payload, seconds, devices, cell=cell))
    plant.run()
    out = {}
    for way, rows in (
        ("up", [plant.rows[("device", "up", "plc")]]),
        ("down", [row for key, row in plant.rows.items() if key[0] == "controller"]),
    ):
        delays = np.concatenate(
            [np.asarray(r.delivered_at) - np.asarray(r.delivered_published_at) for r in rows]
        )
        out[way] = delays * 1e3
    return out
