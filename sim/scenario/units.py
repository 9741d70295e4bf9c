"""Quantities with units, as a plant engineer writes them in a scenario file.

Scenario files say ``10ms``, ``150kB``, ``100Mbps``, ``2/s`` and ``40%``; inside the code every
quantity is a float in SI base units: seconds, bytes, bits per second, events per second, and plain
fractions. This module is the only place where the conversion happens.

Decimal prefixes follow SI and IEC 80000-13: ``kB`` is 1000 bytes and ``KiB`` 1024 bytes; ``Mbps`` is
10^6 bit/s, as link rates are always quoted.
"""

from __future__ import annotations

import math
import re

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z%/µ]*[A-Za-z%µ]?)\s*$")

TIME_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "min": 60.0,
    "h": 3600.0,
}
SIZE_UNITS: dict[str, float] = {
    "B": 1.0,
    "kB": 1e3,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "KiB": 1024.0,
    "MiB": 1024.0**2,
    "GiB": 1024.0**3,
}
RATE_UNITS: dict[str, float] = {
    "bps": 1.0,
    "kbps": 1e3,
    "Kbps": 1e3,
    "Mbps": 1e6,
    "Gbps": 1e9,
    "bit/s": 1.0,
    "kbit/s": 1e3,
    "Mbit/s": 1e6,
    "Gbit/s": 1e9,
}
FREQUENCY_UNITS: dict[str, float] = {
    "/s": 1.0,
    "/ms": 1e3,
    "/min": 1 / 60.0,
    "/h": 1 / 3600.0,
    "Hz": 1.0,
    "kHz": 1e3,
    "MHz": 1e6,
    "GHz": 1e9,
}


class UnitError(ValueError):
    """A quantity that cannot be read; the message says what was expected."""


def _allowed(units: dict[str, float]) -> str:
    seen: list[str] = []
    for unit in units:
        if unit not in seen and unit not in ("µs", "KB", "Kbps"):
            seen.append(unit)
    return ", ".join(seen)


def _parse(value: object, units: dict[str, float], what: str, example: str) -> float:
    if isinstance(value, bool):
        raise UnitError(f"expected a {what} like '{example}', got {value!r}")
    if isinstance(value, (int, float)):
        if value == 0:
            return 0.0
        raise UnitError(
            f"expected a {what} with a unit, like '{example}' (units: {_allowed(units)}); "
            f"a bare number {value!r} is ambiguous"
        )
    if not isinstance(value, str):
        raise UnitError(f"expected a {what} like '{example}', got {value!r}")
    text = value.strip()
    if text.startswith("/"):
        text = "1" + text
    match = _QUANTITY.match(text)
    if match is None:
        raise UnitError(f"cannot read {value!r} as a {what}; write it like '{example}'")
    number, unit = float(match.group(1)), match.group(2)
    if unit == "" and number == 0:
        return 0.0
    if unit not in units:
        raise UnitError(
            f"unknown unit {unit!r} in {value!r} for a {what}; allowed units: {_allowed(units)}"
        )
    scale = units[unit]
    # every unit below 1 is 1/n of the base unit: dividing by n keeps '5us' exactly 5e-06
    result = number / round(1.0 / scale) if scale < 1.0 else number * scale
    if not math.isfinite(result):
        raise UnitError(f"{value!r} is not a finite {what}")
    return result


def parse_time(value: object) -> float:
    """``'10ms'`` -> 0.01 seconds."""
    return _parse(value, TIME_UNITS, "time", "10ms")


def parse_size(value: object) -> float:
    """``'150kB'`` -> 150000.0 bytes."""
    return _parse(value, SIZE_UNITS, "size", "150kB")


def parse_rate(value: object) -> float:
    """``'100Mbps'`` -> 1e8 bits per second."""
    return _parse(value, RATE_UNITS, "data rate", "100Mbps")


def parse_frequency(value: object) -> float:
    """``'2/s'`` -> 2.0 events per second (also ``'500Hz'``, ``'10/min'``)."""
    return _parse(value, FREQUENCY_UNITS, "frequency", "2/s")


def parse_fraction(value: object) -> float:
    """``'40%'`` -> 0.4; a bare number is taken as a fraction (``0.0001``)."""
    if isinstance(value, bool):
        raise UnitError(f"expected a fraction like '40%' or 0.4, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                return float(text[:-1]) / 100.0
            except ValueError:
                pass
        else:
            try:
                return float(text)
            except ValueError:
                pass
    raise UnitError(f"cannot read {value!r} as a fraction; write it like '40%' or 0.4")


def format_time(seconds: float) -> str:
    """A time in the unit a reader expects: ``0.00641`` -> ``'6.41 ms'``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    magnitude = abs(seconds)
    if magnitude == 0:
        return "0"
    if magnitude < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if magnitude < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def format_rate(bits_per_second: float) -> str:
    """``2.5e6`` -> ``'2.5 Mbit/s'``."""
    for scale, unit in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
        if abs(bits_per_second) >= scale:
            return f"{bits_per_second / scale:.3g} {unit}"
    return f"{bits_per_second:.3g} bit/s"
