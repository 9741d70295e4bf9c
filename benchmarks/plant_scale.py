"""Cost per message and peak memory against plant size: the N-machine plant of issue 13.

Usage::

    python benchmarks/plant_scale.py [--machines 10,100,1000,10000] [--duration 10s | --messages M]
        [--network ethernet|parametric] [--engine event|fast] [--json OUT]

The plant: N machines, each publishing 100 B every 100 ms (10 Hz, a random phase, QoS 0) across
one network to one broker (5.1 us a message, so that 10,000 machines load it to 0.51: with
Mosquitto's default figures, 20 us, it saturates at 5,000 machines and its backlog grows without
end), with one subscriber beside it; no host stacks, no cross traffic. The
network is a switched 1 GbE network of three hops (``ethernet``), or one parametric 1 Gbit/s
FIFO with 10 us of latency (``parametric``); both are within the fast engine's scope.
Each N runs in a fresh subprocess (one replication, no warm-up), so that peak memory is that
run's alone. With ``--messages M`` each N runs ``M / (10 N)`` simulated seconds instead of
``--duration``, so that every N does the same work and the fixed costs (imports aside: building
the plant, the summary) weigh the same. Reported per N:

- CPU us per message: the process's CPU time (``time.process_time``) of ``run_scenario``
  (building the plant, the run, the conservation check and the summary), over the messages
  published (N x 10 Hz x the duration), after a one-machine run has loaded the compiled kernels;
- messages per second of wall time;
- peak RSS: Linux ``VmHWM`` of the subprocess (the interpreter and imports included), and its
  value before the run.

A benchmark, not a test: it asserts nothing, and its figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MiB = 1024.0 * 1024.0


NETWORKS = {
    "ethernet": {"kind": "ethernet", "hops": 3, "rate": "1Gbps"},
    "parametric": {"kind": "parametric", "rate": "1Gbps", "latency": "10us"},
}


def plant(
    machines: int, duration: str, network: str = "ethernet", engine: str = "event"
) -> dict[str, Any]:
    """The scenario mapping of the N-machine plant."""
    return {
        "name": f"plant-{machines}",
        "duration": duration,
        "seed": 1,
        "engine": engine,
        "networks": {"lan": NETWORKS[network]},
        # 5.1 us a message (3 us service, 2 us fan-out, 1 ns a byte): 100,000 messages a second
        # load it to 0.51; with Mosquitto's default figures (20 us) it saturates at 50,000
        "brokers": {"b": {"host": "none", "service_time": "3us", "fanout_time": "2us"}},
        "machines": {
            "m": {
                "count": machines,
                "network": "lan",
                "broker": "b",
                "host": "none",
                "streams": {"s": {"topic": "m/{id}", "every": "100ms", "payload": "100B"}},
            }
        },
        "subscribers": {"sink": {"broker": "b", "topics": ["m/#"], "host": "none"}},
    }


def child(machines: int, duration: str, network: str, engine: str) -> None:
    """Run the plant once in this process and print its figures as JSON."""
    from benchmarks.run_benchmarks import peak_rss
    from sim.engine import run_scenario
    from sim.scenario.schema import Scenario

    scenario = Scenario.model_validate(plant(machines, duration, network, engine))
    # load the compiled kernels (numba's cache) before the clock starts: a fixed cost, not a
    # per-message one
    run_scenario(Scenario.model_validate(plant(1, "1s", network, engine)), keep_samples=False)
    before = peak_rss()
    cpu, wall = time.process_time(), time.perf_counter()
    results = run_scenario(scenario, keep_samples=False)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    messages = machines * 10 * scenario.duration
    (row,) = results.streams
    print(
        json.dumps(
            {
                "machines": machines,
                "duration_s": scenario.duration,
                "messages": messages,
                "delivered": row.delivered,
                "cpu_s": cpu,
                "wall_s": wall,
                "cpu_us_per_message": 1e6 * cpu / messages,
                "messages_per_s": messages / wall,
                "peak_rss_mib": peak_rss() / MiB,
                "rss_before_mib": before / MiB,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", default="10,100,1000,10000")
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--messages", type=float, help="messages per N (sets each N's duration)")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="ethernet")
    parser.add_argument("--engine", choices=("event", "fast"), default="event")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.duration, args.network, args.engine)
        return 0
    figures = []
    print(
        f"N machines x 10 Hz x 100 B, QoS 0, {args.network} 1 Gbit/s, "
        + (f"{args.messages:,.0f} messages" if args.messages else f"{args.duration} simulated")
        + f", {args.engine} engine"
    )
    print(f"{'N':>7} {'messages':>10} {'CPU us/msg':>11} {'msg/s':>10} {'peak RSS':>10}")
    for machines in (int(n) for n in args.machines.split(",")):
        duration = f"{args.messages / (10 * machines):g}s" if args.messages else args.duration
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                *("--child", str(machines), "--duration", duration),
                *("--network", args.network, "--engine", args.engine),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        figure = json.loads(done.stdout)
        figures.append(figure)
        print(
            f"{machines:>7,} {figure['messages']:>10,.0f} {figure['cpu_us_per_message']:>11.1f} "
            f"{figure['messages_per_s']:>10,.0f} {figure['peak_rss_mib']:>7.0f} MiB"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
