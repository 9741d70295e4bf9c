"""Each 5G profile against the measurement it cites: one-way uplink and downlink percentiles.

Runs the DETERMINISTIC6G traffic of each set (2a and 4a: 100 B every 10 ms; 3a: 32 B every 7 ms)
through the profile's cell and prints p50 / p99 beside the set's histogram percentiles. The sets
measure the 5G system as a TSN bridge, from port to port (a tester on each side), so the devices,
the controller and the broker have no host stack here (``host: none``).

    python benchmarks/measured_5g.py [--seconds 60] [--devices 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from measured import SETS, measured, one_way  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--devices", type=int, default=20)
    args = parser.parse_args()
    print(f"{'profile':<11} {'dir':<4} {'p50 sim':>8} {'p50 meas':>8} {'err':>6} "
          f"{'p99 sim':>8} {'p99 meas':>8} {'err':>6}")  # fmt: skip
    for profile, (folder, up, down, _, _) in SETS.items():
        delays = one_way(profile, args.seconds, args.devices)
        for way, name in (("up", up), ("down", down)):
            sim50, sim99 = np.percentile(delays[way], [50, 99])
            ref50, ref99 = measured(folder, name, 0.50), measured(folder, name, 0.99)
            print(
                f"{profile:<11} {way:<4} {sim50:8.2f} {ref50:8.2f} {sim50 / ref50 - 1:+6.0%} "
                f"{sim99:8.2f} {ref99:8.2f} {sim99 / ref99 - 1:+6.0%}"
            )


if __name__ == "__main__":
    main()
