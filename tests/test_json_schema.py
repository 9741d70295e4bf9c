"""The JSON Schema of scenario files (``factory5g schema``, sim.scenario.json_schema) agrees with the
loader: real validators (``jsonschema``, and ``check-jsonschema`` as an editor user runs it) accept
every file the loader accepts and refuse the usual mistakes it refuses.

The loader is the judge: every case here is first put to ``load_scenario``, and the schema must
give the same answer. Quantities are checked string by string with generated input (hypothesis)
against the parser, and the patterns run in both Python's and an ECMA-262 engine (regress, the one
``check-jsonschema`` uses), as editors run JavaScript's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import regress
import yaml
from helpers import FIXTURES, SCENARIOS, SHARED_CONTRACT
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from sim.cli import main
from sim.scenario.errors import ScenarioError
from sim.scenario.json_schema import quantity_schema, scenario_json_schema
from sim.scenario.laws import LAW_NAMES
from sim.scenario.loader import load_scenario
from sim.scenario.units import QUANTITIES, Quantity, Sign, UnitError

SCHEMA = scenario_json_schema()
VALIDATOR = Draft202012Validator(SCHEMA)
SHIPPED = sorted(SCENARIOS.rglob("*.yaml"))
CONTRACT = sorted(FIXTURES.glob("*.yaml")) + (
    sorted(SHARED_CONTRACT.glob("*.yaml")) if SHARED_CONTRACT.is_dir() else []
)

# Every keyword of JSON Schema draft 2020-12 (core, applicator, validation, meta-data, format,
# content, unevaluated vocabularies).
KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
    "$comment", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
    "prefixItems", "items", "contains", "properties", "patternProperties", "additionalProperties",
    "propertyNames", "unevaluatedItems", "unevaluatedProperties", "type", "enum", "const",
    "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
    "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "required", "dependentRequired", "title", "description",
    "default", "deprecated", "readOnly", "writeOnly", "examples", "format", "contentEncoding",
    "contentMediaType", "contentSchema",
}  # fmt: skip
SCHEMA_MAPS = {"properties", "$defs", "patternProperties", "dependentSchemas"}


def schema_errors(data: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(data)
    ]


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------- the schema itself


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The metaschema accepts it, and it says which dialect it is."""
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_only_json_schema_keywords_appear() -> None:
    """No pydantic vocabulary (ge, gt, le, lt, discriminator...) leaks: an editor would ignore
    it and let a negative rate through."""
    unknown: set[str] = set()

    def walk(node: Any, keyed_by_name: bool = False) -> None:
        if isinstance(node, dict):
            if not keyed_by_name:
                unknown.update(key for key in node if key not in KEYWORDS)
            for key, value in node.items():
                if keyed_by_name:
                    walk(value)
                elif key in SCHEMA_MAPS:
                    walk(value, keyed_by_name=True)
                elif key not in ("enum", "const", "default", "examples", "required"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(SCHEMA)
    assert unknown == set()


def test_every_pattern_is_an_ecma_262_and_a_python_expression() -> None:
    """Editors run patterns in JavaScript; check-jsonschema in regress; jsonschema in Python."""
    patterns: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(SCHEMA)
    assert len(patterns) >= 10
    for pattern in patterns:
        regress.Regex(pattern)
        regress.Regex(pattern, "u")
        re.compile(pattern)


def test_factory5g_schema_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMA


def test_laws_offer_their_written_forms_and_traces_for_delays_only() -> None:
    """A time law may be any of the laws, a measured trace included; a size law all but trace."""

    def offered(name: str) -> set[str]:
        options = SCHEMA["$defs"][name]["anyOf"]
        return {key for option in options for key in option.get("properties", {})}

    assert offered("time-law") == set(LAW_NAMES)
    assert offered("size-law") == set(LAW_NAMES) - {"trace"}
    assert offered("time-law.partial") == set(LAW_NAMES)


def test_every_field_of_every_block_is_described() -> None:
    """Each block's definition lists exactly the model's keys (by their written names), each
    with a description, so that an editor completes and explains all of them."""
    from sim.scenario import schema as models

    blocks = [
        value
        for value in vars(models).values()
        if isinstance(value, type)
        and issubclass(value, models.Strict)
        and value is not models.Strict
    ]
    assert len(blocks) >= 15
    for block in blocks:
        if block.__name__ not in SCHEMA["$defs"]:
            continue  # a base class no file writes
        # an outage is only ever in a list, which replaces the inherited one whole: no partial one
        for name in (block.__name__, f"{block.__name__}.partial"):
            if name not in SCHEMA["$defs"]:
                assert name == "Outage.partial"
                continue
            definition = SCHEMA["$defs"][name]
            if "anyOf" in definition:  # a block that may also be written by name (a preset)
                definition = next(d for d in definition["anyOf"] if "properties" in d)
            properties = definition["properties"]
            keys = {info.alias or key for key, info in block.model_fields.items()}
            assert set(properties) == keys, name
    presets = SCHEMA["$defs"]["Requirement"]["anyOf"][1]["enum"]
    assert "5qi-82" in presets and "motion-control" in presets
    described = SCHEMA["$defs"]["EthernetNetwork"]["properties"]
    assert described["rate"]["description"] and described["rate"]["default"] == "100Mbps"


# ---------------------------------------------------------------------- files people write


@pytest.mark.parametrize("path", SHIPPED + CONTRACT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_and_contract_scenario_is_accepted(path: Path) -> None:
    load_scenario(path)  # the loader accepts it
    assert schema_errors(read(path)) == []


def test_check_jsonschema_accepts_every_shipped_file(tmp_path: Path) -> None:
    """As the README tells a user to check files, `factory5g schema | check-jsonschema
    --schemafile - FILES` (check-jsonschema reads YAML with ruamel and matches patterns with
    regress, an ECMA-262 engine), and with the schema written to a file."""
    printed = subprocess.run(
        [sys.executable, "-m", "sim", "schema"], capture_output=True, text=True, check=True
    ).stdout
    schema = tmp_path / "factory5g.schema.json"
    assert main(["schema", "--out", str(schema)]) == 0
    for source, stdin in (("-", printed), (str(schema), None)):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "check_jsonschema",
                "--schemafile",
                source,
                *map(str, SHIPPED + CONTRACT),
            ],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


BASE = read(FIXTURES / "line3-intranet.yaml")


DELETE = "<delete>"


def whole(change: dict[str, Any], base: Any = BASE) -> dict[str, Any]:
    """The line 3 baseline, a whole file, edited by ``change``: mappings key by key, ``DELETE``
    removes a key, anything else (``None`` too) is written as it is."""
    edited = dict(base)
    for key, value in change.items():
        if value == DELETE:
            edited.pop(key, None)
        elif isinstance(value, dict) and isinstance(edited.get(key), dict):
            edited[key] = whole(value, edited[key])
        else:
            edited[key] = value
    return edited


# (what a user wrote, as a whole file or as a file extending the baseline)
REFUSED: dict[str, tuple[str, dict[str, Any]]] = {
    "duration: banana": ("extends", {"duration": "banana"}),
    "service_time: 5 parsecs": ("extends", {"brokers": {"edge": {"service_time": "5 parsecs"}}}),
    "a misspelt network key": ("extends", {"networks": {"plant-lan": {"hopps": 3}}}),
    "a misspelt key in a stream": (
        "extends",
        {"machines": {"robot": {"streams": {"joints": {"evry": "4ms"}}}}},
    ),
    "a misspelt top-level key": ("extends", {"replication": 3}),
    "a negative rate": ("extends", {"networks": {"wan": {"rate": "-50Mbps"}}}),
    "a negative Poisson rate": (
        "extends",
        {"machines": {"sensors": {"streams": {"env": {"poisson": "-2/s"}}}}},
    ),
    "a zero period": (
        "extends",
        {"machines": {"robot": {"streams": {"joints": {"every": "0ms"}}}}},
    ),
    "an unknown network kind": (
        "extends",
        {"networks": {"plant-5g": {"kind": "wifi6", "rate": "1Gbps"}}},
    ),
    "rate in lowercase mbps": ("extends", {"networks": {"wan": {"rate": "100 mbps"}}}),
    "a size where a time belongs": ("extends", {"warmup": "2kB"}),
    "a bare number for a time": ("extends", {"duration": 30}),
    "a percentage below zero": (
        "extends",
        {"networks": {"plant-lan": {"cross_traffic": {"load": "-5%"}}}},
    ),
    "a load of 1.5 as a number": (
        "extends",
        {"networks": {"plant-lan": {"cross_traffic": {"load": 1.5}}}},
    ),
    "an unknown law": ("extends", {"networks": {"wan": {"latency": {"gamma": "8ms"}}}}),
    "a uniform with one bound": (
        "extends",
        {"networks": {"wan": {"latency": {"uniform": ["8ms"]}}}},
    ),
    "a trace of payload sizes": (
        "extends",
        {"machines": {"vision": {"streams": {"frame": {"payload": {"trace": "sizes.csv"}}}}}},
    ),
    "a wildcard in a topic to publish on": (
        "extends",
        {"machines": {"robot": {"streams": {"joints": {"topic": "plant/+/joints"}}}}},
    ),
    "a TDD pattern with a letter that is no slot": (
        "extends",
        {"networks": {"plant-5g": {"kind": "nr5g", "tdd_pattern": "DDXSU"}}},
    ),
    "QoS 3": ("extends", {"machines": {"robot": {"streams": {"joints": {"qos": 3}}}}}),
    "a count of zero": ("extends", {"machines": {"robot": {"count": 0}}}),
    "a list where a uniform's bound should be null": (
        "extends",
        {"networks": {"wan": {"latency": {"uniform": [None, "8ms"]}}}},
    ),
    "an outage in a replaced list missing its duration": (
        "extends",
        {"networks": {"wan": {"outages": [{"start": "1s"}]}}},
    ),
    "a name with a slash": ("extends", {"name": "plant/line3"}),
    "a machine class climbing out": (
        "extends",
        {"machines": {"../x": {"network": "wan", "broker": "edge", "streams": {}}}},
    ),
    "a whole file without machines": ("whole", {"machines": DELETE}),
    "a whole file whose stream has no payload": (
        "whole",
        {"machines": {"robot": {"streams": {"joints": {"payload": DELETE}}}}},
    ),
    "a whole file with a stream both periodic and Poisson": (
        "whole",
        {"machines": {"robot": {"streams": {"joints": {"poisson": "2/s"}}}}},
    ),
    "a whole file with hops: null": ("whole", {"networks": {"plant-lan": {"hops": None}}}),
    "a whole file with a network without kind": (
        "whole",
        {"networks": {"extra": {"rate": "1Gbps"}}},
    ),
}

ACCEPTED: dict[str, tuple[str, dict[str, Any]]] = {
    "an extending file with a name only": ("extends", {"name": "renamed"}),
    "a dotted name": ("extends", {"name": "line3.v2_upgrade-5g"}),
    "null removes an inherited block": ("extends", {"networks": {"plant-lan": {"cross_traffic": None}}}),
    "null removes a default-valued key": ("extends", {"networks": {"wan": {"rate": None}}}),
    "a partial network without kind": ("extends", {"networks": {"plant-lan": {"hops": 4}}}),
    "a stream changed in one field": ("extends", {"machines": {"robot": {"streams": {"joints": {"qos": 1}}}}}),
    "a new 5G network from its profile alone": (
        "extends",
        {"networks": {"cell": {"kind": "nr5g", "profile": "urllc"}}, "machines": {"robot": {"network": "cell"}}},
    ),
    "a whole file with a 5G profile and two overrides": (
        "whole",
        {
            "networks": {"cell": {"kind": "nr5g", "profile": "sa-midband", "tdd_pattern": "DDSUU", "mcs": 16}},
            "machines": {"robot": {"network": "cell"}},
        },
    ),
    "a whole file with cross_traffic: null": ("whole", {"networks": {"plant-lan": {"cross_traffic": None}}}),
    "quantities with blanks and exponents": (
        "whole",
        {"networks": {"wan": {"latency": " 8 ms ", "rate": "5e1Mbps", "loss": "0.01%"}}},
    ),
    "a zero without a unit": ("whole", {"machines": {"robot": {"streams": {"joints": {"jitter": 0}}}}}),
    "a fraction as a plain number": ("whole", {"networks": {"wan": {"loss": 0.0001}}}),
    "every law": (
        "whole",
        {
            "networks": {"wan": {"latency": {"lognormal": {"median": "6ms", "p99": "10ms"}}}},
            "machines": {
                "robot": {"streams": {"joints": {"payload": {"normal": {"mean": "60B", "std": "5B"}}}}},
                "vision": {"streams": {"frame": {"payload": {"exponential": "150kB"}}}},
            },
        },
    ),
    "once a second written /s": ("whole", {"machines": {"sensors": {"streams": {"env": {"poisson": "/s"}}}}}),
    "FDD in lower case": (
        "whole",
        {"networks": {"cell": {"kind": "nr5g", "tdd_pattern": "fdd"}}, "machines": {"robot": {"network": "cell"}}},
    ),
}  # fmt: skip


def written(tmp_path: Path, form: str, change: dict[str, Any]) -> tuple[Path, Any]:
    """The file a user would write for ``change``, and the document the schema sees."""
    (tmp_path / "line3-intranet.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    document = {"extends": "line3-intranet.yaml", **change} if form == "extends" else whole(change)
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    (tmp_path / "sizes.csv").write_text("100\n200\n", encoding="utf-8")
    return path, document


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_mistake_the_loader_refuses_the_schema_refuses(tmp_path: Path, case: str) -> None:
    form, change = REFUSED[case]
    path, document = written(tmp_path, form, change)
    with pytest.raises(ScenarioError):
        load_scenario(path)
    assert schema_errors(document), f"the schema lets '{case}' through"


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_a_file_the_loader_accepts_the_schema_accepts(tmp_path: Path, case: str) -> None:
    form, change = ACCEPTED[case]
    path, document = written(tmp_path, form, change)
    load_scenario(path)
    assert schema_errors(document) == []


def test_check_jsonschema_refuses_the_usual_mistakes(tmp_path: Path) -> None:
    """The README's promise, through the real command: banana, parsecs, a typo, a negative rate."""
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    for case in (
        "duration: banana",
        "service_time: 5 parsecs",
        "a misspelt network key",
        "a negative rate",
    ):
        form, change = REFUSED[case]
        path, _ = written(tmp_path, form, change)
        done = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--schemafile", str(schema), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1, f"{case}: {done.stdout}"
        assert "case.yaml" in done.stdout


# ---------------------------------------------------------------- quantities, string by string


def loader_reads(quantity: Quantity, value: Any, sign: Sign) -> bool:
    try:
        number = quantity.parse(value)
    except UnitError:
        return False
    if sign == "positive":
        return number > 0
    if sign == "nonnegative":
        return number >= 0
    return True


UNITS = sorted(
    {unit for quantity in QUANTITIES for unit in quantity.units}
    | {"", "mbps", "MS", "parsecs", "sec", "m s"}
)
TEXT = st.builds(
    lambda blank1, sign, digits, point, decimals, exponent, blank2, unit, blank3: (
        f"{blank1}{sign}{digits}{point}{decimals}{exponent}{blank2}{unit}{blank3}"
    ),
    st.sampled_from(["", " ", "\t", "  ", "\n"]),
    st.sampled_from(["", "+", "-", "--"]),
    st.sampled_from(["", "0", "00", "1", "10", "0007", "5" * 18, "5" * 19, "٣"]),
    st.sampled_from(["", ".", ".."]),
    st.sampled_from(["", "0", "5", "000", "25", "0" * 18 + "1", "1" * 19]),
    st.sampled_from(["", "e3", "E-2", "e+99", "e100", "e-400", "e", "e1.5"]),
    st.sampled_from(["", " ", "\t"]),
    st.sampled_from(UNITS),
    st.sampled_from(["", " ", "\n", "x"]),
)
VALIDISH = st.builds(
    lambda sign, whole, decimals, exponent, blank, unit: (
        f"{sign}{whole}{decimals}{exponent}{blank}{unit}"
    ),
    st.sampled_from(["", "", "+", "-"]),
    st.integers(0, 10**6).map(str),
    st.one_of(st.just(""), st.integers(0, 999).map(lambda n: f".{n}")),
    st.one_of(st.just(""), st.integers(-120, 120).map(lambda n: f"e{n}")),
    st.sampled_from(["", "", " "]),
    st.sampled_from(UNITS),
)
QUANTITY_SIGNS = [(q, sign) for q in QUANTITIES for sign in ("any", "nonnegative", "positive")]
VALIDATORS = {
    (q.name, sign): Draft202012Validator(quantity_schema(q, sign)) for q, sign in QUANTITY_SIGNS
}
ECMA = {(q.name, sign): regress.Regex(q.pattern(sign), "u") for q, sign in QUANTITY_SIGNS}


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(VALIDISH, TEXT, st.text(max_size=12)))
def test_schema_patterns_and_the_loader_agree_on_every_string(text: str) -> None:
    """For each quantity and sign, the schema (Python's jsonschema, and the pattern in an ECMA-262
    engine) accepts a string exactly when the loader reads it as a value of that sign."""
    for quantity, sign in QUANTITY_SIGNS:
        expected = loader_reads(quantity, text, sign)
        assert VALIDATORS[(quantity.name, sign)].is_valid(text) == expected, (quantity.name, sign)
        assert (ECMA[(quantity.name, sign)].find(text) is not None) == expected, (
            quantity.name,
            sign,
        )


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False), st.booleans()
    )
)
def test_schema_and_the_loader_agree_on_plain_numbers(value: Any) -> None:
    """A plain number is a fraction's value, or a 0 of any quantity; never a boolean."""
    for quantity, sign in QUANTITY_SIGNS:
        expected = loader_reads(quantity, value, sign)
        assert VALIDATORS[(quantity.name, sign)].is_valid(value) == expected, (
            quantity.name,
            sign,
            value,
        )
