"""The JSON Schema of scenario files, for editors and checkers (``factory5g schema``).

It describes the files people write, not the validated model: an editor pointed at it (VS Code's
YAML extension, ``check-jsonschema``) accepts every file the loader accepts and flags the usual
mistakes in place. It is derived from the pydantic models of :mod:`sim.scenario.schema`, the one
description of a scenario, with what those models cannot say about the written form:

- **Partial files.** A file with ``extends:`` says only what changes, so nothing is required in it,
  a mapping may be empty, and any key may be ``null`` (which removes it from the merged scenario,
  see :mod:`sim.scenario.loader`). Every block therefore has two definitions, ``Name`` for a whole
  scenario and ``Name.partial`` for a file that extends another; the root picks one by ``extends``.
- **Quantities** are strings whose ``pattern`` is the very expression the loader reads them with
  (:meth:`sim.scenario.units.Quantity.pattern`), refusing a negative value where the field is
  positive; the number ``0`` where a zero needs no unit, and plain numbers for fractions.
- **Laws** take their written forms (``6ms``, ``{uniform: [a, b]}``, ``{lognormal: {median, p99}}``,
  ...; ``trace`` for delays only), see :mod:`sim.scenario.laws`.
- **Networks** are chosen by ``kind`` (``if``/``then`` per kind, so an error speaks of that kind
  only); a partial network without ``kind`` may use the keys of any kind.
- **5G cells**: every radio field may be left to the ``profile``.

Only JSON Schema (draft 2020-12) keywords appear, and every pattern is an ECMA-262 expression.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, StringConstraints
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.scenario import laws
from sim.scenario.laws import LawOf
from sim.scenario.schema import Scenario, limit_reason, model_kind
from sim.scenario.units import Quantity, Sign

DIALECT = "https://json-schema.org/draft/2020-12/schema"
NULL = {"type": "null"}


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    whole = _Builder()
    partial = _Builder(whole)
    whole.model(Scenario)
    partial.model(Scenario)
    top = {
        name: {"description": info.description} if info.description else {}
        for name, info in Scenario.model_fields.items()
    }
    return {
        "$schema": DIALECT,
        "title": "factory5g scenario",
        "description": "A plant for the factory5g testbed: machines and their MQTT telemetry, the "
        "networks, brokers, bridges and subscribers. A file with 'extends:' names a baseline "
        "file and gives only what changes; null removes an inherited key.",
        "type": "object",
        "properties": top,  # for completion; the branches below check
        "if": {"required": ["extends"], "properties": {"extends": {"type": "string"}}},
        "then": {"$ref": "#/$defs/Scenario.partial"},
        "else": {"$ref": "#/$defs/Scenario"},
        "$defs": {**whole.defs, **partial.defs},
    }


class _Builder:
    """Writes the definitions of the blocks of a whole scenario file, or, given the builder of
    whole files (``whole``), of a file that extends another: there every mapping is partial (no key
    required, none needed, any key may be null), while a list or a single value replaces the
    inherited one whole and so keeps every rule of a whole file."""

    def __init__(self, whole: _Builder | None = None) -> None:
        self.whole = whole
        self.partial = whole is not None
        self.defs: dict[str, dict[str, Any]] = whole.defs if whole is not None else {}

    def _name(self, name: str) -> str:
        return f"{name}.partial" if self.partial else name

    def _ref(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/$defs/{self._name(name)}"}

    def _define(self, name: str, write: Any) -> dict[str, Any]:
        """A reference to definition ``name``, written by ``write()`` the first time (partial
        definitions also accept null, so references to them need no wrapping)."""
        if self._name(name) not in self.defs:
            self.defs[self._name(name)] = {}  # a placeholder while it is being written
            schema = write()
            self.defs[self._name(name)] = nullable(schema) if self.partial else schema
        return self._ref(name)

    def nullable(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` or null; a reference in a partial file points at a definition that is."""
        if "$ref" in schema and self.partial:
            return schema
        return nullable(schema)

    # ------------------------------------------------------------------------------- models

    def model(self, model: type[BaseModel]) -> dict[str, Any]:
        names = getattr(model, "written_as", None)  # a block that may also be written by name
        if names:
            return self._define(
                model.__name__, lambda: {"anyOf": [self._object(model), {"enum": sorted(names)}]}
            )
        return self._define(model.__name__, lambda: self._object(model))

    def _object(self, model: type[BaseModel]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        filled = getattr(model, "profile_fields", frozenset())
        for field_name, info in model.model_fields.items():
            key = info.alias or field_name
            properties[key] = self.field(info)
            reason = limit_reason(model, field_name)
            if reason:
                text = properties[key].get("description", "")
                properties[key]["description"] = f"{text} (bounds: {reason})".lstrip()
            if field_name in filled:
                text = properties[key].get("description", "")
                properties[key]["description"] = f"{text} (default: the profile's)".lstrip()
            elif info.is_required():
                required.append(key)
        schema: dict[str, Any] = {"type": "object"}
        if model.__doc__:
            schema["description"] = _first_paragraph(model.__doc__)
        schema["properties"] = properties
        schema["additionalProperties"] = False
        if required and not self.partial:
            schema["required"] = required
        extra = model.model_config.get("json_schema_extra")
        if isinstance(extra, dict) and not self.partial:
            schema.update(extra)  # rules about whole blocks (e.g. one of 'every' or 'poisson')
        return schema

    def field(self, info: FieldInfo) -> dict[str, Any]:
        schema = self.annotation(info.annotation, list(info.metadata))
        if isinstance(info.json_schema_extra, dict):
            schema = {**schema, **info.json_schema_extra}
        if self.partial:
            schema = self.nullable(schema)
        described: dict[str, Any] = {}
        if info.description:
            described["description"] = info.description
        if info.default is not PydanticUndefined and info.default_factory is None:
            described["default"] = info.default
        return {**described, **schema}

    # -------------------------------------------------------------------------- annotations

    def annotation(self, kind: Any, metadata: list[Any]) -> dict[str, Any]:
        while get_origin(kind) is Annotated:
            kind, *more = get_args(kind)
            metadata = [*metadata, *more]
        for item in metadata:
            if isinstance(item, Quantity):
                schema = self.quantity(item, _sign(metadata))
                # numeric bounds hold only for the plain numbers a fraction may be written as
                return {**schema, **_bounds(metadata)} if item.bare_numbers else schema
            if isinstance(item, LawOf):
                return self.law(item.quantity)
        origin = get_origin(kind)
        if origin in (Union, types.UnionType):
            return self._union(list(get_args(kind)), metadata)
        if origin is Literal:
            values = list(get_args(kind))
            return {"const": values[0]} if len(values) == 1 else {"enum": values}
        if origin is dict:
            key, item = get_args(kind)
            value = self.annotation(item, [])
            schema = {
                "type": "object",
                "additionalProperties": self.nullable(value) if self.partial else value,
            }
            names = self.annotation(key, [])
            if set(names) - {"type"}:
                schema["propertyNames"] = names
            return {**schema, **_lengths(metadata, "Properties", self.partial)}
        if origin is list:
            items = (self.whole or self).annotation(get_args(kind)[0], [])  # a list is whole
            return {"type": "array", "items": items, **_lengths(metadata, "Items", False)}
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return self.model(kind)
        if kind is bool:
            return {"type": "boolean"}
        if kind is int:
            return {"type": "integer", **_bounds(metadata)}
        if kind is float:
            return {"type": "number", **_bounds(metadata)}
        if kind is str:
            schema = {"type": "string", **_lengths(metadata, "Length", False)}
            for item in metadata:
                if isinstance(item, StringConstraints):
                    if item.pattern is not None:
                        schema["pattern"] = item.pattern
                    if item.max_length is not None:
                        schema["maxLength"] = item.max_length
            return schema
        raise TypeError(f"no JSON Schema for {kind!r}")  # a new field type: teach it here

    def _union(self, members: list[Any], metadata: list[Any]) -> dict[str, Any]:
        optional = type(None) in members
        members = [m for m in members if m is not type(None)]
        if len(members) > 1 and all(model_kind(m) for m in members):
            schema = self._tagged(members)
        elif len(members) == 1:
            schema = self.annotation(members[0], metadata)
        else:
            schema = {"anyOf": [self.annotation(m, metadata) for m in members]}
        return nullable(schema) if optional else schema

    def _tagged(self, members: list[type[BaseModel]]) -> dict[str, Any]:
        """A block whose ``kind`` says which model it is (a network): each kind's own rules, and
        for completion and partial files without a kind, the keys of all of them."""
        name = _common_suffix([m.__name__ for m in members]) or "Kind"  # 'Network'

        def write() -> dict[str, Any]:
            kinds = [model_kind(member) for member in members]
            keys: dict[str, list[dict[str, Any]]] = {}
            for member in members:
                self.model(member)
                for key, schema in self.defs[self._name(member.__name__)]["properties"].items():
                    options = keys.setdefault(key, [])
                    if schema not in options:
                        options.append(schema)
            properties = {
                key: options[0] if len(options) == 1 else {"anyOf": options}
                for key, options in keys.items()
            }
            properties["kind"] = {"description": f"which {name.lower()} this is", "enum": kinds}
            schema: dict[str, Any] = {
                "type": "object",
                "description": f"a {name.lower()}: 'kind' says which ({', '.join(map(str, kinds))})",
                "properties": properties,
                "additionalProperties": False,
            }
            if not self.partial:
                schema["required"] = ["kind"]
            schema["allOf"] = [
                {
                    "if": {"required": ["kind"], "properties": {"kind": {"const": kind}}},
                    "then": self._ref(member.__name__),
                }
                for kind, member in zip(kinds, members, strict=True)
            ]
            return schema

        return self._define(name, write)

    def quantity(self, quantity: Quantity, sign: Sign) -> dict[str, Any]:
        """A reference to the definition of ``quantity`` with ``sign``."""
        name = quantity.name.replace(" ", "-") + ("" if sign == "any" else f".{sign}")
        return self._define(name, lambda: quantity_schema(quantity, sign))

    # ----------------------------------------------------------------------------------- laws

    def law(self, quantity: Quantity) -> dict[str, Any]:
        """The written forms of a law of ``quantity`` (see :mod:`sim.scenario.laws`)."""
        whole = self.whole or self

        def value(model: type[BaseModel], field: str) -> dict[str, Any]:
            return self.quantity(quantity, _sign(model.model_fields[field].metadata))

        def one(key: str, body: dict[str, Any], description: str) -> dict[str, Any]:
            schema = {
                "type": "object",
                "description": description,
                "properties": {key: body},
                "additionalProperties": False,
            }
            return schema if self.partial else {**schema, "required": [key]}

        def parameters(model: type[BaseModel], keys: tuple[str, ...]) -> dict[str, Any]:
            schema = {
                "type": "object",
                "properties": {key: value(model, key) for key in keys},
                "additionalProperties": False,
            }
            return self.nullable(schema) if self.partial else {**schema, "required": list(keys)}

        def write() -> dict[str, Any]:
            low = _sign(laws.Uniform.model_fields["low"].metadata)
            forms = {
                "constant": one("constant", value(laws.Constant, "value"), "always this value"),
                "uniform": one(
                    "uniform",  # a list: whole even in a partial file
                    {
                        "type": "array",
                        "items": whole.quantity(quantity, low),
                        "minItems": 2,
                        "maxItems": 2,
                    },
                    "uniform between two bounds, [low, high]",
                ),
                "lognormal": one(
                    "lognormal",
                    parameters(laws.Lognormal, ("median", "p99")),
                    "lognormal given by its median and 99th percentile",
                ),
                "normal": one(
                    "normal",
                    parameters(laws.Normal, ("mean", "std")),
                    "normal with a mean and a standard deviation, truncated at 0",
                ),
                "exponential": one(
                    "exponential", value(laws.Exponential, "mean"), "exponential with this mean"
                ),
                "trace": one(
                    "trace",
                    self.nullable(_TRACE) if self.partial else _TRACE,
                    "measured delays read from a file",
                ),
            }
            names = laws.law_names(quantity)
            constant = whole.quantity(quantity, _sign(laws.Constant.model_fields["value"].metadata))
            return {
                "description": f"a constant {quantity.name} (e.g. '{quantity.example}') or a "
                "law: " + ", ".join(names),
                "anyOf": [constant, *(forms[law] for law in names)],
            }

        return self._define(f"{quantity.name.replace(' ', '-')}-law", write)


_TRACE: dict[str, Any] = {
    "description": "a file of measured delays (one per line, or 'delay weight' histogram lines), "
    "relative to the scenario file",
    "anyOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "properties": {
                "file": {"type": "string", "minLength": 1},
                "unit": {"enum": list(laws.TIME_UNITS), "default": "ms"},
            },
            "required": ["file"],
            "additionalProperties": False,
        },
    ],
}


def quantity_schema(quantity: Quantity, sign: Sign = "any") -> dict[str, Any]:
    """A quantity as a scenario writes it: a string with its unit (the loader's own expression), or
    a plain number where one is read (0 in any unit; any number for a fraction)."""
    text = {
        "type": "string",
        "pattern": quantity.pattern(sign),
        "description": f"a {quantity.name} with its unit, e.g. '{quantity.example}' "
        f"(units: {quantity.allowed()})",
    }
    if quantity.bare_numbers:
        number: dict[str, Any] = {"type": "number"}
        if sign == "positive":
            number["exclusiveMinimum"] = 0
        elif sign == "nonnegative":
            number["minimum"] = 0
        return {"anyOf": [text, number]}
    if sign == "positive":
        return text
    return {"anyOf": [text, {"const": 0}]}


def _sign(metadata: list[Any]) -> Sign:
    """What a field's lower bound says of the sign of its values."""
    for item in metadata:
        if isinstance(item, annotated_types.Gt) and item.gt >= 0:
            return "positive"
        if isinstance(item, annotated_types.Ge):
            if item.ge > 0:
                return "positive"
            if item.ge == 0:
                return "nonnegative"
    return "any"


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    words = {
        annotated_types.Ge: ("ge", "minimum"),
        annotated_types.Gt: ("gt", "exclusiveMinimum"),
        annotated_types.Le: ("le", "maximum"),
        annotated_types.Lt: ("lt", "exclusiveMaximum"),
    }
    bounds: dict[str, Any] = {}
    for item in metadata:
        for kind, (attribute, keyword) in words.items():
            if isinstance(item, kind):
                bounds[keyword] = getattr(item, attribute)
    return bounds


def _lengths(metadata: list[Any], what: str, partial: bool) -> dict[str, Any]:
    lengths: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.MinLen) and not partial:
            lengths[f"min{what}"] = item.min_length
        if isinstance(item, annotated_types.MaxLen):
            lengths[f"max{what}"] = item.max_length
    return lengths


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null, as flat as it can be written (so that an editor's message about a wrong
    value speaks of the value, not of null)."""
    kind = schema.get("type")
    if isinstance(kind, str) and kind != "null" and "$ref" not in schema:
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    if "enum" in schema and "type" not in schema:
        return schema if None in schema["enum"] else {**schema, "enum": [*schema["enum"], None]}
    if "const" in schema and len(schema) == 1:
        return {"enum": [schema["const"], None]}
    if "anyOf" in schema and "$ref" not in schema:
        return schema if NULL in schema["anyOf"] else {**schema, "anyOf": [*schema["anyOf"], NULL]}
    return {"anyOf": [schema, NULL]}


def _common_suffix(names: list[str]) -> str:
    """``['ParametricNetwork', 'WifiNetwork']`` -> ``'Network'``."""
    suffix = names[0]
    for name in names[1:]:
        while not name.endswith(suffix):
            suffix = suffix[1:]
    return suffix


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


__all__ = ["DIALECT", "quantity_schema", "scenario_json_schema"]
