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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim import __version__
from sim.live import LiveError
from sim.outputs import FORMATS, OutputError, inside, prepare
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.units import UnitError, format_time, parse_time

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

# Only what the parser needs is imported here, so that `factory5g --help` starts at once; each
# command imports what it uses (the scenario loader, the engine, paho-mqtt) when it runs.


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """``sim.scenario.loader.load_scenario``, imported when a command reads a scenario."""
    from sim.scenario.loader import load_scenario as load

    return load(path, overrides)


COMMAND_LINE_FILE = "factory5g"  # what a problem with an option names instead of a file
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
DEFAULT_MAX_EVENTS = 50_000_000  # about six minutes at sim.cost's 150,000 events a second

_EPILOG = """\
examples:
  factory5g validate scenarios/*.yaml
  factory5g run line3-intranet.yaml --replications 5
  factory5g compare line3-intranet.yaml line3-5g-parametric.yaml
"""


# ------------------------------------------------------------------------------------ validate


def summary(scenario: Scenario) -> str:
    """One line saying what a scenario contains and what running it will cost."""
    from sim.cost import estimate

    machines = sum(machine.count for machine in scenario.machines.values())
    streams = sum(machine.count * len(machine.streams) for machine in scenario.machines.values())
    rate = sum(
        machine.count * stream.rate
        for machine in scenario.machines.values()
        for stream in machine.streams.values()
    )

    def described(name: str, net: Any) -> str:
        outages = len(getattr(net, "outages", ()))
        down = f", {outages} outage{'s' if outages > 1 else ''}" if outages else ""
        return f"{name} ({net.kind}{down})"

    networks = ", ".join(described(name, net) for name, net in scenario.networks.items())
    brokers = ", ".join(scenario.brokers)
    classes = len(scenario.machines)
    replications = scenario.replications
    study = ""
    if scenario.sweep is not None:
        from sim.scenario.sweeps import points

        count = len(points(scenario.sweep.fields(), scenario.sweep.zip))
        study = f"; a sweep of {count} point{'s' if count != 1 else ''} (factory5g sweep)"
    return (
        f"{scenario.name} - {classes} machine class{'es' if classes != 1 else ''} "
        f"({machines} machine{'s' if machines != 1 else ''}), "
        f"{streams} stream{'s' if streams != 1 else ''} ({rate:.6g} msg/s), "
        f"networks: {networks or 'none'}; brokers: {brokers}; "
        f"{format_time(scenario.duration)} simulated, "
        f"{replications} replication{'s' if replications != 1 else ''}; "
        f"{estimate(scenario).describe()}{study}; {_engine_said(scenario)}"
    )


def _engine_said(scenario: Scenario) -> str:
    """Which engine will run the scenario, and, for the event engine, why not the fast one."""
    from sim.engines import choose

    name, why = choose(scenario)
    if name == "fast":
        return "the fast engine runs it"
    return f"the event engine runs it ({why})" if scenario.engine == "auto" else "engine: event"


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


def _schema(args: argparse.Namespace) -> int:
    from sim.scenario.json_schema import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
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
    return {
        "seed": args.seed,
        "replications": args.replications,
        "duration": args.duration,
        "engine": getattr(args, "engine", None),
    }


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


def _within_budget(loaded: list[tuple[Scenario, Path]], args: argparse.Namespace) -> None:
    """Refuse, before anything runs, a run whose estimate is beyond ``--max-events`` or this
    machine's free memory, unless ``--force``."""
    import psutil

    from sim.cost import EVENTS_PER_SECOND, estimate

    if args.force:
        return
    free = psutil.virtual_memory().available
    problems = []
    for scenario, source in loaded:
        cost = estimate(scenario, samples=getattr(args, "samples", False))
        from sim.engines import choose

        fast = choose(scenario)[0] == "fast"
        allowed = args.max_events / EVENTS_PER_SECOND  # the wall time --max-events stands for
        if (cost.fast_seconds > allowed) if fast else (cost.events > args.max_events):
            took = (
                f"about {format_time(cost.fast_seconds)} on the fast engine"
                if fast
                else cost.describe()
            )
            problems.append(
                f"{source}: this run would take {took}, more than --max-events "
                f"{args.max_events:,} allows; shorten the duration or the replications, or pass "
                "--force (or a larger --max-events)"
            )
        elif cost.memory_bytes > 0.8 * free:
            problems.append(
                f"{source}: this run would need {cost.describe()}, more than the "
                f"{free / 2**30:.1f} GiB of memory free here; pass --force to try anyway"
            )
    if problems:
        raise ScenarioError(problems=[Problem(None, None, text) for text in problems])


def _printer(args: argparse.Namespace) -> Any:
    from sim.report import Printer

    return Printer(format=args.format, wide=args.wide, quiet=args.quiet)


@contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    """Where the command's replications run: here, or on Dask (``--workers``, ``--scheduler``)."""
    from sim.studies.executor import ClusterError, executor

    try:
        chosen = executor(args.workers, args.scheduler)
    except ClusterError as error:
        raise OutputError(f"--scheduler: {error}") from None
    with chosen:
        yield chosen


def _run(args: argparse.Namespace) -> int:
    ((scenario, source),) = loaded = _load_all([args.file], _overrides(args))
    _within_budget(loaded, args)
    from sim.report import run_command

    out = prepare(Path(args.out) if args.out else inside(Path("results"), scenario.name))
    with _executor(args) as executor:
        return run_command(
            scenario=scenario,
            source=source,
            out=out,
            printer=_printer(args),
            samples=args.samples,
            report=args.report,
            executor=executor,
        )


def _compare(args: argparse.Namespace) -> int:
    scenarios = _load_all([args.baseline, *args.upgrades], _overrides(args))
    names = [scenario.name for scenario, _ in scenarios]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise OutputError(
            f"compare: more than one scenario is named {', '.join(twice)}; each scenario's "
            "results go to a folder of its name, so give them different names"
        )
    _within_budget(scenarios, args)
    from sim.report import compare_command

    default = inside(Path("results"), f"compare-{scenarios[0][0].name}")
    out = prepare(Path(args.out) if args.out else default)
    with _executor(args) as executor:
        return compare_command(
            scenarios=scenarios,
            out=out,
            printer=_printer(args),
            samples=args.samples,
            report=args.report,
            executor=executor,
        )


def _capacity(args: argparse.Namespace) -> int:
    from sim.studies.capacity import Condition, check
    from sim.study_commands import capacity_command

    try:
        condition = Condition.parse(args.until, args.rows)
    except ValueError as error:
        raise ScenarioError(f"--until: {error}", file=COMMAND_LINE_FILE) from None
    try:
        plan = check(
            Path(args.file), args.grow, args.from_, args.to, args.step, condition, _overrides(args)
        )
    except ValueError as error:
        raise ScenarioError(str(error), file=COMMAND_LINE_FILE) from None
    default = inside(Path("results"), f"capacity-{plan.base.name}")
    out = prepare(Path(args.out) if args.out else default)
    with _executor(args) as executor:
        try:
            return capacity_command(
                plan,
                args.from_,
                args.to,
                out,
                _printer(args),
                executor,
                args.replications,
                args.max_replications,
                report=args.report,
            )
        except ValueError as error:
            raise ScenarioError(str(error), file=COMMAND_LINE_FILE) from None


def _sweep(args: argparse.Namespace) -> int:
    from sim.studies.sweep import plan

    vary = None
    if args.vary:
        vary = {}
        for text in args.vary:
            path, equals, values = text.partition("=")
            if not equals or not path.strip() or not values.strip():
                raise ScenarioError(
                    f"--vary {text!r}: write PATH=VALUES, like machines.robot.count=4..64x2 or "
                    "networks.plant-5g.tdd_pattern=DDDSU,DSUUU",
                    file=COMMAND_LINE_FILE,
                )
            vary[path.strip()] = values.strip()
    sweep = plan(args.file, vary, True if args.zip else None, _overrides(args))
    if sweep.points:  # each point is a run: the costliest must be within the budget
        from sim.cost import estimate

        costliest = max(sweep.points, key=lambda point: estimate(point.scenario).events)
        _within_budget([(costliest.scenario, Path(args.file))], args)
    from sim.study_commands import sweep_command

    name = sweep.points[0].scenario.name if sweep.points else "sweep"
    out = prepare(Path(args.out) if args.out else inside(Path("results"), f"sweep-{name}"))
    with _executor(args) as executor:
        return sweep_command(
            sweep,
            out,
            _printer(args),
            executor,
            figure=args.plot,
            report=args.report,
            samples=args.samples,
            rows=args.rows or "*",
        )


def _names(text: str | None) -> list[str] | None:
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


def _bench(args: argparse.Namespace) -> int:
    from sim.bench_commands import bench_command
    from sim.studies.bench import discover

    folder = Path(args.suite)
    entries = discover(
        folder, _names(args.plants), _names(args.options), args.quick, _overrides(args)
    )
    _within_budget([(entry.scenario, entry.path) for entry in entries], args)
    name = "bench-quick" if args.quick else "bench"
    out = prepare(Path(args.out) if args.out else inside(Path("results"), name))
    decide = None if args.quick or args.duration else args.decide_within
    with _executor(args) as executor:
        return bench_command(
            entries,
            str(folder),
            args.quick,
            out,
            _printer(args),
            executor,
            decide_within=decide,
            overrides=_overrides(args),
        )


def _audit(args: argparse.Namespace) -> int:
    from sim.live.audit import AuditError, audit, shipped_configs, standing

    paths = [Path(p) for p in args.configs] or shipped_configs(Path())
    if not paths:
        raise OutputError(
            "audit: no configuration given and no brokers/*.conf here (run it from the "
            "repository's top folder, or name the files)"
        )
    try:
        found = audit(paths)
    except AuditError as error:
        raise OutputError(str(error)) from None
    if args.format == "json":
        import json

        print(json.dumps(
            [{"file": str(path), "standing": standing(findings),
              "findings": [f.to_dict() for f in findings]} for path, findings in found.items()],
            indent=2,
        ))  # fmt: skip
    else:
        for findings in found.values():
            for finding in findings:
                if finding.severity != "info" or args.all:
                    print(finding)
        for path, findings in found.items():
            counts = ", ".join(
                f"{sum(f.severity == s for f in findings)} {s}" for s in ("high", "medium", "low")
            )
            print(f"{path}: {standing(findings)} ({counts})")
    return EXIT_FAILED if any(standing(f) == "fails" for f in found.values()) else 0


def _report(args: argparse.Namespace) -> int:
    from sim.html_report import write_report

    folder = Path(args.dir)
    written = ("comparison.json", "summary.json", "sweep.json", "capacity.json", "scorecard.json")
    if not any((folder / name).is_file() for name in written):
        raise OutputError(
            f"{folder}: no comparison.json, summary.json, sweep.json, capacity.json or "
            "scorecard.json here (write them with factory5g compare, run, sweep, capacity or "
            "bench --out DIR)"
        )
    out = Path(args.out) if args.out else None
    path = write_report(folder, out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------ brokers, probe


def _brokers_up(args: argparse.Namespace) -> int:
    from sim.live.brokers import brokers_up, default_state_dir, wait_for_bridge

    broker_set = brokers_up(
        state_dir=args.state_dir,
        secure=args.secure,
        embedded=args.embedded,
        edge_port=args.edge_port,
        central_port=args.central_port,
        config_dir=args.config_dir,
        certs_dir=args.certs,
        timeout=args.timeout,
    )
    kind = "Mosquitto" if broker_set.kind == "mosquitto" else "embedded broker (amqtt)"
    for record in broker_set.processes:
        what = {
            "edge": f"{kind}, bridges plant/# to central at QoS 1",
            "central": kind,
            "bridge": "Python bridge: plant/# from edge to central at QoS 1",
        }[record.name]
        print(f"{record.name:<8} {record.url or '':<28} pid {record.pid:<8} {what}")
    if not wait_for_bridge(broker_set):
        print(
            "warning: the edge's bridge has not connected to the central broker yet; see the logs",
            file=sys.stderr,
        )
    if broker_set.secure:
        print(
            f"TLS CA: {broker_set.ca_file}; users plant, app, bridge, probe with the development "
            "passwords of brokers/README.md"
        )
    state = Path(args.state_dir) if args.state_dir else default_state_dir()
    down = "factory5g brokers down" + (f" --state-dir {args.state_dir}" if args.state_dir else "")
    print(f"logs and state in {state}/; stop them with: {down}")
    return EXIT_OK


def _brokers_down(args: argparse.Namespace) -> int:
    from sim.live.brokers import brokers_down

    stopped = brokers_down(args.state_dir)
    if not stopped:
        print("no brokers were running")
    for record in stopped:
        print(f"stopped {record.name} (pid {record.pid})")
    return EXIT_OK


def _brokers_status(args: argparse.Namespace) -> int:
    from sim.live.brokers import brokers_status

    broker_set, alive = brokers_status(args.state_dir)
    if broker_set is None:
        print("no brokers started by `factory5g brokers up` here")
        return EXIT_FAILED
    for record in broker_set.processes:
        state = "running" if alive[record.name] else "NOT RUNNING"
        print(
            f"{record.name:<8} {record.url or '':<28} pid {record.pid:<8} {state}  log {record.log}"
        )
    return EXIT_OK if all(alive.values()) else EXIT_FAILED


def _brokers_certs(args: argparse.Namespace) -> int:
    from sim.live.brokers import find_config_dir
    from sim.live.credentials import DevCertificates, make_dev_certificates

    out = Path(args.out) if args.out else find_config_dir(args.config_dir) / "secure" / "certs"
    if DevCertificates(out).complete() and not args.force:
        print(f"{out} already holds a CA and certificates; --force makes new ones", file=sys.stderr)
        return EXIT_FAILED
    certs = make_dev_certificates(out, hosts=["localhost", "127.0.0.1", "::1", *args.host])
    for path in (
        certs.ca,
        certs.server_cert,
        certs.server_key,
        certs.client_cert,
        certs.client_key,
    ):
        print(f"wrote {path}")
    print("development only: the CA key is beside the certificates")
    return EXIT_OK


def _brokers_passwd(args: argparse.Namespace) -> int:
    from sim.live.brokers import find_config_dir
    from sim.live.credentials import DEV_USERS, write_password_file

    users: dict[str, str] = {}
    for pair in args.users:
        user, sep, password = pair.partition(":")
        if not sep or not user or not password:
            print(
                f"factory5g brokers passwd: expected USER:PASSWORD, got {pair!r}", file=sys.stderr
            )
            return EXIT_BAD_INPUT
        users[user] = password
    out = Path(args.out) if args.out else find_config_dir(args.config_dir) / "secure" / "passwd"
    write_password_file(out, users or DEV_USERS)
    print(f"wrote {out} (users: {', '.join(users or DEV_USERS)})")
    return EXIT_OK


def _size(text: str) -> int:
    from sim.scenario.units import parse_size

    try:
        return int(text) if text.strip().isdigit() else round(parse_size(text))
    except UnitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _rate(text: str) -> float:
    from sim.scenario.units import parse_frequency

    try:
        value = float(text)
    except ValueError:
        try:
            value = parse_frequency(text)
        except UnitError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return value


def _probe(args: argparse.Namespace) -> int:
    from sim.live.probe import ProbeSettings, broker_yaml, probe, table

    url = parse_broker_url(args.url).with_credentials(
        username=args.username,
        password_file=args.password_file,
        ca_file=args.tls_ca,
        cert_file=args.tls_cert,
        key_file=args.tls_key,
    )
    settings = ProbeSettings(
        qos=args.qos,
        rate=args.rate,
        size=args.size,
        duration=args.duration,
        clients=args.clients,
        window=args.window,
        fanout=not args.no_fanout,
        large_size=args.large_size,
    )
    try:
        settings.check()
    except ValueError as error:
        print(f"factory5g probe: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    log = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    result = probe(
        url,
        settings,
        broker_pid=args.broker_pid,
        config=args.config,
        state_dir=args.state_dir,
        log=log,
    )
    text = broker_yaml(result, args.name)
    if args.out is None:
        if not args.quiet:
            print(table(result), file=sys.stderr)
        sys.stdout.write(text)
        return EXIT_OK
    Path(args.out).write_text(text, encoding="utf-8")
    if not args.quiet:
        print(table(result))
        print(f"wrote {args.out}")
    return EXIT_OK


def parse_broker_url(text: str):
    """``sim.live.mqtt.parse_broker_url``, imported when a live command runs."""
    from sim.live.mqtt import parse_broker_url as parse

    return parse(text)


def _add_brokers(commands: argparse._SubParsersAction) -> None:
    brokers = commands.add_parser(
        "brokers",
        help="start and stop the edge and central MQTT brokers of brokers/ on this machine",
        description="Run the edge and central brokers of brokers/ (the edge bridging plant/# to "
        "the central broker) in the background on 127.0.0.1: Mosquitto when it is installed, "
        "otherwise the embedded broker (amqtt, the 'embedded' extra) with a Python bridge.",
    )
    actions = brokers.add_subparsers(dest="action", metavar="ACTION")

    def state_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--state-dir",
            metavar="DIR",
            help="where the state file, rendered configurations and logs go "
            "(default: $FACTORY5G_STATE_DIR or .factory5g)",
        )

    up = actions.add_parser(
        "up",
        help="start the brokers in the background",
        description="Start the central broker, then the edge broker and its bridge, wait until "
        "they accept connections, print their URLs and record them for 'brokers down'. Ports "
        "default to those of the files (1883/1884, 8883/8884 with --secure).",
    )
    up.add_argument("--secure", action="store_true", help="TLS, passwords and ACLs (Mosquitto)")
    up.add_argument(
        "--embedded", action="store_true", help="the embedded broker even if Mosquitto is installed"
    )
    up.add_argument("--edge-port", type=int, metavar="P", help="edge broker port")
    up.add_argument("--central-port", type=int, metavar="P", help="central broker port")
    up.add_argument("--config-dir", metavar="DIR", help="the brokers/ folder (default: ./brokers)")
    up.add_argument(
        "--certs",
        metavar="DIR",
        help="development certificates for --secure, made there if missing (default: STATE_DIR/certs)",
    )
    up.add_argument("--timeout", type=float, default=10.0, metavar="S", help=argparse.SUPPRESS)
    state_option(up)
    up.set_defaults(handler=_brokers_up)

    down = actions.add_parser("down", help="stop the brokers 'brokers up' started")
    state_option(down)
    down.set_defaults(handler=_brokers_down)

    status = actions.add_parser("status", help="say whether they still run")
    state_option(status)
    status.set_defaults(handler=_brokers_status)

    certs = actions.add_parser(
        "certs",
        help="make a development CA, server and client certificates",
        description="Make a development CA (ECDSA P-256), a server certificate for localhost, "
        "127.0.0.1 and ::1, and a client certificate, for the secured brokers. Not for a plant: "
        "the CA key is written beside them.",
    )
    certs.add_argument("--out", metavar="DIR", help="default: brokers/secure/certs")
    certs.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME",
        help="another name or address for the server certificate",
    )
    certs.add_argument("--force", action="store_true", help="replace existing certificates")
    certs.add_argument("--config-dir", metavar="DIR", help=argparse.SUPPRESS)
    certs.set_defaults(handler=_brokers_certs)

    passwd = actions.add_parser(
        "passwd",
        help="write a Mosquitto password file",
        description="Write a Mosquitto 2 password file (PBKDF2-SHA512, as mosquitto_passwd) "
        "with the given users, or the development users plant, app, bridge and probe.",
    )
    passwd.add_argument("users", nargs="*", metavar="USER:PASSWORD")
    passwd.add_argument("--out", metavar="FILE", help="default: brokers/secure/passwd")
    passwd.add_argument("--config-dir", metavar="DIR", help=argparse.SUPPRESS)
    passwd.set_defaults(handler=_brokers_passwd)

    def usage(args: argparse.Namespace) -> int:
        brokers.print_help(sys.stderr)
        return EXIT_BAD_INPUT

    brokers.set_defaults(handler=usage)


def _add_probe(commands: argparse._SubParsersAction) -> None:
    probe = commands.add_parser(
        "probe",
        help="measure a real MQTT broker and write a scenario broker block",
        description="Measure a real broker's publish-to-deliver latency at a low rate and its "
        "saturation throughput with one and two subscribers, and with one subscriber at a large "
        "payload, then derive service_time, fanout_time and per_byte_time for a scenario's "
        "brokers: block. Prints a table; writes the block as YAML to --out or stdout. Every phase "
        "lasts --duration; all traffic goes to URL only.",
    )
    probe.add_argument(
        "url", metavar="URL", help="mqtt://[user[:password]@]host[:port] or mqtts://..."
    )
    probe.add_argument(
        "--qos", type=int, choices=(0, 1, 2), default=0, help="QoS of every message (default 0)"
    )
    probe.add_argument(
        "--rate",
        type=_rate,
        default=200.0,
        metavar="R",
        help="messages per second in the latency phase (default 200)",
    )
    probe.add_argument(
        "--size", type=_size, default=64, metavar="BYTES", help="payload size (default 64)"
    )
    probe.add_argument(
        "--duration",
        type=_duration,
        default=2.0,
        metavar="T",
        help="length of each of the four phases (default 2s)",
    )
    probe.add_argument(
        "--clients",
        type=int,
        default=1,
        metavar="N",
        help="publisher connections in the saturation phases (default 1)",
    )
    probe.add_argument(
        "--window",
        type=int,
        default=100,
        metavar="W",
        help="messages in flight in the saturation phases (default 100)",
    )
    probe.add_argument(
        "--no-fanout",
        action="store_true",
        help="skip the 2-subscriber phase; split the cost half and half",
    )
    probe.add_argument(
        "--large-size",
        type=_size,
        default=16384,
        metavar="BYTES",
        help="payload size of the 1-subscriber phase that measures per_byte_time (default 16384; "
        "0 skips it and leaves per_byte_time out of the block)",
    )
    probe.add_argument("--name", default="edge", help="broker name in the block (default edge)")
    probe.add_argument("--out", metavar="FILE", help="write the YAML block here instead of stdout")
    probe.add_argument(
        "--config", metavar="FILE", help="the broker's Mosquitto file, for max_queued"
    )
    probe.add_argument(
        "--broker-pid",
        type=int,
        metavar="PID",
        help="the broker's process, for its CPU time (default: found from the port when local)",
    )
    probe.add_argument("--username", help="user name (overrides the URL's)")
    probe.add_argument(
        "--password-file", metavar="FILE", help="file whose first line is the password"
    )
    probe.add_argument(
        "--tls-ca", metavar="FILE", help="CA certificate to check an mqtts:// broker"
    )
    probe.add_argument("--tls-cert", metavar="FILE", help="client certificate")
    probe.add_argument("--tls-key", metavar="FILE", help="client key")
    probe.add_argument("--state-dir", metavar="DIR", help=argparse.SUPPRESS)
    probe.add_argument("--quiet", action="store_true", help="print nothing but the YAML and errors")
    probe.set_defaults(handler=_probe)


# ---------------------------------------------------------------------------------- live, bridge


def _stop_on_signals():
    """An event set by SIGINT / SIGTERM (instead of KeyboardInterrupt), so that the command can
    stop cleanly and report; returns the event and a function restoring the old handlers."""
    import signal
    import threading

    stop = threading.Event()
    old = {}
    if threading.current_thread() is threading.main_thread():  # signals go to the main thread
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, lambda *_: stop.set())

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)

    return stop, restore


def _secure_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", help="user name (overrides the URL's)")
    parser.add_argument(
        "--password-file", metavar="FILE", help="file whose first line is the password"
    )
    parser.add_argument(
        "--tls-ca", metavar="FILE", help="CA certificate to check an mqtts:// broker"
    )
    parser.add_argument("--tls-cert", metavar="FILE", help="client certificate")
    parser.add_argument("--tls-key", metavar="FILE", help="client key")


def _url_with(text: str, args: argparse.Namespace):
    return parse_broker_url(text).with_credentials(
        username=args.username,
        password_file=args.password_file,
        ca_file=args.tls_ca,
        cert_file=args.tls_cert,
        key_file=args.tls_key,
    )


def _live(args: argparse.Namespace) -> int:
    from sim.live.live import format_live, run_live

    scenario = load_scenario(args.scenario)
    url = _url_with(args.broker, args)
    if args.speed <= 0:
        print("factory5g live: --speed must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    log = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    stop, restore = _stop_on_signals()
    try:
        result = run_live(
            scenario,
            url,
            duration=args.for_,
            speed=args.speed,
            seed=args.seed,
            drain=args.drain,
            late_after=args.late,
            stop=stop,
            log=log,
        )
    finally:
        restore()
    print(format_live(result))
    return EXIT_OK


def _bridge(args: argparse.Namespace) -> int:
    from sim.live.bridge import format_bridge, run_bridge

    scenario = load_scenario(args.scenario)
    if args.network not in scenario.networks:
        from difflib import get_close_matches

        known = ", ".join(scenario.networks) or "none"
        close = get_close_matches(args.network, list(scenario.networks), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ScenarioError(
            f"no network '{args.network}' in the scenario (its networks: {known}){hint}",
            file=args.scenario,
            path="--network",
        )
    source = _url_with(args.from_, args)
    target = _url_with(args.to, args)
    log = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    stop, restore = _stop_on_signals()
    try:
        stats = run_bridge(
            scenario,
            args.network,
            source,
            target,
            args.topics,
            duration=args.for_,
            qos=args.qos,
            seed=args.seed,
            stop=stop,
            log=log,
        )
    finally:
        restore()
    print(format_bridge(stats))
    return EXIT_OK


def _add_live(commands: argparse._SubParsersAction) -> None:
    live = commands.add_parser(
        "live",
        help="publish a scenario's machines to a real MQTT broker in real time",
        description="Run the scenario's streams in real time (times and sizes drawn as the "
        "simulator draws them) and publish every message to the broker as JSON with ts (epoch "
        "seconds), seq, the machine id and plausible drifting values, on the scenario's topics "
        "with its QoS. A subscriber of its own measures what the broker delivers back: a status "
        "line every 2 s, and on exit a table per stream of sent, received, lost, late and "
        "p50/p99/max delay, saying whether the broker kept up.",
    )
    live.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    live.add_argument(
        "--broker", required=True, metavar="URL", help="mqtt://[user[:password]@]host[:port]"
    )
    live.add_argument(
        "--for",
        dest="for_",
        type=_duration,
        metavar="DURATION",
        help="how long to run, in scenario time (default: the scenario's duration)",
    )
    live.add_argument(
        "--speed", type=float, default=1.0, metavar="X", help="X times faster than real time"
    )
    live.add_argument("--seed", type=int, metavar="N", help="override the scenario's seed")
    live.add_argument(
        "--drain",
        type=_duration,
        default=3.0,
        metavar="T",
        help="at the end, wait up to T for messages still on their way (default 3s); what has "
        "not come back by then is reported lost",
    )
    live.add_argument(
        "--late",
        type=_duration,
        default=1.0,
        metavar="T",
        help="a message received more than T after it was sent is reported late (default 1s)",
    )
    _secure_options(live)
    live.add_argument("--quiet", action="store_true", help="print nothing but the table and errors")
    live.set_defaults(handler=_live)

    bridge = commands.add_parser(
        "bridge",
        help="bridge two real brokers through a simulated network of a scenario",
        description="Subscribe to TOPICS on the --from broker and republish every message on the "
        "--to broker, unchanged (topic, payload, QoS, retain), when the scenario's network model "
        "NAME says it comes out (its latency, rate and loss). Runs for --for or until Ctrl-C.",
    )
    bridge.add_argument("--from", dest="from_", required=True, metavar="URL", help="source broker")
    bridge.add_argument("--to", required=True, metavar="URL", help="target broker")
    bridge.add_argument(
        "--topics", nargs="+", required=True, metavar="FILTER", help="topic filters to carry"
    )
    bridge.add_argument("--scenario", required=True, metavar="FILE", help="scenario YAML file")
    bridge.add_argument(
        "--network", required=True, metavar="NAME", help="the scenario's network to carry through"
    )
    bridge.add_argument(
        "--for", dest="for_", type=_duration, metavar="DURATION", help="how long to run"
    )
    bridge.add_argument(
        "--qos", type=int, choices=(0, 1, 2), default=1, help="QoS of the subscription (default 1)"
    )
    bridge.add_argument("--seed", type=int, metavar="N", help="override the scenario's seed")
    _secure_options(bridge)
    bridge.add_argument("--quiet", action="store_true", help="print nothing but the summary")
    bridge.set_defaults(handler=_bridge)


# -------------------------------------------------------------------------------------- parser


def _duration(text: str) -> float:
    try:
        seconds = parse_time(text)
    except UnitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0, got {text!r}")
    return seconds


def _debug_option(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="on an unexpected failure, show the Python traceback instead of one line",
    )


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
    parser.add_argument(
        "--engine",
        choices=("auto", "event", "fast"),
        help="which engine runs it: auto (the file's default: the fast engine where every part "
        "of the scenario is within its scope, else the event engine; summary.json says which "
        "ran and why), event, or fast",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="how the result is printed: a table (default), JSON or CSV of the rows (SI units, "
        "the columns of streams.csv), or a markdown table; progress and notes go to stderr",
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="every column in the table, however narrow the terminal (by default a table wider "
        "than the terminal, or than COLUMNS, shows its main columns only)",
    )
    parser.add_argument(
        "--max-events",
        type=int,
        default=DEFAULT_MAX_EVENTS,
        metavar="N",
        help=f"refuse a run estimated above N SimPy events (default {DEFAULT_MAX_EVENTS:,}, about "
        "six minutes); validate prints each scenario's estimate",
    )
    parser.add_argument(
        "--force", action="store_true", help="run even above --max-events or the free memory"
    )
    parser.add_argument(
        "--samples",
        action="store_true",
        help="keep every delivered copy exactly and write them (publish and delivery time, "
        "latency) as samples.parquet, to redraw distributions later without running again; "
        "without it a row keeps at most 262,144 copies per replication and reports longer "
        "runs' percentiles from its histogram (within 0.39 %%)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write report.html: one self-contained page with verdicts, changes, CCDFs",
    )
    _executor_options(parser)
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    # SUPPRESS: a command's own default must not undo `factory5g --debug COMMAND`
    _debug_option(parser, argparse.SUPPRESS)


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of worker processes, got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least 1, got {count}")
    return count


def _executor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="run the replications on a local Dask cluster of N worker processes (default 1: "
        "in this process); the figures are the same for any N",
    )
    parser.add_argument(
        "--scheduler",
        metavar="URL",
        help="submit the replications to an existing Dask cluster, e.g. tcp://host:8786 (its "
        "workers need this factory5g version installed)",
    )


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
    _debug_option(parser, False)
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

    audit = commands.add_parser(
        "audit",
        help="check Mosquitto configuration files for open doors",
        description="Check Mosquitto configuration files (default brokers/*.conf and "
        "brokers/secure/*.conf) and the password, key and ACL files they name: anonymous access, "
        "plaintext listeners beyond loopback, missing or over-broad ACLs (write access to #), "
        "password and key files others can read, TLS older than 1.2, missing connection and "
        "queue limits. Prints each finding with its severity, file and line, then each file's "
        "standing (passes, development only, needs attention, fails). Exit status 1 if a file "
        "has a high finding, 2 if one cannot be read.",
    )
    audit.add_argument("configs", nargs="*", metavar="CONFIG", help="mosquitto.conf files")
    audit.add_argument("--format", choices=("table", "json"), default="table")
    audit.add_argument("--all", action="store_true", help="also print the info findings")
    audit.set_defaults(handler=_audit)

    bench = commands.add_parser(
        "bench",
        help="run the benchmark suite of reference plants and print its scorecard",
        description="Run every reference plant of a benchmark suite (default "
        "scenarios/benchmarks: one folder per plant, one file per network option) and print the "
        "scorecard: a row per plant, a column per option, each cell the verdict of the plant's "
        "requirement targets with the worst p99, availability and the busiest network's "
        "utilisation; then every target with its margin, and what each plant cost to simulate. "
        "Writes scorecard.json, scorecard.csv, report.html, catalogue.md and each run's results; "
        "every replication is kept in DIR/store, so a second run computes only what changed.",
    )
    bench.add_argument(
        "suite",
        nargs="?",
        default="scenarios/benchmarks",
        metavar="SUITE_OR_FOLDER",
        help="a suite folder, or one plant's folder (default scenarios/benchmarks)",
    )
    bench.add_argument("--plants", metavar="A,B", help="only these plants (folder names)")
    bench.add_argument("--options", metavar="X,Y", help="only these options (file names)")
    bench.add_argument(
        "--quick",
        action="store_true",
        help="each plant for its card's quick time (a few seconds) with 2 replications: the "
        "whole suite in a few minutes, most many-nines targets left undecided",
    )
    bench.add_argument(
        "--decide-within",
        type=_duration,
        default=60.0,
        metavar="T",
        help="in the full run, a plant with undecided targets runs again, once, long enough to "
        "decide the most demanding of them whose run is estimated to take at most T of compute "
        "(default 60s; with --duration, none does); the others say how long a run would need",
    )
    _run_options(bench)
    bench.set_defaults(handler=_bench)

    sweep = commands.add_parser(
        "sweep",
        help="run a scenario at every point of a grid of field values",
        description="Run a scenario at every point of a grid (or, with --zip, a zip) of field "
        "values: --vary PATH=VALUES names a field by its dotted path (machines.robot.count, "
        "networks.plant-5g.tdd_pattern) and its values as a list (4,8,16; DDDSU,DSUUU; 1ms,2ms) "
        "or a range (4..64x2 doubles, 10..100+10 adds; ends may carry units). Without --vary the "
        "file's sweep: block is used. Every point is validated first; each replication's result "
        "is kept in DIR/store, so running the same sweep again (after Ctrl-C, or with more "
        "points) computes only what is missing. Writes sweep.csv, sweep.parquet (one row per "
        "point x stream x subscriber), sweep.json, sweep.png and each point's results.",
    )
    sweep.add_argument("file", metavar="SCENARIO", help="scenario or study YAML file")
    sweep.add_argument(
        "--vary",
        action="append",
        metavar="PATH=VALUES",
        help="a field and its values; repeat for more fields (a grid of all of them)",
    )
    sweep.add_argument(
        "--zip", action="store_true", help="vary the fields together (equally many values each)"
    )
    sweep.add_argument(
        "--rows",
        metavar="GLOB",
        help="print and plot only the rows machine/stream/subscriber matching GLOB "
        "(robot/*/scada); the files hold every row",
    )
    sweep.add_argument(
        "--plot",
        default="latency_p99_s",
        choices=(
            "latency_p99_s",
            "latency_mean_s",
            "latency_p50_s",
            "latency_max_s",
            "deadline_miss_ratio",
            "availability",
            "loss_ratio",
            "throughput_msg_s",
            "throughput_bit_s",
        ),
        metavar="FIGURE",
        help="the figure sweep.png draws against the first field (default latency_p99_s; also "
        "latency_mean_s, deadline_miss_ratio, availability, loss_ratio, throughput_bit_s, ...)",
    )
    _run_options(sweep)
    sweep.set_defaults(handler=_sweep)

    capacity = commands.add_parser(
        "capacity",
        help="find the largest value of a field at which the requirements still hold",
        description="Grow one field (--grow machines.robot.count) from --from to --to and find "
        "where the condition stops holding: probe --from, double while it holds, then bisect "
        "to one --step (1 for a count). Each probe is judged by the verdict rules (95 %% "
        "intervals); an inconclusive probe is run again with twice the replications, up to "
        "--max-replications. Prints the largest value that passes and the smallest that does "
        "not, with the figures at both; writes capacity.json and the results of both.",
    )
    capacity.add_argument("file", metavar="SCENARIO", help="scenario YAML file")
    capacity.add_argument("--grow", required=True, metavar="PATH", help="the field to grow")
    capacity.add_argument("--from", dest="from_", required=True, metavar="A", help="first value")
    capacity.add_argument("--to", required=True, metavar="B", help="last value")
    capacity.add_argument(
        "--until",
        metavar="CONDITION",
        help="what must hold: every requirement of the scenario (default), a latency bound "
        "(mean<=10ms, p99<5ms), or a requirement for every row (motion-control, "
        "deadline=10ms,reliability=99.99%%)",
    )
    capacity.add_argument(
        "--rows",
        metavar="GLOB",
        help="only the rows machine/stream/subscriber matching GLOB must meet it (robot/*/scada)",
    )
    capacity.add_argument(
        "--step", metavar="S", help="resolution (default 1 for a count, 1/100 of the range else)"
    )
    capacity.add_argument(
        "--max-replications",
        type=_workers,
        default=16,
        metavar="R",
        help="replications an inconclusive probe may grow to (default 16)",
    )
    _run_options(capacity)
    capacity.set_defaults(handler=_capacity)

    report = commands.add_parser(
        "report",
        help="write one self-contained HTML report of a results folder",
        description="Write DIR/report.html from what compare or run wrote into DIR: what was "
        "simulated, the verdicts with their intervals, the changes, the latency CCDFs, the "
        "networks and the warnings, in one file to mail.",
    )
    report.add_argument("dir", metavar="DIR", help="a folder written by compare or run --out")
    report.add_argument("--out", metavar="FILE", help="where to write it (default DIR/report.html)")
    report.set_defaults(handler=_report)

    _add_brokers(commands)
    _add_probe(commands)
    _add_live(commands)
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
    except (ScenarioError, OutputError) as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    except LiveError as error:
        print(f"factory5g {args.command}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(error, ValueError) else EXIT_FAILED
    except KeyboardInterrupt as error:
        print(f"factory5g: {str(error) or 'interrupted; nothing was written'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `factory5g schema | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as error:
        if getattr(args, "debug", False):
            raise
        what = str(error) or type(error).__name__
        if type(error).__name__ not in ("SimulationError", "ConservationError"):
            what = f"{type(error).__name__}: {what}"
        print(f"factory5g {args.command}: {what} (--debug shows where)", file=sys.stderr)
        return EXIT_FAILED
