"""Wall time of a sweep in this process and on a Dask LocalCluster, with the same bytes out.

Usage::

    python benchmarks/sweep_workers.py [--points 16] [--replications 3] [--duration 30s]
        [--workers 1,2] [--scenario scenarios/line3-5g.yaml] [--json OUT]

Sweeps ``machines.robot.count`` over ``--points`` values (4, 8, 12, ...) of the scenario, each with
``--replications`` replications, once per worker count, each into a fresh folder (so nothing comes
from a store), and reports the wall time of the whole command (``factory5g sweep`` in a subprocess:
loading and validating every point, starting the cluster, running the tasks, writing the files),
the tasks per second, and the speed-up over one worker. It then checks that ``sweep.csv`` and every
point's ``summary.json`` are byte-identical across the worker counts, and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep(
    scenario: Path, values: str, replications: int, duration: str, workers: int, out: Path
) -> float:
    """Run the sweep as a user would; the wall time in seconds."""
    command = [
        sys.executable, "-m", "sim", "sweep", str(scenario), "--vary",
        f"machines.robot.count={values}", "--replications", str(replications),
        "--duration", duration, "--workers", str(workers), "--out", str(out), "--quiet",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=16)
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "line3-5g.yaml")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    values = ",".join(str(4 * (i + 1)) for i in range(args.points))
    tasks = args.points * args.replications
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        outs = {}
        for workers in (int(w) for w in args.workers.split(",")):
            out = Path(folder) / f"workers-{workers}"
            wall = sweep(args.scenario, values, args.replications, args.duration, workers, out)
            outs[workers] = out
            figures.append(
                {"workers": workers, "wall_s": wall, "tasks": tasks, "tasks_per_s": tasks / wall}
            )
        first = next(iter(outs.values()))
        files = ["sweep.csv"] + [f"points/point-{i:03d}/summary.json" for i in range(args.points)]
        identical = all(
            (out / name).read_bytes() == (first / name).read_bytes()
            for out in outs.values()
            for name in files
        )
    one = figures[0]["wall_s"]
    print(
        f"sweep of {args.scenario.name}: {args.points} points x {args.replications} replications "
        f"= {tasks} tasks of {args.duration} simulated, on {os.cpu_count()} cores"
    )
    for figure in figures:
        print(
            f"  {figure['workers']} worker(s): {figure['wall_s']:.1f} s wall, "
            f"{figure['tasks_per_s']:.2f} tasks/s, speed-up {one / figure['wall_s']:.2f}"
        )
    print(f"  outputs byte-identical across worker counts: {'yes' if identical else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "identical": identical}, indent=2))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
