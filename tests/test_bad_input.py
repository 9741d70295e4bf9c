"""Bad input never crashes, hangs or escapes (issue 9): each case a user (or a generator of broken
files) hit is refused by ``factory5g validate`` with one line naming the file and the field, exit
status 2, and no traceback; what validation accepts either runs or is refused up front by the cost
estimate; results stay inside ``--out``.

Every case runs the command in its own process with a timeout, so that a case that hangs (a FIFO,
``/dev/zero``, a YAML bomb) fails the test instead of stopping the suite.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FIXTURES, factory5g

from sim.outputs import OutputError, inside, json_text

BASE = (FIXTURES / "line3-intranet.yaml").read_text(encoding="utf-8")


def case(tmp_path: Path, change: str, name: str = "case.yaml") -> Path:
    """A file extending the line 3 baseline with ``change`` (YAML text)."""
    (tmp_path / "line3-intranet.yaml").write_text(BASE, encoding="utf-8")
    path = tmp_path / name
    path.write_text("extends: line3-intranet.yaml\n" + change, encoding="utf-8")
    return path


def refused(path: Path | str, *expected: str, field: str | None = None) -> str:
    """``factory5g validate path``: exit 2, one line starting with the file (and the field), with
    each of ``expected`` in it, no traceback; the line."""
    done = factory5g("validate", path, timeout=30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert line.startswith(f"{path}: " if field is None else f"{path}: {field}: "), line
    for text in expected:
        assert text in line, line
    return line


# -------------------------------------------------------------------------------- reading


def test_a_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    """Nine levels of ten aliases each expand to 10^9 strings under an unknown key."""
    lines = ['lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"lol{level}: &a{level} [{refs}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("name: bomb\nduration: 1s\n" + "\n".join(lines) + "\n", encoding="utf-8")
    refused(path, "expand to more than 100,000 values")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_fifo_is_refused_as_a_scenario_and_as_a_base(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    refused(fifo, "is a named pipe (FIFO), not a scenario file")
    extending = tmp_path / "up.yaml"
    extending.write_text("extends: pipe.yaml\nname: up\n", encoding="utf-8")
    refused(extending, "pipe.yaml: is a named pipe (FIFO)", field="extends")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_is_refused_directly_through_a_link_and_as_a_base(tmp_path: Path) -> None:
    refused("/dev/zero", "is a device or a socket, not a scenario file")
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    refused(link, "is a device or a socket")
    extending = tmp_path / "up.yaml"
    extending.write_text("extends: zero.yaml\nname: up\n", encoding="utf-8")
    refused(extending, "zero.yaml: is a device or a socket", field="extends")


def test_a_link_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    refused(tmp_path / "a.yaml", "a link that points to itself")
    extending = tmp_path / "up.yaml"
    extending.write_text("extends: a.yaml\nname: up\n", encoding="utf-8")
    refused(extending, "a link that points to itself", field="extends")


def test_a_nul_byte_in_an_extends_path_and_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_text('extends: "base\\0.yaml"\nname: x\n', encoding="utf-8")
    refused(path, "contains a NUL byte", field="extends")
    path.write_bytes(b"name: x\nduration: 1s\ndescription: a\x00b\n")
    refused(path, "line 3: a NUL character")


def test_an_over_long_file_name_and_an_over_large_file(tmp_path: Path) -> None:
    """(A name too long for the system is shown cut at 300 characters.)"""
    long = tmp_path / ("x" * 300 + ".yaml")
    done = factory5g("validate", long)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(str(long)[:200]) and line.endswith("File name too long")
    big = tmp_path / "big.yaml"
    big.write_text("name: big\n" + "# " + "x" * 10_000_100 + "\n", encoding="utf-8")
    refused(big, "has more than 10,000,000 bytes, the most it may have")


def test_a_chain_of_a_thousand_extends_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f0.yaml").write_text(BASE, encoding="utf-8")
    for i in range(1, 1000):
        (tmp_path / f"f{i}.yaml").write_text(f"extends: f{i - 1}.yaml\n", encoding="utf-8")
    line = refused(tmp_path / "f999.yaml", "longer than 32 files", field="extends")
    assert "it goes on at" in line


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        pytest.param(
            "machines: {robot: {count: " + "9" * 4000 + "}}",
            "machines.robot.count",
            "expected a whole number, got a number of 4,000 digits",
            id="4000-digit count",
        ),
        pytest.param(
            "machines: {robot: {count: 1000000000}}",
            "machines.robot.count",
            "must be at most 1,000,000",
            id="a billion robots",
        ),
        pytest.param(
            "machines: {robot: {streams: {joints: {payload: .inf}}}}",
            "machines.robot.streams.joints.payload",
            "a bare number inf is ambiguous",
            id="payload .inf",
        ),
        pytest.param(
            "machines: {robot: {streams: {joints: {payload: 10GB}}}}",
            "machines.robot.streams.joints.payload",
            "MQTT packet is at most 268,435,455 bytes",
            id="10 GB payload",
        ),
        pytest.param(
            "networks: {wan: {latency: {lognormal: {median: 1ms, p99: 1h}}}}",
            "networks.wan.latency",
            "p99 may be at most 1000 times the median",
            id="very wide lognormal",
        ),
        pytest.param(
            "networks: {wan: {loss: 0.999999}}",
            "networks.wan.loss",
            "must be at most 0.5",
            id="loss close to 1",
        ),
        pytest.param(
            "networks: {plant-lan: {hops: 1000000}}",
            "networks.plant-lan.hops",
            "must be at most 16",
            id="a million hops",
        ),
        pytest.param(
            "networks: {plant-lan: {hops: 1000000000}}",
            "networks.plant-lan.hops",
            "must be at most 16",
            id="a billion hops",
        ),
        pytest.param(
            "networks: {wlan: {kind: wifi, background: {count: 1000000, rate: 1Mbps}}}",
            "networks.wlan.background.count",
            "must be at most 2,007",
            id="a million Wi-Fi stations",
        ),
        pytest.param(
            "networks: {cell: {kind: nr5g, tdd_pattern: DDDS}}",
            "networks.cell",
            "gives the uplink no slot for data",
            id="TDD pattern without uplink",
        ),
        pytest.param(
            "machines: {robot: {client: {keep_alive: 1ns}}}",
            "machines.robot.client.keep_alive",
            "must be at least 1 s, got '1ns' (MQTT counts it in whole seconds",
            id="keep_alive 1ns",
        ),
        pytest.param(
            "machines: {robot: {streams: {joints: {every: 1ns}}}}",
            "machines.robot.streams.joints.every",
            "must be at least 10 us",
            id="every 1ns",
        ),
        pytest.param(
            "seed: 0x" + "f" * 3600,
            "seed",
            "expected a whole number, got a number of 3,602 digits",
            id="3600 hex digits of seed",
        ),
        pytest.param(
            "networks: {plant-lan: {cross_traffic: {load: 40%, size: 1e30B}}}",
            "networks.plant-lan.cross_traffic.size",
            "must be at most 9216 B",
            id="1e30 B cross-traffic frames",
        ),
        pytest.param(
            "networks: {plant-lan: {cross_traffic: {load: 40%, size: 1e-300B}}}",
            "networks.plant-lan.cross_traffic.size",
            "an exponent of at most two digits",
            id="1e-300 B cross-traffic frames",
        ),
        pytest.param(
            "networks: {plant-lan: {switch_latency: 1e30s}}",
            "networks.plant-lan.switch_latency",
            "must be at most 1 ms",
            id="switch latency 1e30 s",
        ),
        pytest.param(
            "networks: {wan: {latency: {kind: constant, value: .inf}}}",
            "networks.wan.latency",
            "finite number",
            id="the tagged law form with .inf",
        ),
        pytest.param(
            "seed: 1:30",
            "seed",
            "expected a whole number, got '1:30'",
            id="sexagesimal seed",
        ),
        pytest.param(
            "machines: {robot: {streams: {joints: {qos: yes}}}}",
            "machines.robot.streams.joints.qos",
            "got 'yes'",
            id="qos yes",
        ),
        pytest.param(
            'machines: {robot: {streams: {joints: {topic: "plant/\\0/x"}}}}',
            "machines.robot.streams.joints.topic",
            "NUL character",
            id="NUL in a topic",
        ),
        pytest.param(
            "machines: {robot: {streams: {joints: {topic: " + "t" * 70_000 + "}}}}",
            "machines.robot.streams.joints.topic",
            "must be at most 65,535 characters, got 'tttttttttt",
            id="70 kB topic",
        ),
        pytest.param(
            "description: " + "x" * 5_000_000,
            "description",
            "must be at most 10,000 characters",
            id="5 MB description",
        ),
        pytest.param(
            "name: /some/absolute/path",
            "name",
            "is not a name",
            id="an absolute path as the name",
        ),
        pytest.param("name: ../../up", "name", "is not a name", id="a name climbing out"),
        pytest.param('name: "a\\0b"', "name", "is not a name", id="NUL in the name"),
        pytest.param(
            "machines: {../x: {network: wan, broker: edge, streams: {s: {topic: t, every: 1s, "
            "payload: 1B}}}}",
            "machines",
            "'../x' is not a name",
            id="a machine class climbing out",
        ),
        pytest.param(
            "warmup: 40s", "warmup", "must be shorter than the duration, 30 s", id="warmup"
        ),
    ],
)
def test_a_value_beyond_what_a_plant_can_have_is_refused(
    tmp_path: Path, change: str, field: str, expected: str
) -> None:
    refused(case(tmp_path, change + "\n"), expected, field=field)


def test_a_trace_file_that_is_a_device_or_has_huge_weights(tmp_path: Path) -> None:
    device = "/dev/zero" if os.path.exists("/dev/zero") else None
    if device is not None:
        line = refused(
            case(tmp_path, f"networks: {{wan: {{latency: {{trace: {device}}}}}}}\n"),
            "is a device or a socket",
            field="networks.wan.latency",
        )
        assert "/dev/zero" in line
    (tmp_path / "huge.csv").write_text("0 1e308\n1 1e308\n2 1e308\n3 0\n", encoding="utf-8")
    refused(
        case(tmp_path, "networks: {wan: {latency: {trace: huge.csv}}}\n", "huge.yaml"),
        "weights add up to more than a float holds",
        field="networks.wan.latency",
    )


def test_a_duration_from_the_command_line_is_named_as_the_cause(tmp_path: Path) -> None:
    path = case(tmp_path, "")
    done = factory5g("run", path, "--duration", "1s", "--out", tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"{path}: warmup: must be shorter than the duration, 1 s, which includes the warm-up; "
        f"got 2 s (set in {tmp_path / 'line3-intranet.yaml'}); the duration was given on the "
        "command line"
    )
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------- cost estimate


def test_a_run_beyond_the_budget_is_refused_before_it_starts(tmp_path: Path) -> None:
    """A million sensors reporting every 10 us validate (each value is one a plant can have) but
    the run would take days: run refuses it with the estimate and writes nothing; --force or a
    larger --max-events lets a run through."""
    path = case(
        tmp_path,
        "machines: {sensors: {count: 1000000, streams: {env: {poisson: null, every: 10us}}}}\n",
    )
    ok = factory5g("validate", path)
    assert ok.returncode == 0, ok.stderr
    assert "about" in ok.stdout and "events" in ok.stdout
    done = factory5g("run", path, "--out", tmp_path / "out")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"{path}: this run would take about ")
    assert "more than --max-events 50,000,000" in line and "--force" in line
    assert not (tmp_path / "out").exists()
    small = FIXTURES / "mm1.yaml"
    assert factory5g("run", small, "--duration", "12s", "--max-events", "10", "--quiet",
                     "--out", tmp_path / "o1").returncode == 2  # fmt: skip
    forced = factory5g("run", small, "--duration", "12s", "--max-events", "10", "--force",
                       "--quiet", "--out", tmp_path / "o2")  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "o2" / "summary.json").is_file()


# ------------------------------------------------------------------------------- outputs


def test_out_naming_a_file_or_an_unwritable_place_is_refused_before_running(
    tmp_path: Path,
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a folder", encoding="utf-8")
    done = factory5g("run", FIXTURES / "mm1.yaml", "--duration", "12s", "--out", taken)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"--out: {taken} is a file, not a folder; name a folder for the results"
    )
    done = factory5g("run", FIXTURES / "mm1.yaml", "--duration", "12s", "--out", taken / "sub")
    assert done.returncode == 2
    assert done.stderr.startswith("--out: cannot make the folder")
    assert "Traceback" not in done.stderr


def test_two_scenarios_of_one_name_cannot_share_a_results_folder(tmp_path: Path) -> None:
    done = factory5g("compare", FIXTURES / "mm1.yaml", FIXTURES / "mm1.yaml", "--out", tmp_path)
    assert done.returncode == 2
    assert "more than one scenario is named mm1" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["../up", "/etc", "a/b", "..", ".", "", "x\x00y", "a\\b"], ids=repr
)
def test_no_name_leads_out_of_the_output_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError):
        inside(tmp_path, name)
    assert inside(tmp_path, "line3-5g.v2") == tmp_path / "line3-5g.v2"


def test_compare_writes_only_inside_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = factory5g(
        "compare", FIXTURES / "mm1.yaml", case(tmp_path, "name: other\n"), "--duration", "12s",
        "--replications", "1", "--quiet", "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert {p for p in written if p.parts[0] != "out"} == {
        Path("line3-intranet.yaml"),
        Path("case.yaml"),
    }
    assert (out / "mm1" / "summary.json").is_file() and (out / "other" / "summary.json").is_file()


def test_json_is_valid_even_for_figures_that_are_not_finite() -> None:
    """inf and NaN are not JSON: they are written as null, and listed with what they were."""
    text = json_text({"streams": [{"latency_s": {"mean": math.inf, "p50": 1.0}}], "x": math.nan})
    data = json.loads(text)  # the standard library refuses Infinity only when asked: check both
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert data["streams"][0]["latency_s"] == {"mean": None, "p50": 1.0}
    assert data["non_finite"] == {"streams.0.latency_s.mean": "inf", "x": "nan"}


# ------------------------------------------------------------------------- engine failures


def test_a_failure_inside_the_engine_is_one_line_naming_the_component(tmp_path: Path) -> None:
    """A model that raises (here a broker whose service loop is broken on purpose, by a plugin
    module the test puts first on the path) is reported as one line with the component and the
    simulated time, exit 1; --debug shows the traceback."""
    plugin = tmp_path / "sitecustomize.py"
    plugin.write_text(
        "import sim.models.mqtt.broker as b\n"
        "def broken(self, *a, **k):\n"
        "    raise ZeroDivisionError('broken on purpose')\n"
        "b.Broker.offer = broken\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-m", "sim", "run", str(FIXTURES / "mm1.yaml"), "--duration", "12s",
               "--engine", "event", "--quiet", "--out", str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert "the simulation of mm1 failed in Broker 'b'" in line
    assert "ZeroDivisionError: broken on purpose" in line and "--debug" in line
    debug = subprocess.run(
        [*command, "--debug"], capture_output=True, text=True, env=env, timeout=60
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_yaml_python_tags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "tag.yaml"
    path.write_text("name: !!python/object/apply:os.system ['true']\nduration: 1s\n")
    refused(path, "invalid YAML")
