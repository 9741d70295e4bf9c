"""Probability laws for delays and payload sizes, as written in a scenario.

A law is written either as a single quantity (``6ms``, ``200B``: a constant) or as a one-key mapping
that names the law::

    latency: {uniform: [2ms, 4ms]}
    latency: {lognormal: {median: 6ms, p99: 10ms}}
    latency: {normal: {mean: 5ms, std: 1ms}}
    latency: {exponential: 5ms}          # the mean
    payload: {uniform: [48B, 96B]}

The lognormal is given by its median and 99th percentile because that is how delay measurements are
reported (e.g. the DETERMINISTIC6G histograms in ``shared/reference``): ``mu = ln(median)``,
``sigma = (ln(p99) - ln(median)) / z_0.99`` with ``z_0.99 = 2.3263``.

This module is pure data: drawing from a law is done in :mod:`sim.models.laws`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

Z99 = 2.3263478740408408  # standard normal 99th percentile


class _Law(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Constant(_Law):
    """Always the same value."""

    kind: Literal["constant"] = "constant"
    value: float = Field(ge=0)

    @property
    def mean(self) -> float:
        return self.value


class Uniform(_Law):
    """Uniform between ``low`` and ``high``."""

    kind: Literal["uniform"] = "uniform"
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("uniform: the second bound must not be below the first")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


class Lognormal(_Law):
    """Lognormal given by its median and 99th percentile."""

    kind: Literal["lognormal"] = "lognormal"
    median: float = Field(gt=0)
    p99: float = Field(gt=0)

    @model_validator(mode="after")
    def _spread(self) -> Lognormal:
        if self.p99 <= self.median:
            raise ValueError("lognormal: p99 must be above the median")
        return self

    @property
    def mu(self) -> float:
        return math.log(self.median)

    @property
    def sigma(self) -> float:
        return (math.log(self.p99) - math.log(self.median)) / Z99

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)


class Normal(_Law):
    """Normal with ``mean`` and ``std``, truncated at zero (a delay or a size is never negative)."""

    kind: Literal["normal"] = "normal"
    mean: float = Field(ge=0)
    std: float = Field(ge=0)


class Exponential(_Law):
    """Exponential with the given mean."""

    kind: Literal["exponential"] = "exponential"
    mean: float = Field(gt=0)


Law = Annotated[Constant | Uniform | Lognormal | Normal | Exponential, Field(discriminator="kind")]

LAW_NAMES = ("constant", "uniform", "lognormal", "normal", "exponential")


def _tagged(value: Any, parse: Callable[[object], float], what: str, example: str) -> Any:
    """Turn the written form of a law into the tagged form the models above validate."""
    if isinstance(value, BaseModel) or (isinstance(value, dict) and "kind" in value):
        return value  # already tagged, e.g. the output of model_dump()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"kind": "constant", "value": parse(value)}
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(
            f"expected a {what} like {example!r} or a one-key law "
            f"({', '.join(LAW_NAMES)}), got {value!r}"
        )
    ((name, args),) = value.items()
    if name == "constant":
        return {"kind": "constant", "value": parse(args)}
    if name == "uniform":
        if not isinstance(args, (list, tuple)) or len(args) != 2:
            raise ValueError(f"uniform takes two bounds, like [{example}, {example}]; got {args!r}")
        return {"kind": "uniform", "low": parse(args[0]), "high": parse(args[1])}
    if name == "lognormal":
        return _params("lognormal", args, ("median", "p99"), parse)
    if name == "normal":
        return _params("normal", args, ("mean", "std"), parse)
    if name == "exponential":
        return {"kind": "exponential", "mean": parse(args)}
    from difflib import get_close_matches

    close = get_close_matches(str(name), LAW_NAMES, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown law '{name}'; allowed: {', '.join(LAW_NAMES)}{hint}")


def _params(
    name: str, args: Any, keys: tuple[str, ...], parse: Callable[[object], float]
) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise ValueError(f"{name} takes {{{', '.join(k + ': ...' for k in keys)}}}; got {args!r}")
    unknown = sorted(set(args) - set(keys), key=str)
    if unknown:
        raise ValueError(f"{name}: unknown key '{unknown[0]}'; allowed: {', '.join(keys)}")
    missing = [k for k in keys if k not in args]
    if missing:
        raise ValueError(f"{name}: missing '{missing[0]}' (needs {', '.join(keys)})")
    return {"kind": name, **{k: parse(args[k]) for k in keys}}


def law_type(parse: Callable[[object], float], what: str, example: str) -> Any:
    """An annotated pydantic type for a law of quantities read by ``parse``."""
    quantity = {"type": ["string", "number"], "description": f"a {what}, e.g. {example!r}"}
    pair = {"type": "array", "items": quantity, "minItems": 2, "maxItems": 2}
    json_schema = {
        "description": f"a constant {what} ({example!r}) or a law: " + ", ".join(LAW_NAMES),
        "anyOf": [
            quantity,
            {
                "type": "object",
                "properties": {"constant": quantity},
                "required": ["constant"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"uniform": pair},
                "required": ["uniform"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["lognormal"],
                "additionalProperties": False,
                "properties": {
                    "lognormal": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["median", "p99"],
                        "properties": {"median": quantity, "p99": quantity},
                    }
                },
            },
            {
                "type": "object",
                "required": ["normal"],
                "additionalProperties": False,
                "properties": {
                    "normal": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["mean", "std"],
                        "properties": {"mean": quantity, "std": quantity},
                    }
                },
            },
            {
                "type": "object",
                "properties": {"exponential": quantity},
                "required": ["exponential"],
                "additionalProperties": False,
            },
        ],
    }
    return Annotated[
        Law,
        BeforeValidator(lambda v: _tagged(v, parse, what, example)),
        WithJsonSchema(json_schema),
    ]
