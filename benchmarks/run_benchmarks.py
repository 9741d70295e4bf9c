"""How fast the engine simulates, on this machine, next to a bare SimPy model of the same traffic.

Usage::

    python benchmarks/run_benchmarks.py [--repeat N] [--json OUT] [--no-memory] [--profile]

Measures

- ``bare``: :func:`benchmarks.bare_simpy.run_bare`, 30 simulated seconds (one replication);
- ``line3 x1`` and ``line3 x3``: ``sim.engine.run_scenario`` on ``line3-intranet.yaml`` with 1
  replication and with its own 3;
- ``mm1``: ``run_scenario`` on ``mm1.yaml`` (200 simulated seconds, 1 replication).

Both files come from ``tests/scenarios/`` (fixed copies of the workspace's contract scenarios, so
that figures from different days measure the same plants); ``--scenarios DIR`` takes them from
another folder.

What is measured, and how:

- wall time: the best of ``--repeat`` runs (default 3) of the whole call (``run_bare``, or
  ``run_scenario``: building the plant, running every replication, the conservation check and the
  summary); loading and validating the YAML is outside the timing;
- messages: publications by the machines (each PUBLISH a source emits counts once), over the whole
  simulated time, warm-up included, because the simulator does the work for all of them. Not
  deliveries: line3-intranet delivers each message to two subscribers (scada on the edge broker,
  historian behind the bridge) and cuts a 150 kB camera frame into ~100 Ethernet frames; counting
  those would reward fan-out. The engine's publications are counted in a separate, untimed pass that
  wraps each ``StreamSource.send`` of a ``Plant`` with a counter (same seed, so the same run); the
  publications after the warm-up are checked against the metric rows' ``published``;
- messages/s: messages / best wall time;
- events/message: SimPy events processed / messages. SimPy numbers every event it schedules from
  ``env._eid`` (an ``itertools.count``), so after ``Plant(scenario, r).run()``, ``next(env._eid)`` is
  the number scheduled, and those left in ``env._queue`` were never processed. No monkeypatching;
- memory, each in a fresh subprocess: ``tracemalloc`` peak of the Python allocations during the call
  (traced from just before the call, so it excludes imports and the loaded scenario; tracing slows
  the call, which is why it runs apart), and the process's peak resident set size (Linux ``VmHWM``,
  else ``ru_maxrss``) in another subprocess without tracing, with its value before the call.

``--profile`` also runs one replication of line3-intranet under cProfile and prints the 15
functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import simpy  # noqa: E402

from benchmarks.bare_simpy import run_bare  # noqa: E402
from sim.engine import Plant, run_scenario  # noqa: E402
from sim.metrics.summary import summarize  # noqa: E402
from sim.scenario.schema import Scenario  # noqa: E402

DEFAULT_SCENARIOS = ROOT / "tests" / "scenarios"
TARGETS = ("bare", "line3 x1", "line3 x3", "mm1")
MiB = 1024.0 * 1024.0


# ------------------------------------------------------------------------------------ scenarios


def load(path: Path, replications: int | None = None) -> Scenario:
    """A scenario file, validated; ``replications`` overrides the file's."""
    from sim.scenario.loader import load_scenario

    return load_scenario(path, {"replications": replications})


def scenarios(folder: Path) -> dict[str, Scenario]:
    line3 = folder / "line3-intranet.yaml"
    return {
        "line3 x1": load(line3, replications=1),
        "line3 x3": load(line3),
        "mm1": load(folder / "mm1.yaml"),
    }


def call_of(target: str, folder: Path) -> Callable[[], Any]:
    """The call whose wall time is measured for ``target``."""
    if target == "bare":
        return lambda: run_bare(30.0, 7)
    scenario = scenarios(folder)[target]
    return lambda: run_scenario(scenario)


# ------------------------------------------------------------------------------------ counting


class Publications:
    """Counts the publications of a plant's sources by wrapping each one's ``send``."""

    def __init__(self, plant: Plant) -> None:
        self.warmup = plant.scenario.warmup
        self.all = 0
        self.after_warmup = 0
        self.by_stream: dict[str, int] = {}
        for source in (source for calendar in plant.calendars for source in calendar.sources):
            info: Any = source.info
            key = f"{info.machine}/{info.stream}"
            self.by_stream.setdefault(key, 0)
            source.send = self._counted(source.send, key)

    def _counted(
        self, send: Callable[[Any, float], None], key: str
    ) -> Callable[[Any, float], None]:
        def counted(packet: Any, when: float) -> None:
            self.all += 1
            self.by_stream[key] += 1
            if when >= self.warmup:
                self.after_warmup += 1
            send(packet, when)

        return counted


def count_engine(scenario: Scenario) -> dict[str, Any]:
    """Publications and SimPy events of every replication of ``scenario`` (untimed, instrumented)."""
    messages = after_warmup = processed = scheduled = 0
    by_stream: dict[str, int] = {}
    mismatches: list[str] = []
    for replication in range(scenario.replications):
        plant = Plant(scenario, replication)
        counter = Publications(plant)
        plant.run()
        n_scheduled = next(plant.env._eid)
        scheduled += n_scheduled
        processed += n_scheduled - len(plant.env._queue)
        messages += counter.all
        after_warmup += counter.after_warmup
        for key, value in counter.by_stream.items():
            by_stream[key] = by_stream.get(key, 0) + value
        # Cross-check with the metric rows: every row of a stream counts each publication after
        # the warm-up once, so the largest row per stream is the stream's publications.
        per_stream: dict[tuple[str, str], int] = {}
        for (machine, stream, _), row in plant.rows.items():
            per_stream[(machine, stream)] = max(per_stream.get((machine, stream), 0), row.published)
        if sum(per_stream.values()) != counter.after_warmup:
            mismatches.append(
                f"replication {replication}: rows say {sum(per_stream.values())} published after "
                f"the warm-up, the sources {counter.after_warmup}"
            )
    return {
        "messages": messages,
        "messages_after_warmup": after_warmup,
        "published_by_stream": by_stream,
        "events_scheduled": scheduled,
        "events_processed": processed,
        "events_per_message": processed / messages if messages else float("nan"),
        "row_check": mismatches or "ok",
    }


def count_bare() -> dict[str, Any]:
    result = run_bare(30.0, 7)
    keys = ("messages", "published_by_class", "events_scheduled", "events_processed")
    counts = {key: result[key] for key in keys}
    counts["events_per_message"] = result["events_per_message"]
    return counts


def phases(scenario: Scenario) -> dict[str, float]:
    """Wall time of each phase of one replication: build, simulate, records, summarise."""
    gc.collect()
    t0 = time.perf_counter()
    plant = Plant(scenario, 0)
    t1 = time.perf_counter()
    plant.run()
    t2 = time.perf_counter()
    records = plant.records()
    t3 = time.perf_counter()
    summarize(scenario, [records])
    t4 = time.perf_counter()
    return {"build_s": t1 - t0, "simulate_s": t2 - t1, "records_s": t3 - t2, "summarize_s": t4 - t3}


# --------------------------------------------------------------------------------------- timing


def best_of(call: Callable[[], Any], repeat: int) -> list[float]:
    walls = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        call()
        walls.append(time.perf_counter() - start)
    return walls


# --------------------------------------------------------------------------------------- memory


def peak_rss() -> int:
    """This process's peak resident set size in bytes.

    Linux's ``VmHWM`` when there is one: ``ru_maxrss`` survives ``fork`` + ``exec``, so a child
    process would report its parent's peak if that was higher.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def memory_child(target: str, folder: Path, trace: bool) -> None:
    """Run ``target`` once in this (fresh) process and print its memory figures as JSON."""
    call = call_of(target, folder)
    gc.collect()
    before = peak_rss()
    if trace:
        import tracemalloc

        tracemalloc.start()
        call()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(json.dumps({"tracemalloc_peak_bytes": peak}))
    else:
        call()
        after = peak_rss()
        print(json.dumps({"maxrss_before_bytes": before, "maxrss_bytes": after}))


def memory(target: str, folder: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for trace in (False, True):
        command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", target]
        command += ["--scenarios", str(folder)] + (["--tracemalloc"] if trace else [])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            figures["error"] = done.stderr.strip().splitlines()[-1:] or ["failed"]
            continue
        figures.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return figures


# -------------------------------------------------------------------------------------- profile


def profile(folder: Path, top: int = 15) -> tuple[str, list[dict[str, Any]]]:
    """One replication of line3-intranet (build, run, records) under cProfile; top by own time."""
    scenario = load(folder / "line3-intranet.yaml", replications=1)
    profiler = cProfile.Profile()
    profiler.enable()
    plant = Plant(scenario, 0)
    plant.run()
    plant.records()
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream).sort_stats("tottime")
    stats.print_stats(top)
    rows = []
    entries = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, own, cumulative, _) in entries[:top]:
        rows.append(
            {
                "function": f"{_short(file)}:{line}({name})",
                "calls": calls,
                "own_s": own,
                "cumulative_s": cumulative,
            }
        )
    return stream.getvalue(), rows


def _short(file: str) -> str:
    for marker in ("/sim/", "/simpy/", "/numpy/", "/benchmarks/"):
        if marker in file:
            return marker.strip("/") + "/" + file.split(marker, 1)[1]
    return file


# ---------------------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "simpy": simpy.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu,
    }


def _mib(value: Any) -> str:
    return f"{value / MiB:8.1f}" if isinstance(value, (int, float)) else f"{'-':>8}"


def table(results: dict[str, dict[str, Any]]) -> str:
    head = (
        f"{'model':<10} {'sim s':>6} {'reps':>4} {'messages':>9} {'wall s':>8} {'msgs/s':>9} "
        f"{'events':>9} {'ev/msg':>6} {'trace MiB':>9} {'RSS MiB':>8} {'ΔRSS MiB':>8}"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        mem = r.get("memory", {})
        rss, before = mem.get("maxrss_bytes"), mem.get("maxrss_before_bytes")
        delta = rss - before if rss is not None and before is not None else None
        lines.append(
            f"{name:<10} {r['simulated_s']:>6g} {r['replications']:>4} {r['messages']:>9} "
            f"{r['wall_best_s']:>8.3f} {r['messages_per_s']:>9.0f} {r['events_processed']:>9} "
            f"{r['events_per_message']:>6.2f} {_mib(mem.get('tracemalloc_peak_bytes')):>9} "
            f"{_mib(rss)} {_mib(delta)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per model (best counts)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--scenarios",
        type=Path,
        default=DEFAULT_SCENARIOS,
        help="folder with line3-intranet.yaml and mm1.yaml (default: tests/scenarios)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--profile", action="store_true", help="cProfile one line3 replication")
    parser.add_argument("--memory-child", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    if args.memory_child:
        memory_child(args.memory_child, args.scenarios, args.tracemalloc)
        return 0

    loaded = scenarios(args.scenarios)
    results: dict[str, dict[str, Any]] = {}
    for target in TARGETS:
        print(f"measuring {target} ...", file=sys.stderr, flush=True)
        if target == "bare":
            counts = count_bare()
            simulated, replications = 30.0, 1
        else:
            scenario = loaded[target]
            counts = count_engine(scenario)
            simulated, replications = scenario.duration, scenario.replications
        walls = best_of(call_of(target, args.scenarios), args.repeat)
        best = min(walls)
        result: dict[str, Any] = {
            "simulated_s": simulated,
            "replications": replications,
            **counts,
            "wall_s": walls,
            "wall_best_s": best,
            "wall_median_s": statistics.median(walls),
            "messages_per_s": counts["messages"] / best,
        }
        if target != "bare":
            result["phases_one_replication"] = phases(loaded[target])
        if not args.no_memory:
            result["memory"] = memory(target, args.scenarios)
        results[target] = result

    bare_rate = results["bare"]["messages_per_s"]
    ratios = {
        f"{name} msgs/s / bare msgs/s": results[name]["messages_per_s"] / bare_rate
        for name in ("line3 x1", "line3 x3")
    }
    ratios["line3 x1 events/msg / bare events/msg"] = (
        results["line3 x1"]["events_per_message"] / results["bare"]["events_per_message"]
    )

    info = machine()
    print()
    print(f"{info['cpu']}, Python {info['python']}, SimPy {info['simpy']}, numpy {info['numpy']}")
    print(f"best of {args.repeat} runs; messages = publications by the sources, warm-up included")
    print()
    print(table(results))
    print()
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    for name in ("line3 x1", "mm1"):
        p = results[name]["phases_one_replication"]
        total = sum(p.values())
        parts = ", ".join(f"{k[:-2]} {v:.3f} s ({v / total:.0%})" for k, v in p.items())
        print(f"{name} one replication: {parts}")
    for name, r in results.items():
        if r.get("row_check", "ok") != "ok":
            print(f"WARNING {name}: {r['row_check']}")

    output: dict[str, Any] = {"machine": info, "repeat": args.repeat, "results": results}
    output["ratios"] = ratios
    if args.profile:
        text, rows = profile(args.scenarios)
        print()
        print("cProfile, one replication of line3-intranet (build, run, records), by own time:")
        print(text)
        output["profile_top"] = rows
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(output, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
