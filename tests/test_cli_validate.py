"""The ``factory5g`` command line (sim.cli): validate, schema, and the hand-off of run and compare."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FIXTURES, SHARED_CONTRACT, factory5g

from sim.cli import main
from sim.scenario.schema import NETWORK_KINDS, Scenario

BASELINE = FIXTURES / "line3-intranet.yaml"
VALID = ["line3-intranet.yaml", "line3-5g-parametric.yaml", "mm1.yaml"]


def extending(directory: Path, change: str, name: str = "broken.yaml") -> Path:
    """A scenario that extends a copy of the line 3 baseline with one change."""
    (directory / "line3-intranet.yaml").write_text(BASELINE.read_text(encoding="utf-8"))
    path = directory / name
    path.write_text("extends: line3-intranet.yaml\n" + change, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ validate


@pytest.mark.parametrize(
    "folder",
    [
        pytest.param(FIXTURES, id="the tests' copies"),
        pytest.param(
            SHARED_CONTRACT,
            id="the workspace contract",
            marks=pytest.mark.skipif(
                not SHARED_CONTRACT.is_dir(),
                reason="../shared/contract exists only in the developers' workspace",
            ),
        ),
    ],
)
def test_validate_accepts_the_contract_scenarios_one_line_each(folder: Path) -> None:
    """Valid files exit 0 and print one summary line per file, in the order given."""
    result = factory5g("validate", *(folder / name for name in VALID))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(VALID)
    for line, name in zip(lines, VALID, strict=True):
        assert line.startswith(f"OK  {folder / name}: {name.removesuffix('.yaml')} - ")


def test_validate_summary_counts_what_the_file_declares(capsys: pytest.CaptureFixture[str]) -> None:
    """Line 3: 4 classes of 24+8+2+200 machines with one stream each; two networks, two brokers.

    Offered load: 24 x 100/s + 8 x 250/s + 2 x 10/s + 200 x 2/s = 4820 msg/s.
    """
    assert main(["validate", str(BASELINE)]) == 0
    line = capsys.readouterr().out.strip()
    assert "4 machine classes (234 machines)" in line
    assert "234 streams (4820 msg/s)" in line
    assert "networks: plant-lan (ethernet), wan (parametric)" in line
    assert "brokers: edge, central" in line
    assert "30 s simulated, 3 replications" in line


def test_validate_reports_each_bad_file_and_still_checks_the_rest(tmp_path: Path) -> None:
    """One bad file among good ones: exit 2, the good ones still get their OK line."""
    bad = extending(tmp_path, "seed: -1\n")
    result = factory5g("validate", BASELINE, bad, FIXTURES / "mm1.yaml")
    assert result.returncode == 2
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        f"OK  {BASELINE}",
        f"OK  {FIXTURES / 'mm1.yaml'}",
    ]
    assert result.stderr.startswith(f"{bad}: seed: must not be negative")


BROKEN = {
    "misspelt key": (
        "networks:\n  plant-lan: {hopps: 3}\n",
        ["networks.plant-lan.hopps", "unknown key 'hopps'", "did you mean 'hops'?"],
    ),
    "negative rate": (
        "networks:\n  wan: {rate: -50Mbps}\n",
        ["networks.wan.rate", "must be at least 1 kbit/s", "'-50Mbps'"],
    ),
    "unit that is not a time": (
        "machines:\n  robot:\n    streams:\n      joints: {every: 4 parsecs}\n",
        ["machines.robot.streams.joints.every", "'4 parsecs'", "time"],
    ),
    "unknown broker": (
        "machines:\n  robot: {broker: edgy}\n",
        ["machines.robot.broker", "unknown broker 'edgy'", "did you mean 'edge'?"],
    ),
    "unknown network kind": (
        "networks:\n  plant-5g: {kind: wifi6, rate: 1Gbps}\n",
        ["networks.plant-5g.kind", "unknown network kind 'wifi6'", ", ".join(NETWORK_KINDS)],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_validate_rejects_a_broken_scenario_with_a_clear_message(tmp_path: Path, case: str) -> None:
    """Each mistake: exit 2, the file and field path named, and no traceback."""
    change, expected = BROKEN[case]
    path = extending(tmp_path, change)
    result = factory5g("validate", path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{path}: ")
    for text in expected:
        assert text in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_rejects_an_extends_cycle(tmp_path: Path) -> None:
    """a.yaml extends b.yaml extends a.yaml: exit 2 and the chain is shown."""
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    result = factory5g("validate", tmp_path / "a.yaml")
    assert result.returncode == 2
    assert (
        f"{tmp_path / 'a.yaml'} -> {tmp_path / 'b.yaml'} -> {tmp_path / 'a.yaml'}" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_validate_rejects_broken_yaml_with_its_line(tmp_path: Path) -> None:
    """The flow mapping opened on line 3 lacks its '}': YAML stops at 'machines', line 4 column 1."""
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nduration: 1s\nbrokers: {edge: {}\nmachines: {}\n")
    result = factory5g("validate", path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}: invalid YAML at line 4, column 1: ")
    assert "expected ',' or '}'" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_rejects_a_missing_file(tmp_path: Path) -> None:
    """A file that does not exist: exit 2, named in the message."""
    missing = tmp_path / "no-such-scenario.yaml"
    result = factory5g("validate", missing)
    assert result.returncode == 2
    assert result.stderr.strip() == f"{missing}: file not found"


def test_validate_needs_a_file() -> None:
    """No file at all is a usage error (exit 2), not a silent success."""
    assert main(["validate"]) == 2


# -------------------------------------------------------------------------------------- schema


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """The schema is JSON (draft 2020-12) describing machines, networks and the bridge's 'from'."""
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"]
    assert {"machines", "networks", "brokers", "duration"} <= set(schema["properties"])
    assert "from" in schema["$defs"]["Bridge"]["properties"]  # written by its alias
    assert schema["$defs"]["Scenario"]["additionalProperties"] is False


def test_schema_out_writes_the_same_schema_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out FILE writes the schema there instead of printing it."""
    out = tmp_path / "scenario.schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    written = json.loads(out.read_text())
    assert written["properties"].keys() == Scenario.model_fields.keys()


# ------------------------------------------------------------------------------------------ help


@pytest.mark.parametrize("command", [[], ["validate"], ["schema"], ["run"], ["compare"]])
def test_help_describes_each_command(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--help exits 0 and shows the usage of that command."""
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: factory5g {' '.join(command)}".rstrip())
    assert len(out.splitlines()) > 5


def test_help_works_through_python_dash_m() -> None:
    """``python -m sim validate --help`` is the same command line."""
    result = factory5g("validate", "--help")
    assert result.returncode == 0
    assert "usage: factory5g validate" in result.stdout


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    """Running without a command shows the commands and exits 2."""
    assert main([]) == 2
    assert "validate" in capsys.readouterr().err


# ---------------------------------------------------------------------------- run and compare
# The real engine runs here (short durations), in a separate process as a user would run it.


def test_run_applies_the_overrides_and_writes_its_files_under_results(tmp_path: Path) -> None:
    """run applies --seed/--replications/--duration and writes results/<name>/ by default."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(BASELINE),
            "--seed",
            "5",
            "--replications",
            "2",
            "--duration",
            "3s",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "results" / "line3-intranet" / "summary.json").read_text())
    assert (summary["seed"], summary["replications"], summary["duration_s"]) == (5, 2, 3.0)
    assert (tmp_path / "results" / "line3-intranet" / "streams.csv").is_file()
    rows = {(r["machine"], r["stream"], r["subscriber"]) for r in summary["streams"]}
    assert ("robot", "joints", "scada") in rows and ("vision", "frame", "historian") in rows
    for row in summary["streams"]:
        assert row["replications"] == 2
    assert "robot" in done.stdout and "joints" in done.stdout and "p99" in done.stdout


def test_compare_writes_the_comparison_the_plot_and_each_scenario(tmp_path: Path) -> None:
    """compare runs the baseline then the upgrades; comparison.json lists them in that order."""
    upgrade = FIXTURES / "line3-5g-parametric.yaml"
    done = factory5g(
        "compare",
        BASELINE,
        upgrade,
        "--duration",
        "3s",
        "--replications",
        "1",
        "--quiet",
        "--out",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    assert comparison["baseline"] == "line3-intranet"
    assert comparison["upgrades"] == ["line3-5g-parametric"]
    assert (tmp_path / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("line3-intranet", "line3-5g-parametric"):
        assert (tmp_path / name / "summary.json").is_file()


@pytest.mark.parametrize("value", ["4 parsecs", "10", "0s", "-1s"])
def test_bad_duration_is_a_usage_error(value: str, tmp_path: Path) -> None:
    """--duration needs a positive time with a unit; otherwise exit 2 before any simulation."""
    done = factory5g("run", BASELINE, "--duration", value, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert "--duration" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_invalid_scenarios_stop_compare_before_the_engine(tmp_path: Path) -> None:
    """All files are checked first; problems in any of them exit 2 and nothing runs."""
    bad = extending(tmp_path, "replications: 0\n")
    done = factory5g("compare", BASELINE, bad, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.startswith(f"{bad}: replications: must be at least 1")
    assert not (tmp_path / "out").exists()


def test_ctrl_c_stops_a_run_with_exit_130_and_no_traceback(tmp_path: Path) -> None:
    """An interrupted run says so, and how far it got, and exits 130, as shells expect of SIGINT."""
    import signal
    import time

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(BASELINE),
            "--duration",
            "600s",
            "--quiet",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # once it has had 3 s of CPU it is simulating (imports and loading take about 1.5 s), however
    # busy the machine is
    import psutil

    watched = psutil.Process(process.pid)
    deadline = time.monotonic() + 120
    while sum(watched.cpu_times()[:2]) < 3.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    (line,) = err.splitlines()
    assert line.startswith("factory5g: line3-intranet interrupted in replication 1 of 3, ")
    assert line.endswith(" s of 600 s simulated; its results were not written")
    assert "Traceback" not in err


def test_quiet_prints_nothing_but_still_writes_results(tmp_path: Path) -> None:
    """--quiet: no table, no progress, nothing on stdout or stderr; the files are written."""
    done = factory5g(
        "run", FIXTURES / "mm1.yaml", "--duration", "12s", "--quiet", "--out", tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert (tmp_path / "summary.json").is_file()


# -------------------------------------------------------------------------------- start-up

HEAVY = {"numpy", "scipy", "pandas", "matplotlib", "rich", "simpy", "paho", "amqtt"}


def modules_loaded(*argv: str) -> set[str]:
    """The top-level packages loaded by ``factory5g ARGV`` in a fresh interpreter."""
    code = (
        "import sys\nfrom sim.cli import main\nstatus = main(sys.argv[1:])\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False
    )
    return set(done.stderr.split())


def test_help_loads_neither_the_models_nor_the_engine() -> None:
    """`factory5g --help` starts at once: not even pydantic or YAML is read."""
    loaded = modules_loaded("--help")
    assert loaded & (HEAVY | {"pydantic", "yaml"}) == set()


def test_validate_loads_no_simulation_plotting_or_table_library() -> None:
    """Validating (line 3 and its upgrade, with laws of every kind but trace) needs pydantic and
    YAML only; numpy comes in only for a scenario that reads a measured trace."""
    loaded = modules_loaded("validate", str(BASELINE), str(FIXTURES / "line3-5g-parametric.yaml"))
    assert {"pydantic", "yaml"} <= loaded
    assert loaded & HEAVY == set()
