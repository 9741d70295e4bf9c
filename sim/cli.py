"""The ``factory5g`` command: validate scenarios, print their JSON Schema, run and compare them.

Exit status: 0 on success, 2 for bad input (a scenario that does not validate, a bad option value),
130 when interrupted. A problem in a scenario is printed as ``file: field.path: message``, one line
per problem, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim import __version__
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario
from sim.scenario.units import UnitError, format_time, parse_time

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_EPILOG = """\
examples:
  factory5g validate scenarios/*.yaml
  factory5g run line3-intranet.yaml --replications 5
  factory5g compare line3-intranet.yaml line3-5g-parametric.yaml
"""


# ------------------------------------------------------------------------------------ validate


def summary(scenario: Scenario) -> str:
    """One line saying what a scenario contains."""
    machines = sum(machine.count for machine in scenario.machines.values())
    streams = sum(machine.count * len(machine.streams) for machine in scenario.machines.values())
    rate = sum(
        machine.count * stream.rate
        for machine in scenario.machines.values()
        for stream in machine.streams.values()
    )
    networks = ", ".join(f"{name} ({net.kind})" for name, net in scenario.networks.items())
    brokers = ", ".join(scenario.brokers)
    classes = len(scenario.machines)
    replications = scenario.replications
    return (
        f"{scenario.name} - {classes} machine class{'es' if classes != 1 else ''} "
        f"({machines} machine{'s' if machines != 1 else ''}), "
        f"{streams} stream{'s' if streams != 1 else ''} ({rate:.6g} msg/s), "
        f"networks: {networks or 'none'}; brokers: {brokers}; "
        f"{format_time(scenario.duration)} simulated, "
        f"{replications} replication{'s' if replications != 1 else ''}"
    )


def _validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for file in args.files:
        try:
            scenario = load_scenario(file)
        except ScenarioError as error:
            print(error, file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(f"OK  {file}: {summary(scenario)}")
    return status


# -------------------------------------------------------------------------------------- schema


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, for editors and other tools."""
    schema = Scenario.model_json_schema(by_alias=True)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "factory5g scenario",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def _schema(args: argparse.Namespace) -> int:
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as error:
        print(
            f"factory5g schema: cannot write {args.out}: {error.strerror or error}", file=sys.stderr
        )
        return EXIT_FAILED
    print(f"wrote {args.out}", file=sys.stderr)
    return EXIT_OK


# -------------------------------------------------------------------------------- run, compare


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"seed": args.seed, "replications": args.replications, "duration": args.duration}


def _load_all(files: Sequence[str], overrides: dict[str, Any]) -> list[tuple[Scenario, Path]]:
    """Every scenario, or one ScenarioError listing the problems of all of them."""
    loaded: list[tuple[Scenario, Path]] = []
    problems = []
    for file in files:
        try:
            loaded.append((load_scenario(file, overrides), Path(file)))
        except ScenarioError as error:
            problems.extend(error.problems)
    if problems:
        raise ScenarioError(problems=problems)
    return loaded


def _run(args: argparse.Namespace) -> int:
    ((scenario, source),) = _load_all([args.file], _overrides(args))
    from sim.report import run_command

    out = Path(args.out) if args.out else Path("results") / scenario.name
    return run_command(scenario=scenario, source=source, out=out, quiet=args.quiet)


def _compare(args: argparse.Namespace) -> int:
    scenarios = _load_all([args.baseline, *args.upgrades], _overrides(args))
    from sim.report import compare_command

    out = Path(args.out) if args.out else Path("results") / f"compare-{scenarios[0][0].name}"
    return compare_command(scenarios=scenarios, out=out, quiet=args.quiet)


# -------------------------------------------------------------------------------------- parser


def _duration(text: str) -> float:
    try:
        seconds = parse_time(text)
    except UnitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0, got {text!r}")
    return seconds


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", help="directory for the results")
    parser.add_argument("--seed", type=int, metavar="N", help="override the scenario's seed")
    parser.add_argument(
        "--replications", type=int, metavar="R", help="override the number of replications"
    )
    parser.add_argument(
        "--duration",
        type=_duration,
        metavar="T",
        help="override the simulated time, with a unit (e.g. 10s, 500ms)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``factory5g`` command."""
    parser = argparse.ArgumentParser(
        prog="factory5g",
        description="A simulated 5G + industrial-IoT factory testbed: what happens to a plant's\n"
        "MQTT telemetry when its intranet moves to private 5G.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check scenario files and summarise them",
        description="Read each scenario file (following 'extends:'), check every field, unit and "
        "reference, and print one summary line per valid file. Problems go to stderr as "
        "'file: field.path: message'. Exit status 0 if every file is valid, 2 otherwise.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of scenario files",
        description="Print the JSON Schema (draft 2020-12) that scenario files follow, for editor "
        "completion and checking by other tools.",
    )
    schema.add_argument("--out", metavar="FILE", help="write the schema to FILE instead of stdout")
    schema.set_defaults(handler=_schema)

    run = commands.add_parser(
        "run",
        help="simulate one scenario and report per-stream delay, throughput and loss",
        description="Simulate a scenario (all its replications) and write per-stream latency "
        "percentiles, throughput, loss and deadline misses. --seed, --replications and "
        "--duration override the file's values.",
    )
    run.add_argument("file", metavar="FILE", help="scenario YAML file")
    _run_options(run)
    run.set_defaults(handler=_run)

    compare = commands.add_parser(
        "compare",
        help="simulate a baseline and its upgrades and compare them stream by stream",
        description="Simulate a baseline scenario and one or more upgrades of it (for example the "
        "plant intranet and the same line on private 5G) with the same seeds, and compare "
        "delay, throughput and availability per stream.",
    )
    compare.add_argument("baseline", metavar="BASELINE", help="scenario YAML file of today's plant")
    compare.add_argument(
        "upgrades", nargs="+", metavar="UPGRADE", help="scenario YAML files to compare"
    )
    _run_options(compare)
    compare.set_defaults(handler=_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``factory5g`` command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error already printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return args.handler(args)
    except ScenarioError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModuleNotFoundError as error:
        if error.name != "sim.report":
            raise
        print(f"factory5g: the simulation engine is not installed ({error})", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("factory5g: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `factory5g schema | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
