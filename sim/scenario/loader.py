"""Reading a scenario file: YAML, ``extends:`` inheritance, validation, and errors people can act on.

:func:`load_scenario` turns a path into a validated :class:`~sim.scenario.schema.Scenario`, or raises
a :class:`~sim.scenario.errors.ScenarioError` that names the file and the field path of every problem
(an unknown key with the closest valid key, a value without a unit, a broker that is not defined,
a YAML syntax error with its line). Nothing a user can write makes it fail with a traceback.

Inheritance. ``extends: base.yaml`` (relative to the extending file's directory) loads the base,
itself possibly extending another, and merges the extending file on top of it:

- mappings merge key by key, recursively;
- anything else (a quantity, a string, a list) in the extending file replaces the base's value;
- a key set to ``null`` (``cross_traffic: null``, or ``~``) removes that key from the merged mapping,
  so the field falls back to its default, or an inherited machine, network, ... disappears;
- the merged ``extends`` is the extending file's own.

Files named inside a scenario (a ``trace`` law's measured delays) are relative to the scenario file
that names them: each file's relative trace paths are made absolute while that file is read, before
the merge, so a base file's trace stays right when an upgrade in another folder extends it.

YAML is read with PyYAML's safe loader, made stricter in one way: a key written twice in the same
mapping is an error instead of the last one silently winning.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import types
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sim.scenario import laws
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.files import not_a_regular_file, read_bytes, shown
from sim.scenario.paths import PathError, assign, locate, nested
from sim.scenario.schema import (
    NAME_RULE,
    NETWORK_KINDS,
    Scenario,
    check_references,
    limit_reason,
    model_kind,
)
from sim.scenario.units import Quantity

COMMAND_LINE = "the command line"
SWEPT = "swept: "  # the source of a value a sweep point set (load_scenario's ``point``)

# --------------------------------------------------------------------------------------- reading


# libyaml's parser when PyYAML was built with it: the same documents, several times faster.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 10_000_000  # a scenario file; the largest shipped one is a few kB
MAX_VALUES = 100_000  # values in a file once its aliases are expanded (a billion laughs is 10^9)
MAX_EXTENDS = 32  # files in one extends chain

# YAML 1.2 core schema (yaml.org/spec/1.2.2, 10.3): what a plain scalar means. PyYAML follows YAML
# 1.1, where `yes`, `no`, `on` and `off` are booleans, `1:30` is 90 (base 60), `012` is octal and
# `2026-01-01` a date; here they are text, as in YAML 1.2 and in editors' YAML servers.
_YAML12 = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
)


class _Digits(str):
    """A written number too long to be one a scenario needs (validation refuses it by field)."""


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: object, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line, self.first_line = key, line, first_line


class _StrictSafeLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """PyYAML's safe loader reading plain scalars as YAML 1.2 does, and refusing a key given twice
    in one mapping."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                # Keys pulled in by a '<<' merge may be overridden; only literal keys count.
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                    key_node, yaml.ScalarNode
                ):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _DuplicateKey(key, line, seen[key])
                seen[key] = line
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = self.construct_scalar(node)
        if len(text) > 100:  # no scenario number has more digits; Python refuses 4,300 of them
            return _Digits(text)  # type: ignore[return-value]  # refused by the field, by name
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)  # '012' is twelve, as in YAML 1.2

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = self.construct_scalar(node).lower()
        if text.endswith(".inf"):
            return -math.inf if text.startswith("-") else math.inf
        if text == ".nan":
            return math.nan
        return float(text)


for _tag, _regexp, _first in _YAML12:
    _StrictSafeLoader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))
_StrictSafeLoader.add_constructor("tag:yaml.org,2002:int", _StrictSafeLoader.construct_yaml_int)
_StrictSafeLoader.add_constructor("tag:yaml.org,2002:float", _StrictSafeLoader.construct_yaml_float)


def _read_mapping(path: Path) -> dict[Any, Any]:
    """The top-level mapping of one YAML file, without following ``extends``."""
    name = shown(path)
    try:
        raw = read_bytes(path, "scenario file", MAX_FILE_BYTES)
    except ValueError as err:
        raise ScenarioError(str(err), file=name) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError("not a text file (it is not UTF-8)", file=name) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ScenarioError(f"line {line}: a NUL character; a scenario is plain text", file=name)
    try:
        data = yaml.load(text, Loader=_StrictSafeLoader)  # a SafeLoader subclass
    except _DuplicateKey as err:
        raise ScenarioError(
            f"line {err.line}: key {err.key!r} is given twice (first at line {err.first_line}); "
            "only one value can apply",
            file=name,
        ) from None
    except yaml.MarkedYAMLError as err:
        raise ScenarioError(_yaml_message(err), file=name) from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise ScenarioError(f"invalid YAML: {err}", file=name) from None
    if data is None:
        raise ScenarioError(
            "the file is empty; a scenario is a mapping with keys such as name, duration, "
            "networks, brokers and machines",
            file=name,
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            f"the top level must be a mapping of keys to values (name: ..., machines: ...), "
            f"not {_kind_of(data)}",
            file=name,
        )
    count = _expanded_size(data)
    if count is None:
        raise ScenarioError("a YAML alias refers to itself", file=name)
    if count > MAX_VALUES:
        raise ScenarioError(
            f"its aliases expand to more than {MAX_VALUES:,} values (a YAML bomb?); write the "
            "values out or use fewer nested aliases",
            file=name,
        )
    return data


def _expanded_size(data: Any) -> int | None:
    """How many values ``data`` holds once every alias is expanded (shared objects counted each
    time they are referred to, in time linear in the distinct ones); None for a cycle."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(value: Any) -> int | None:
        if not isinstance(value, (dict, list)):
            return 1
        key = id(value)
        if key in sizes:
            return sizes[key]
        if key in open_:
            return None
        open_.add(key)
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1
        for item in items:
            inner = size(item)
            if inner is None:
                return None
            total = min(total + inner, MAX_VALUES + 1)  # no need to count further
        open_.discard(key)
        sizes[key] = total
        return total

    try:
        return size(data)
    except RecursionError:
        return None


def _yaml_message(err: yaml.MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = err.problem or "cannot parse"
    context = f" ({err.context})" if err.context else ""
    return f"invalid YAML at {where}{problem}{context}"


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"the value {_show(value)}"


# -------------------------------------------------------------------------------------- extends


def merge(base: Mapping[Any, Any], child: Mapping[Any, Any]) -> dict[Any, Any]:
    """``child`` merged on top of ``base``: mappings recursively, other values replaced, ``None`` deletes.

    Neither argument is modified; the result shares no mapping with them.
    """
    merged = {key: _copy(value) for key, value in base.items()}
    for key, value in child.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping):
            below = merged.get(key)
            merged[key] = merge(below if isinstance(below, Mapping) else {}, value)
        else:
            merged[key] = _copy(value)
    return merged


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


@dataclass
class _Loaded:
    """A merged mapping and the files it came from, the extending file first."""

    data: dict[Any, Any]
    sources: list[tuple[str, Mapping[Any, Any]]] = field(default_factory=list)


def _display(path: Path) -> str:
    return os.path.normpath(path) if "\x00" not in str(path) else str(path)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop: _regular_file has refused it already
        return path.absolute()


def _load_chain(path: Path, chain: tuple[tuple[Path, str], ...] = ()) -> _Loaded:
    """Read ``path`` and the files it extends; ``chain`` holds the extending files seen so far."""
    name = _display(path)
    try:
        own = _resolve_files(_read_mapping(path), path.parent)
    except RecursionError:
        raise ScenarioError("a YAML alias refers to itself", file=name) from None
    target = own.get("extends")
    if target is None:
        return _Loaded(dict(own), [(name, own)])
    if not isinstance(target, str) or not target.strip():
        raise ScenarioError(
            f"expected the file name of the scenario to extend, like 'baseline.yaml', "
            f"got {_show(target)}",
            file=name,
            path="extends",
        )
    base_path = path.parent / target
    base_name = _display(base_path)
    if len(chain) + 1 >= MAX_EXTENDS:
        raise ScenarioError(
            f"the extends chain is longer than {MAX_EXTENDS} files (it goes on at {name})",
            file=chain[0][1] if chain else name,
            path="extends",
        )
    if "\x00" in target:
        raise ScenarioError(
            "the file name to extend contains a NUL byte", file=name, path="extends"
        )
    chain = (*chain, (_resolved(path), name))
    resolved = [file for file, _ in chain]
    if _resolved(base_path) in resolved:
        start = resolved.index(_resolved(base_path))
        cycle = " -> ".join([*(shown for _, shown in chain[start:]), base_name])
        raise ScenarioError(f"forms a cycle: {cycle}", file=name, path="extends")
    problem = not_a_regular_file(base_path, "scenario file to extend")
    if problem == "file not found":
        looked = f" (looked for {shown(base_name)})" if base_name != target else ""
        raise ScenarioError(
            f"cannot find the file to extend, '{shown(target)}'{looked}", file=name, path="extends"
        )
    if problem is not None:
        raise ScenarioError(f"{shown(target)}: {problem}", file=name, path="extends")
    base = _load_chain(base_path, chain)
    try:
        data = merge(base.data, own)
    except RecursionError:
        raise ScenarioError("a YAML alias refers to itself", file=name) from None
    return _Loaded(data, [(name, own), *base.sources])


def _resolve_files(data: Any, folder: Path) -> Any:
    """``data`` with the file of every ``trace`` law made absolute, relative to ``folder``.

    A trace law is a one-key mapping ``{trace: FILE}`` or ``{trace: {file: FILE, ...}}``; nothing
    else is touched (anything else shaped like it would not validate anyway).
    """

    def absolute(file: str) -> str:
        return os.path.abspath(folder / Path(file).expanduser())

    if isinstance(data, list):
        return [_resolve_files(item, folder) for item in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1 and "trace" in data:
        written = data["trace"]
        if isinstance(written, str) and written.strip():
            return {"trace": absolute(written)}
        if isinstance(written, dict) and isinstance(written.get("file"), str):
            return {"trace": {**written, "file": absolute(written["file"])}}
    return {key: _resolve_files(value, folder) for key, value in data.items()}


def load_raw(path: str | Path) -> dict[Any, Any]:
    """The mapping a scenario file describes once its ``extends`` chain is merged; not validated."""
    return _load_chain(Path(path)).data


# ----------------------------------------------------------------------------------- validation


def parse_value(text: str) -> Any:
    """A value written on the command line, read as the same text in a scenario file would be
    (YAML 1.2 scalars: ``4`` a number, ``true`` a boolean, ``10ms`` and ``DDDSU`` text; ``[a, b]``
    a list)."""
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)
    except yaml.YAMLError:
        return text


def load_scenario(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    point: Mapping[str, Any] | None = None,
) -> Scenario:
    """Read, merge and validate a scenario file; raise :class:`ScenarioError` on any problem.

    ``overrides`` (top-level keys such as ``seed``, ``replications``, ``duration``) apply on top of
    the merged file before validation; a value of ``None`` there means "not given". ``duration``
    may be a string with a unit or a number of seconds. ``point`` sets fields by their dotted
    paths (:mod:`sim.scenario.paths`), as a sweep does; a problem with one of them says so. A
    point is one run: the file's ``sweep:`` block does not carry over to it.
    """
    path = Path(path)
    return _validated(_load_chain(path), _display(path), overrides, point)


def load_points(
    path: str | Path,
    overrides: Mapping[str, Any] | None,
    points: Sequence[Mapping[str, Any]],
) -> list[Scenario]:
    """:func:`load_scenario` at each of ``points``, the file read once; one
    :class:`ScenarioError` lists the problems of every point (each said once)."""
    path = Path(path)
    loaded, top = _load_chain(path), _display(path)
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for point in points:
        try:
            scenarios.append(_validated(loaded, top, overrides, point))
        except ScenarioError as error:
            problems.extend(p for p in error.problems if p not in problems)
    if problems:
        raise ScenarioError(problems=problems)
    return scenarios


def _validated(
    loaded: _Loaded,
    top: str,
    overrides: Mapping[str, Any] | None,
    point: Mapping[str, Any] | None,
) -> Scenario:
    """The scenario of a file's merged mapping, with ``overrides`` and ``point`` applied."""
    data = loaded.data
    sources = list(loaded.sources)
    given = _overrides(overrides)
    if given:
        data = merge(data, given)
        sources.insert(0, (COMMAND_LINE, given))
    if point is not None:
        if not given:  # merge made a copy already; else the loaded mapping serves other points
            data = _copy(data)
        data.pop("sweep", None)
    for field_path, value in (point or {}).items():
        try:
            keys = locate(data, field_path)
        except PathError as error:
            raise ScenarioError(str(error), file=top, path=field_path) from None
        assign(data, keys, _copy(value))
        sources.insert(0, (f"{SWEPT}{field_path}={_show(value)}", nested(keys, value)))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(problems=_problems(err, top, data, sources)) from None
    except RecursionError:
        raise ScenarioError("a YAML alias refers to itself", file=top) from None
    except Exception as err:  # a validator that tripped over input nobody foresaw
        raise ScenarioError(f"cannot validate this scenario: {err}", file=top) from err
    references = check_references(scenario)
    if not references and scenario.engine == "fast":
        from sim.engines import out_of_scope

        references = [
            (
                "engine",
                f"the fast engine cannot run this scenario exactly: {reason}; use auto or event",
            )
            for reason in out_of_scope(scenario)
        ]
    if references:
        raise ScenarioError(
            problems=[
                Problem(top, where, message + _origin(where.split("."), top, sources))
                for where, message in references
            ]
        )
    return scenario


def _overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    duration = given.get("duration")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool):
        given["duration"] = f"{duration!r}s"
    return given


# A field whose check reads another: where that other one came from is said too.
_RELATED: dict[tuple[str, ...], tuple[str, ...]] = {("warmup",): ("duration",)}


def _problems(
    error: ValidationError,
    top: str,
    data: Mapping[Any, Any],
    sources: list[tuple[str, Mapping[Any, Any]]],
) -> list[Problem]:
    problems: list[Problem] = []
    for detail in error.errors():
        where, message = _explain(detail, data)
        message += _origin(where, top, sources)
        for other in _RELATED.get(tuple(map(str, where)), ()):
            source = _source([other], sources)
            if source == COMMAND_LINE:
                message += f"; the {other} was given on the command line"
            elif source not in (None, top):
                message += f"; the {other} is set in {source}"
        problem = Problem(top, ".".join(str(part) for part in where) or None, message)
        if problem not in problems:
            problems.append(problem)
    return _one_per_field(problems)


def _one_per_field(problems: list[Problem]) -> list[Problem]:
    """One line per field: a value one of several forms may take (a host class or a delay law)
    fails each of them, and the line says what each would have needed."""
    merged: list[Problem] = []
    for problem in problems:
        index = next(
            (i for i, p in enumerate(merged) if p.path is not None and p.path == problem.path),
            None,
        )
        if index is None:
            merged.append(problem)
        else:
            first = merged[index]
            merged[index] = Problem(
                first.file, first.path, f"{first.message}; or {problem.message}"
            )
    return merged


def _source(where: list[Any], sources: list[tuple[str, Mapping[Any, Any]]]) -> str | None:
    """Which file (or the command line) wrote the value at ``where``."""
    if not where:
        return None
    for name, mapping in sources:
        if _lookup(mapping, where)[0]:
            return name
    return None


def _origin(where: list[Any], top: str, sources: list[tuple[str, Mapping[Any, Any]]]) -> str:
    """Which file (or the command line) wrote the value at ``where``, when not the top file."""
    source = _source(where, sources)
    if source is None or source == top:
        return ""
    if source.startswith(SWEPT):
        return f" ({source})"
    return " (given on the command line)" if source == COMMAND_LINE else f" (set in {source})"


# ---------------------------------------------------------------------- pydantic loc -> field path

_INTERNAL_TAG = re.compile(r"^[a-z][\w-]*\[.*\]$")  # e.g. function-before[parse_time(), float]
_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "dict", "constrained-float"}
_LAW_CLASSES = (
    laws.Constant,
    laws.Uniform,
    laws.Lognormal,
    laws.Normal,
    laws.Exponential,
    laws.Trace,
)


@dataclass
class _Where:
    """Where a pydantic error points, in the terms of the file the user wrote."""

    path: list[Any]
    owner: type[BaseModel] | None = None  # the model whose keys the last path item is among
    formatter: Callable[[float], str] | None = None
    bad_key: bool = False  # the error is about a mapping key, not its value
    law: type[BaseModel] | None = None  # set when the error is inside a probability law
    reason: str | None = None  # why the field's bounds are where they are


def _locate(loc: tuple[Any, ...], data: Mapping[Any, Any]) -> _Where:
    """Walk the scenario model along pydantic's ``loc``, dropping its union tags and internals."""
    where = _Where([])
    kind: Any = Scenario
    metadata: list[Any] = []
    i = 0
    while i < len(loc):
        item = loc[i]
        kind, inner = _unwrap(kind)
        metadata = [*metadata, *inner]
        if item == "[key]":
            where.bad_key = True
            i += 1
            continue
        if isinstance(kind, type) and issubclass(kind, _LAW_CLASSES):
            where.law = kind
            where.path = _law_path(where.path, model_kind(kind) or "", loc[i:], data)
            return where
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            where.owner = kind
            where.path.append(item)
            info = _field(kind, item)
            if info is None:  # a key the model does not have
                return where
            kind, metadata = info.annotation, list(info.metadata)
            where.formatter = _formatter(kind, metadata)
            where.reason = limit_reason(where.owner, _name_of(where.owner, item))
            i += 1
            continue
        origin = get_origin(kind)
        if origin in (dict, list):
            where.path.append(item)
            kind, metadata = get_args(kind)[-1], []
            i += 1
            continue
        if origin in (Union, types.UnionType):
            members = [member for member in get_args(kind) if member is not type(None)]
            tagged = {model_kind(member): member for member in members}
            if item in tagged:
                kind = tagged[item]
                i += 1
                continue
            if len(members) == 1:
                kind = members[0]
                continue
            if isinstance(item, str) and (_INTERNAL_TAG.match(item) or item in _TYPE_TAGS):
                i += 1
                continue
        # Past what the model describes (e.g. inside a plain value): keep the rest as written.
        where.path.extend(
            part
            for part in loc[i:]
            if not (isinstance(part, str) and (_INTERNAL_TAG.match(part) or part == "[key]"))
        )
        return where
    if isinstance(kind, type) and issubclass(kind, _LAW_CLASSES):
        where.law = kind
    return where


def _unwrap(kind: Any) -> tuple[Any, list[Any]]:
    metadata: list[Any] = []
    while get_origin(kind) is Annotated:
        kind, *extra = get_args(kind)
        metadata.extend(extra)
    return kind, metadata


def _name_of(model: type[BaseModel], key: Any) -> str:
    """The model's own name of the field written ``key`` (``from`` is ``from_``)."""
    for name, info in model.model_fields.items():
        if key == (info.alias or name) or key == name:
            return name
    return str(key)


def _field(model: type[BaseModel], key: Any) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key == (info.alias or name) or key == name:
            return info
    return None


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _formatter(kind: Any, metadata: list[Any]) -> Callable[[float], str] | None:
    """How to write a bound of this field with its unit (the field's quantity tells)."""
    for item in metadata:
        if isinstance(item, Quantity):
            return item.format
    kind, inner = _unwrap(kind)
    if inner:
        return _formatter(kind, inner)
    if get_origin(kind) in (Union, types.UnionType):
        for member in get_args(kind):
            found = _formatter(member, [])
            if found:
                return found
    return None


def _law_path(
    path: list[Any], law: str, rest: tuple[Any, ...], data: Mapping[Any, Any]
) -> list[Any]:
    """The path of a law parameter as written (``latency.lognormal.median``, ``payload.uniform.0``)."""
    parameter = rest[0] if rest else None
    if law in ("constant", "exponential"):
        written: list[Any] = [law]
    elif law == "uniform":
        written = [law, {"low": 0, "high": 1}.get(str(parameter))]
    else:
        written = [law, parameter]
    longest = list(path)
    for part in written:
        if part is None or not _lookup(data, [*longest, part])[0]:
            break
        longest.append(part)
    return longest


def _lookup(data: Any, path: list[Any]) -> tuple[bool, Any]:
    for part in path:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and str(part).isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return False, None
    return True, data


# ----------------------------------------------------------------------------------- messages


def _explain(detail: Mapping[str, Any], data: Mapping[Any, Any]) -> tuple[list[Any], str]:
    """The written field path and a plain message for one pydantic error."""
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    loc = tuple(detail["loc"])
    where = _locate(loc, data)
    path = where.path
    law = f"{model_kind(where.law)}: " if where.law else ""
    found, value = _lookup(data, path)
    got = f", got {_show(value)}" if found else ""

    if kind == "extra_forbidden":
        return path, law + _unknown_key(loc[-1] if loc else "?", where.law or where.owner)
    if where.bad_key or kind == "invalid_key":
        key = _actual_key(data, path)
        if isinstance(key, str):
            return path[:-1], f"{_show(key)} is not a name: {NAME_RULE}"
        return path[:-1], (
            f"the name {_show(key)} is not text; put it in quotes "
            "(YAML reads unquoted numbers, true, false and null as other types)"
        )
    if kind in ("string_pattern_mismatch", "string_too_long") and where.reason == NAME_RULE:
        return path, f"{_show(value) if found else 'it'} is not a name: {NAME_RULE}"
    if kind == "missing":
        name = loc[-1] if loc else "?"
        if path and path[-1] == name and not where.law:
            path = path[:-1]
        return path, f"{law}missing required key '{name}'"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _bad_kind(kind, path, ctx, data)
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        message = str(error) if error is not None else _strip(detail["msg"])
        return path, message if message.startswith(law) else law + message
    limit = _limit_message(kind, ctx, where.formatter)
    if limit:
        return path, limit + got + (f" ({where.reason})" if where.reason else "")
    return path, _type_message(kind, ctx, detail["msg"]) + got


def _unknown_key(key: Any, owner: type[BaseModel] | None) -> str:
    allowed = _keys(owner) if owner is not None else []
    close = difflib.get_close_matches(str(key), allowed, n=1)
    if close:
        return f"unknown key '{key}'; did you mean '{close[0]}'?"
    if allowed:
        return f"unknown key '{key}'; allowed keys: {', '.join(allowed)}"
    return f"unknown key '{key}'"


def _bad_kind(
    kind: str, path: list[Any], ctx: Mapping[str, Any], data: Mapping[Any, Any]
) -> tuple[list[Any], str]:
    if path and path[0] == "networks":
        what, allowed = "network kind", list(NETWORK_KINDS)
    else:
        what = "kind"
        allowed = [tag.strip(" '") for tag in str(ctx.get("expected_tags", "")).split(",") if tag]
    listed = ", ".join(allowed)
    if kind == "union_tag_not_found":
        return path, f"missing 'kind'; say which {what} this is: {listed}"
    found, tag = _lookup(data, [*path, "kind"])
    tag = tag if found else ctx.get("tag")
    close = difflib.get_close_matches(str(tag), allowed, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return [*path, "kind"], f"unknown {what} {_show(tag)}; allowed: {listed}{hint}"


def _limit_message(
    kind: str, ctx: Mapping[str, Any], formatter: Callable[[float], str] | None
) -> str | None:
    words = {
        "greater_than": ("gt", "must be greater than"),
        "greater_than_equal": ("ge", "must be at least"),
        "less_than": ("lt", "must be less than"),
        "less_than_equal": ("le", "must be at most"),
    }
    if kind not in words:
        return None
    key, text = words[kind]
    limit = ctx.get(key)
    if kind == "greater_than_equal" and limit == 0:
        return "must not be negative"
    if isinstance(limit, int) and not isinstance(limit, bool) and formatter is None:
        return f"{text} {limit:,}"
    if isinstance(limit, (int, float)) and limit != 0 and formatter is not None:
        return f"{text} {formatter(float(limit))}"
    return f"{text} {limit:g}" if isinstance(limit, (int, float)) else f"{text} {limit}"


def _type_message(kind: str, ctx: Mapping[str, Any], fallback: str) -> str:
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "expected a whole number"
    if kind in ("float_type", "float_parsing"):
        return "expected a number"
    if kind in ("string_type", "str_type"):
        return "expected text"
    if kind in ("bool_type", "bool_parsing"):
        return "expected true or false"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return "expected a mapping of keys to values"
    if kind in ("list_type", "tuple_type"):
        return "expected a list, like [a, b]"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length'):,} characters"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return f"needs at least {count} entr{'y' if count == 1 else 'ies'}"
    if kind == "too_long":
        return f"has more than {ctx.get('max_length')} entries"
    message = _strip(fallback)
    return message[:1].lower() + message[1:]


def _strip(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _actual_key(data: Mapping[Any, Any], path: list[Any]) -> Any:
    """The key as the YAML reader produced it (pydantic reports ``False`` as ``0``)."""
    if not path:
        return "?"
    found, parent = _lookup(data, path[:-1])
    if found and isinstance(parent, Mapping):
        for key in parent:
            if isinstance(key, Hashable) and key == path[-1] and not isinstance(key, str):
                return key
    return path[-1]


def _show(value: Any) -> str:
    """A value the way it would be written in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Digits):
        return f"a number of {len(value):,} digits"
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else f"{value[:60]!r}... ({len(value):,} characters)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, int) and value.bit_length() > 200:
        return f"a number of {math.floor(value.bit_length() * math.log10(2)) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["load_raw", "load_scenario", "merge"]
