"""Loading scenario files (sim.scenario.loader): YAML, ``extends:`` merging, validation errors."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import FIXTURES

from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.laws import Constant, Lognormal, Uniform
from sim.scenario.loader import load_raw, load_scenario, merge
from sim.scenario.schema import EthernetNetwork, ParametricNetwork, Scenario

BASELINE = FIXTURES / "line3-intranet.yaml"
UPGRADE = FIXTURES / "line3-5g-parametric.yaml"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def baseline_copy(directory: Path) -> Path:
    """The line 3 baseline copied next to the test's own files, so they can extend it."""
    return write(directory, "line3-intranet.yaml", BASELINE.read_text(encoding="utf-8"))


def problem_of(path: Path, **overrides: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, overrides or None)
    return caught.value


# --------------------------------------------------------------------------- contract scenarios


@pytest.mark.parametrize("name", ["line3-intranet.yaml", "line3-5g-parametric.yaml", "mm1.yaml"])
def test_contract_scenarios_validate(name: str) -> None:
    """The contract scenarios (the tests' copies) load unchanged into a Scenario."""
    scenario = load_scenario(FIXTURES / name)
    assert isinstance(scenario, Scenario)
    assert scenario.name == name.removesuffix(".yaml")


def test_quantities_are_read_into_si_units() -> None:
    """Times become seconds, sizes bytes, rates bit/s, percentages fractions."""
    scenario = load_scenario(BASELINE)
    lan = scenario.networks["plant-lan"]
    assert isinstance(lan, EthernetNetwork)
    assert lan.rate == 100e6  # 100Mbps
    assert lan.hops == 3
    assert lan.switch_latency == pytest.approx(5e-6)  # 5us
    assert lan.cross_traffic is not None
    assert lan.cross_traffic.load == pytest.approx(0.40)  # 40%
    assert lan.cross_traffic.size == 1500.0  # 1500B
    wan = scenario.networks["wan"]
    assert isinstance(wan, ParametricNetwork)
    assert isinstance(wan.latency, Constant)
    assert wan.latency.value == pytest.approx(8e-3)  # 8ms
    assert wan.rate == 50e6
    cnc = scenario.machines["cnc"].streams["spindle"]
    assert cnc.every == pytest.approx(10e-3)
    assert cnc.jitter == pytest.approx(200e-6)  # 200us
    sensors = scenario.machines["sensors"].streams["env"]
    assert sensors.poisson == 2.0  # 2/s
    assert sensors.payload == Uniform(low=48.0, high=96.0)  # {uniform: [48B, 96B]}
    assert scenario.machines["vision"].streams["frame"].payload == Constant(value=150e3)  # 150kB
    assert scenario.brokers["edge"].service_time == pytest.approx(20e-6)
    assert (scenario.duration, scenario.warmup) == (30.0, 2.0)


def test_extends_merges_the_upgrade_onto_the_baseline() -> None:
    """The 5G file changes only the machines' network; everything else comes from the baseline."""
    baseline = load_scenario(BASELINE)
    upgrade = load_scenario(UPGRADE)
    assert upgrade.name == "line3-5g-parametric"
    assert upgrade.extends == "line3-intranet.yaml"  # the extending file's own value
    assert upgrade.brokers == baseline.brokers
    assert upgrade.bridges == baseline.bridges
    assert upgrade.subscribers == baseline.subscribers
    assert set(upgrade.networks) == {"plant-lan", "wan", "plant-5g"}
    assert upgrade.networks["plant-5g"].latency == Lognormal(median=6e-3, p99=10e-3)
    for name, machine in upgrade.machines.items():
        assert machine.network == "plant-5g"
        assert machine.count == baseline.machines[name].count
        assert machine.broker == baseline.machines[name].broker
        assert machine.streams == baseline.machines[name].streams
    assert upgrade.machines["cnc"].count == 24


def test_load_raw_returns_the_merged_mapping_as_written() -> None:
    """load_raw merges without validating: values keep their written units."""
    raw = load_raw(UPGRADE)
    assert raw["machines"]["cnc"]["network"] == "plant-5g"
    assert raw["machines"]["cnc"]["count"] == 24
    assert raw["machines"]["cnc"]["streams"]["spindle"]["every"] == "10ms"
    assert raw["networks"]["plant-5g"]["rate"] == "80Mbps"
    assert raw["extends"] == "line3-intranet.yaml"


# ------------------------------------------------------------------------------------- merging


def test_merge_combines_mappings_key_by_key_and_replaces_everything_else() -> None:
    """Nested mappings merge recursively; scalars and lists of the child replace the base's."""
    base = {"a": {"x": 1, "y": [1, 2], "z": {"deep": 1}}, "b": "base", "c": 3}
    child = {"a": {"y": [9], "z": {"deeper": 2}}, "b": "child"}
    assert merge(base, child) == {
        "a": {"x": 1, "y": [9], "z": {"deep": 1, "deeper": 2}},
        "b": "child",
        "c": 3,
    }


def test_merge_null_removes_a_key() -> None:
    """A child value of null removes the key, at any depth, even where the base has a mapping."""
    base = {"a": {"x": 1, "y": 2}, "b": {"deep": 1}}
    assert merge(base, {"a": {"x": None}, "b": None}) == {"a": {"y": 2}}
    assert merge(base, {"new": {"gone": None, "kept": 1}}) == {**base, "new": {"kept": 1}}


def test_merge_leaves_its_inputs_untouched() -> None:
    """Merging copies: the base and the child can be reused afterwards."""
    base = {"a": {"x": [1, 2]}}
    child = {"a": {"y": 1}}
    before = copy.deepcopy((base, child))
    merged = merge(base, child)
    merged["a"]["x"].append(3)
    assert (base, child) == before


def test_a_mapping_replaces_a_scalar_and_a_scalar_replaces_a_mapping() -> None:
    """A law written as a mapping overrides a constant, and the other way round."""
    assert merge({"latency": "8ms"}, {"latency": {"uniform": ["1ms", "2ms"]}}) == {
        "latency": {"uniform": ["1ms", "2ms"]}
    }
    assert merge({"latency": {"uniform": ["1ms", "2ms"]}}, {"latency": "8ms"}) == {"latency": "8ms"}


def test_null_in_an_extending_file_deletes_inherited_entries(tmp_path: Path) -> None:
    """``cross_traffic: null`` falls back to the default (none); ``vision: null`` drops a machine."""
    baseline_copy(tmp_path)
    child = write(
        tmp_path,
        "quiet-lan.yaml",
        "extends: line3-intranet.yaml\n"
        "name: quiet-lan\n"
        "networks:\n  plant-lan: {cross_traffic: null}\n"
        "machines:\n  vision: null\n"
        "subscribers:\n  historian: ~\n",
    )
    scenario = load_scenario(child)
    assert scenario.networks["plant-lan"].cross_traffic is None
    assert scenario.networks["plant-lan"].rate == 100e6  # the rest of the network is kept
    assert set(scenario.machines) == {"cnc", "robot", "sensors"}
    assert set(scenario.subscribers) == {"scada"}


def test_extends_is_relative_to_the_extending_file(tmp_path: Path) -> None:
    """A file in a subdirectory extends '../base.yaml' and a grandchild extends it in turn."""
    baseline_copy(tmp_path)
    (tmp_path / "studies").mkdir()
    write(
        tmp_path / "studies",
        "fast-lan.yaml",
        "extends: ../line3-intranet.yaml\nname: fast-lan\nnetworks: {plant-lan: {rate: 1Gbps}}\n",
    )
    grandchild = write(
        tmp_path / "studies",
        "fast-lan-long.yaml",
        "extends: fast-lan.yaml\nname: fast-lan-long\nduration: 60s\n",
    )
    scenario = load_scenario(grandchild)
    assert scenario.name == "fast-lan-long"
    assert scenario.extends == "fast-lan.yaml"
    assert scenario.duration == 60.0
    assert scenario.networks["plant-lan"].rate == 1e9  # from the child
    assert scenario.networks["plant-lan"].hops == 3  # from the baseline
    assert scenario.machines["cnc"].count == 24


# ----------------------------------------------------------------------------------- overrides


def test_overrides_replace_seed_replications_and_duration() -> None:
    """Command-line values apply on top of the file; a duration may be text or seconds."""
    scenario = load_scenario(BASELINE, {"seed": 99, "replications": 5, "duration": "10s"})
    assert (scenario.seed, scenario.replications, scenario.duration) == (99, 5, 10.0)
    assert load_scenario(BASELINE, {"duration": 12.5}).duration == 12.5
    unchanged = load_scenario(BASELINE, {"seed": None, "replications": None, "duration": None})
    assert (unchanged.seed, unchanged.replications, unchanged.duration) == (7, 3, 30.0)


def test_a_bad_override_is_reported_as_from_the_command_line() -> None:
    """An invalid override names its field and says it came from the command line."""
    error = problem_of(BASELINE, replications=0)
    assert error.path == "replications"
    assert "at least 1" in error.message
    assert "command line" in error.message


# -------------------------------------------------------------------------------------- errors


def test_scenario_error_prints_one_line_per_problem() -> None:
    """str() is 'file: path: message', one problem per line; the first gives the attributes."""
    error = ScenarioError(
        problems=[
            Problem("line3.yaml", "machines.robot.broker", "unknown broker 'edg'"),
            Problem("line3.yaml", None, "warmup must be shorter than duration"),
        ]
    )
    assert str(error).splitlines() == [
        "line3.yaml: machines.robot.broker: unknown broker 'edg'",
        "line3.yaml: warmup must be shorter than duration",
    ]
    assert (error.file, error.path, error.message) == (
        "line3.yaml",
        "machines.robot.broker",
        "unknown broker 'edg'",
    )
    single = ScenarioError("file not found", file="x.yaml")
    assert str(single) == "x.yaml: file not found"
    assert single.path is None


def test_scenario_error_survives_pickling() -> None:
    """An error raised in a worker process comes back with all its problems."""
    error = ScenarioError("bad", file="a.yaml", path="seed", problems=[Problem(None, "x", "y")])
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == error.problems
    assert str(again) == str(error)


def mutated(directory: Path, change: str) -> Path:
    """A file that extends the baseline with one change."""
    baseline_copy(directory)
    return write(directory, "broken.yaml", "extends: line3-intranet.yaml\n" + change)


def test_misspelt_key_suggests_the_closest_valid_key(tmp_path: Path) -> None:
    """'hopps' is not a key of an Ethernet network: the error names it and suggests 'hops'."""
    error = problem_of(mutated(tmp_path, "networks:\n  plant-lan: {hopps: 4}\n"))
    assert error.file == str(tmp_path / "broken.yaml")
    assert error.path == "networks.plant-lan.hopps"
    assert error.message == "unknown key 'hopps'; did you mean 'hops'?"


def test_unknown_key_with_nothing_close_lists_the_allowed_keys(tmp_path: Path) -> None:
    """With no close match, the allowed keys of that block are listed."""
    error = problem_of(mutated(tmp_path, "brokers:\n  edge: {qqqqqq: 1}\n"))
    assert error.path == "brokers.edge.qqqqqq"
    assert (
        "allowed keys: service_time, fanout_time, per_byte_time, max_queued, max_inflight, queue_qos0"
        in error.message
    )


def test_misspelt_alias_suggests_the_written_name(tmp_path: Path) -> None:
    """A bridge's 'from' is written 'from' (not 'from_'), so 'frm' suggests 'from'."""
    error = problem_of(mutated(tmp_path, "bridges:\n  edge-to-central: {frm: edge}\n"))
    assert error.path == "bridges.edge-to-central.frm"
    assert "did you mean 'from'?" in error.message


def test_negative_rate_is_refused(tmp_path: Path) -> None:
    """A rate must be positive; the message shows the value as written."""
    error = problem_of(mutated(tmp_path, "networks:\n  wan: {rate: -5Mbps}\n"))
    assert error.path == "networks.wan.rate"
    assert error.message == (
        "must be at least 1 kbit/s, got '-5Mbps' "
        "(from 1 kbit/s to 1.6 Tbit/s, the fastest Ethernet, IEEE 802.3dj)"
    )


def test_unknown_time_unit_names_field_and_value(tmp_path: Path) -> None:
    """'4 parsecs' is not a time; the path leads to the stream's 'every'."""
    error = problem_of(
        mutated(tmp_path, "machines:\n  robot:\n    streams:\n      joints: {every: 4 parsecs}\n")
    )
    assert error.path == "machines.robot.streams.joints.every"
    assert "'4 parsecs'" in error.message
    assert "time" in error.message


def test_bound_with_a_unit_is_written_with_its_unit(tmp_path: Path) -> None:
    """The MTU bound is 576 bytes, and says so, and why."""
    error = problem_of(mutated(tmp_path, "networks:\n  wan: {mtu: 100B}\n"))
    assert error.path == "networks.wan.mtu"
    assert error.message == (
        "must be at least 576 B, got '100B' (IP needs 576 bytes, RFC 791; jumbo frames carry 9216)"
    )


def test_law_errors_point_at_the_written_parameter(tmp_path: Path) -> None:
    """In {uniform: [-5B, 96B]} the first bound is wrong: path ...payload.uniform.0."""
    error = problem_of(
        mutated(
            tmp_path,
            "machines:\n  sensors:\n    streams:\n      env: {payload: {uniform: [-5B, 96B]}}\n",
        )
    )
    assert error.path == "machines.sensors.streams.env.payload.uniform.0"
    assert error.message == "must not be negative, got '-5B'"


def test_law_keys_of_mixed_types_give_an_error_not_a_crash(tmp_path: Path) -> None:
    """A lognormal with a numeric key among text keys is reported as an unknown key."""
    error = problem_of(
        mutated(tmp_path, "networks:\n  wan:\n    latency: {lognormal: {1: 2ms, median: 6ms}}\n")
    )
    assert error.path == "networks.wan.latency"
    assert "unknown key" in error.message


def test_unknown_broker_names_the_path_and_suggests(tmp_path: Path) -> None:
    """A machine publishing to a broker that is not defined: path, defined names, suggestion."""
    error = problem_of(mutated(tmp_path, "machines:\n  robot: {broker: egde}\n"))
    assert error.path == "machines.robot.broker"
    assert "unknown broker 'egde'" in error.message
    assert "did you mean 'edge'?" in error.message


def test_unknown_network_kind_lists_the_kinds(tmp_path: Path) -> None:
    """A network kind that does not exist: the allowed kinds and the closest one."""
    error = problem_of(mutated(tmp_path, "networks:\n  wan: {kind: parametrik}\n"))
    assert error.path == "networks.wan.kind"
    assert "unknown network kind 'parametrik'" in error.message
    assert "parametric, ethernet" in error.message
    assert "did you mean 'parametric'?" in error.message


def test_network_without_kind_asks_for_one(tmp_path: Path) -> None:
    """A new network with no 'kind' is refused with the list of kinds."""
    error = problem_of(mutated(tmp_path, "networks:\n  wifi: {rate: 54Mbps}\n"))
    assert error.path == "networks.wifi"
    assert "missing 'kind'" in error.message
    assert "parametric, ethernet" in error.message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Two independent mistakes give two problems, one line each."""
    error = problem_of(mutated(tmp_path, "seed: -1\nnetworks:\n  wan: {rate: 0Mbps}\n"))
    assert {problem.path for problem in error.problems} == {"seed", "networks.wan.rate"}
    assert len(str(error).splitlines()) == 2


def test_errors_from_a_base_file_name_the_extending_file_and_the_base(tmp_path: Path) -> None:
    """A bad value inherited from the base is reported in the file given, saying where it is set."""
    text = BASELINE.read_text(encoding="utf-8").replace("every: 4ms", "every: 4 parsecs")
    write(tmp_path, "base.yaml", text)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\n")
    error = problem_of(child)
    assert error.file == str(tmp_path / "child.yaml")
    assert error.path == "machines.robot.streams.joints.every"
    assert error.message.endswith(f"(set in {tmp_path / 'base.yaml'})")


def test_missing_key_names_its_parent(tmp_path: Path) -> None:
    """A stream without a payload: the stream's path and the missing key's name."""
    text = BASELINE.read_text(encoding="utf-8").replace("        payload: 120B\n", "")
    error = problem_of(write(tmp_path, "no-payload.yaml", text))
    assert error.path == "machines.robot.streams.joints"
    assert error.message == "missing required key 'payload'"


def test_non_text_names_are_explained(tmp_path: Path) -> None:
    """YAML reads an unquoted 'false' as a boolean; a machine named that way is told to use
    quotes."""
    text = BASELINE.read_text(encoding="utf-8").replace("  vision:\n", "  false:\n")
    error = problem_of(write(tmp_path, "false.yaml", text))
    assert error.path == "machines"
    assert "false" in error.message
    assert "quotes" in error.message


@pytest.mark.parametrize(
    ("written", "refused"),
    [
        pytest.param("seed: 1:30", "seed: expected a whole number, got '1:30'", id="no base 60"),
        pytest.param(
            "machines: {robot: {streams: {joints: {qos: yes}}}}",
            "machines.robot.streams.joints.qos: must be 0, 1 or 2, got 'yes'",
            id="yes is text",
        ),
        pytest.param(
            "machines: {robot: {streams: {joints: {retain: on}}}}",
            "machines.robot.streams.joints.retain: expected true or false, got 'on'",
            id="on is text",
        ),
    ],
)
def test_plain_scalars_read_as_yaml_1_2(tmp_path: Path, written: str, refused: str) -> None:
    """Scenario files are read with YAML 1.2's core schema, as editors read them: no base-60
    numbers, and only true/false are booleans, so 'yes' and 'on' are text that a QoS or a flag
    refuses."""
    baseline_copy(tmp_path)
    path = write(tmp_path, "case.yaml", f"extends: line3-intranet.yaml\n{written}\n")
    assert str(problem_of(path)).startswith(f"{path}: {refused}")


def test_yaml_1_2_numbers_and_dates(tmp_path: Path) -> None:
    """'012' is twelve (not octal ten), '0o17' octal fifteen, and a date is text."""
    baseline_copy(tmp_path)
    path = write(
        tmp_path, "case.yaml", "extends: line3-intranet.yaml\nseed: 012\nname: 2026-01-01\n"
    )
    scenario = load_scenario(path)
    assert (scenario.seed, scenario.name) == (12, "2026-01-01")
    path.write_text("extends: line3-intranet.yaml\nseed: 0o17\n", encoding="utf-8")
    assert load_scenario(path).seed == 15


def test_no_is_a_name_in_yaml_1_2(tmp_path: Path) -> None:
    """A machine class called 'no' (Norway's line?) is a name, not false."""
    text = BASELINE.read_text(encoding="utf-8").replace("  vision:\n", "  no:\n")
    assert "no" in load_scenario(write(tmp_path, "no.yaml", text)).machines


# ------------------------------------------------------------------------------ files and YAML


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is named in the error."""
    error = problem_of(tmp_path / "nowhere.yaml")
    assert error.file == str(tmp_path / "nowhere.yaml")
    assert "not found" in error.message


def test_directory_is_not_a_scenario(tmp_path: Path) -> None:
    """Giving a directory is an error, not an IsADirectoryError."""
    error = problem_of(tmp_path)
    assert error.file == str(tmp_path)
    assert "directory" in error.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "empty", id="empty file"),
        pytest.param("- a\n- b\n", "not a list", id="a list at the top"),
        pytest.param("just text\n", "must be a mapping", id="a string at the top"),
    ],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, expected: str) -> None:
    """A scenario file is a mapping of keys; anything else is refused with the reason."""
    error = problem_of(write(tmp_path, "odd.yaml", text))
    assert expected in error.message


def test_broken_yaml_reports_line_and_column(tmp_path: Path) -> None:
    """'name: line: 3' on line 2 is a YAML error at its second colon: line 2, column 11."""
    error = problem_of(write(tmp_path, "broken.yaml", "duration: 1s\nname: line: 3\n"))
    assert error.path is None
    assert error.message.startswith("invalid YAML at line 2, column 11:")
    assert "mapping values are not allowed" in error.message


def test_key_given_twice_is_an_error(tmp_path: Path) -> None:
    """A duplicated key would silently lose a value; it is reported with both lines."""
    error = problem_of(write(tmp_path, "twice.yaml", "name: a\nseed: 1\nname: b\n"))
    assert error.message.startswith("line 3: key 'name' is given twice (first at line 1)")


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    """'<<: *anchor' then an explicit key is the usual YAML idiom, not a duplicate."""
    text = BASELINE.read_text(encoding="utf-8").replace(
        "  central: {service_time: 30us}", "  central: {<<: *edge, service_time: 30us}"
    )
    text = text.replace("  edge: {service_time", "  edge: &edge {service_time")
    scenario = load_scenario(write(tmp_path, "anchors.yaml", text))
    assert scenario.brokers["central"].service_time == pytest.approx(30e-6)
    assert scenario.brokers["central"].max_queued == 1000


def test_missing_extends_target_names_the_extending_file(tmp_path: Path) -> None:
    """The error is in the file that says 'extends', and names the file it looked for."""
    child = write(tmp_path, "child.yaml", "extends: gone.yaml\nname: child\n")
    error = problem_of(child)
    assert error.file == str(child)
    assert error.path == "extends"
    assert "gone.yaml" in error.message


def test_extends_cycle_names_the_chain(tmp_path: Path) -> None:
    """a extends b extends a: the error shows the whole cycle."""
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    error = problem_of(a)
    assert error.path == "extends"
    chain = " -> ".join(str(tmp_path / name) for name in ("a.yaml", "b.yaml", "a.yaml"))
    assert chain in error.message


def test_extends_must_be_a_file_name(tmp_path: Path) -> None:
    """'extends' holding a list is refused, not crashed on."""
    error = problem_of(write(tmp_path, "bad.yaml", "extends: [a.yaml]\nname: x\n"))
    assert error.path == "extends"


# ------------------------------------------------------------------------------- robustness

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
ODD_VALUES: list[Any] = [
    None,
    [],
    {},
    "x",
    -1,
    0,
    True,
    1.5,
    "1e999s",
    {"a": 1},
    {1: 2},
    {"uniform": [1]},
    {"kind": "uniform"},
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def test_no_input_escapes_as_anything_but_a_scenario_error(tmp_path: Path) -> None:
    """Every value of the baseline replaced by odd values: a Scenario or a clean ScenarioError."""
    original = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    target = tmp_path / "odd.yaml"
    outcomes = {"valid": 0, "error": 0}
    for path in _paths(original):
        for value in ODD_VALUES:
            data = copy.deepcopy(original)
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
            target.write_text(yaml.dump(data, Dumper=DUMPER), encoding="utf-8")
            try:
                load_scenario(target)
            except ScenarioError as error:
                outcomes["error"] += 1
                text = str(error)
                assert all(line.startswith(f"{target}: ") for line in text.splitlines())
                for leak in (
                    "Input should",
                    "Value error",
                    "[key]",
                    "function-",
                    "validation error",
                ):
                    assert leak not in text, (path, value, text)
            else:
                outcomes["valid"] += 1
    assert outcomes["error"] > outcomes["valid"] > 0
