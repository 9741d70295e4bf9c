"""Field paths: one value of a scenario named by its dotted path, as sweeps and capacity searches
name what they vary (``machines.robot.count``, ``networks.plant-5g.tdd_pattern``,
``networks.plant-lan.cross_traffic.load``, ``networks.plant-5g.outages.0.duration``).

Names of blocks may themselves hold dots (``subscribers.scada.requirements.robot.joints``), so a
path is read against the scenario it applies to: at each level the longest run of parts that names
an existing key is taken. Every part but the last must name something the scenario has (a block
that is not there is refused, with the closest names, rather than created half-empty); the last may
be a field the file leaves at its default, and validation then checks it as if it were written.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any


class PathError(ValueError):
    """A path that names nothing in the scenario; the message says what is there."""


def _step(node: Any, parts: list[str], done: list[Any], last_allowed: bool) -> tuple[Any, int]:
    """The key of ``node`` named by the first parts of ``parts`` and how many parts it took."""
    where = ".".join(str(p) for p in done) or "the scenario"
    if isinstance(node, list):
        part = parts[0]
        if part.isdigit() and int(part) < len(node):
            return int(part), 1
        raise PathError(
            f"{where} is a list of {len(node)}; name an item by its index, 0 to {len(node) - 1}"
            f", not {part!r}"
        )
    if not isinstance(node, Mapping):
        raise PathError(f"{where} is a single value, not a block with fields")
    for length in range(len(parts), 0, -1):
        key = ".".join(parts[:length])
        if key in node:
            return key, length
    if last_allowed and len(parts) == 1:
        return parts[0], 1
    keys = [str(k) for k in node]
    close = difflib.get_close_matches(parts[0], keys, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    has = ", ".join(sorted(keys)) or "nothing"
    raise PathError(f"{where} has no '{parts[0]}' (it has {has}){hint}")


def locate(data: Mapping[str, Any], path: str) -> list[Any]:
    """The keys (and list indices) of ``path`` in ``data``; a :class:`PathError` if it names
    nothing there."""
    parts = path.split(".")
    if not path or any(not part for part in parts):
        raise PathError(
            f"'{path}' is not a field path: write names joined by dots, like machines.robot.count"
        )
    keys: list[Any] = []
    node: Any = data
    while parts:
        key, used = _step(node, parts, keys, last_allowed=True)
        keys.append(key)
        parts = parts[used:]
        if parts:
            node = node[key]
    return keys


def assign(data: dict[str, Any], keys: list[Any], value: Any) -> None:
    """Set the value at ``keys`` (from :func:`locate`) in ``data`` itself to ``value``."""
    node: Any = data
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


def nested(keys: list[Any], value: Any) -> dict[Any, Any]:
    """``{k1: {k2: ... value}}``: where a value was set, for saying where a problem came from."""
    result: Any = value
    for key in reversed(keys):
        result = {key: result}
    return result  # type: ignore[no-any-return]


__all__ = ["PathError", "assign", "locate", "nested"]
