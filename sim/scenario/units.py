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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

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
FRACTION_UNITS: dict[str, float] = {"%": 0.01}

# The written form of a number, the same for the loader and the JSON Schema's patterns (which must
# be ECMA-262 regular expressions too: ASCII classes only, no \d or \s): up to 18 digits before
# and after the point and a two-digit exponent, so that whatever matches is a finite float in every
# unit, and a positive one when a digit of it is not 0.
DIGITS = 18
_MANTISSA = rf"(?:[0-9]{{1,{DIGITS}}}(?:\.[0-9]{{0,{DIGITS}}})?|\.[0-9]{{1,{DIGITS}}})"
_EXPONENT = r"(?:[eE][+-]?[0-9]{1,2})?"
_ZERO = rf"(?:0{{1,{DIGITS}}}(?:\.0{{0,{DIGITS}}})?|\.0{{1,{DIGITS}}}){_EXPONENT}"
_BLANK = r"[ \t]*"
# What looks like a quantity at all (number, then letters), to say precisely what is wrong.
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_LOOSE = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z%/µ]*[A-Za-z%µ]?)\s*$")

Sign = Literal["any", "nonnegative", "positive"]


def anchored(body: str) -> str:
    """``body`` matching a whole string, alike in Python and ECMA-262: ``(?![\\s\\S])`` ends it
    where ``$`` would let Python's ``re.search`` (jsonschema's) accept a trailing newline."""
    return rf"^(?:{body})(?![\s\S])"


def number_pattern(sign: Sign = "any") -> str:
    """The regular expression (unanchored) of a written number with ``sign``."""
    if sign == "positive":
        return rf"\+?(?=[0-9.]*[1-9]){_MANTISSA}{_EXPONENT}"
    if sign == "nonnegative":
        return rf"(?:\+?{_MANTISSA}{_EXPONENT}|-{_ZERO})"
    return rf"[+-]?{_MANTISSA}{_EXPONENT}"


class UnitError(ValueError):
    """A quantity that cannot be read; the message says what was expected."""


@dataclass(frozen=True, eq=False)
class Quantity:
    """A kind of quantity a scenario writes with a unit: its units, how it is read and written.

    ``bare_numbers``: a plain number is the value itself (fractions: ``0.4``); otherwise a plain
    number other than 0 is refused as ambiguous (``5``: seconds? milliseconds?).
    """

    name: str
    units: Mapping[str, float]
    example: str
    format: Callable[[float], str]
    bare_numbers: bool = False
    _patterns: dict[str, re.Pattern[str]] = field(default_factory=dict, repr=False)

    def pattern(self, sign: Sign = "any") -> str:
        """The anchored regular expression of the strings that read as this quantity with
        ``sign``; the same text is a Python and an ECMA-262 (JSON Schema) expression."""
        units = sorted(self.units, key=len, reverse=True)  # longest first: 'ms' before 's'
        names = "|".join(re.escape(unit) for unit in units)
        forms = [number_pattern(sign) + _BLANK + f"(?:{names})"]
        if self.bare_numbers:
            forms.append(number_pattern(sign))
        elif sign != "positive":
            forms.append(f"[+-]?{_ZERO}")  # 0 needs no unit
        per = [re.escape(unit) for unit in units if unit.startswith("/")]
        if per:
            forms.append(f"(?:{'|'.join(per)})")  # '/s' is once a second
        return anchored(f"{_BLANK}(?:{'|'.join(forms)}){_BLANK}")

    def matches(self, text: str, sign: Sign = "any") -> bool:
        """Whether ``text`` reads as this quantity with ``sign``."""
        compiled = self._patterns.get(sign)
        if compiled is None:
            compiled = self._patterns[sign] = re.compile(self.pattern(sign))
        return compiled.fullmatch(text) is not None

    def allowed(self) -> str:
        shown: list[str] = []
        for unit in self.units:
            if unit not in shown and unit not in ("µs", "KB", "Kbps"):
                shown.append(unit)
        return ", ".join(shown)

    def parse(self, value: object) -> float:
        """The value in SI base units, or :class:`UnitError` saying what was expected."""
        like = f"'{self.example}'" + (" or 0.4" if self.bare_numbers else "")
        if isinstance(value, bool):
            raise UnitError(f"expected a {self.name} like {like}, got {value!r}")
        if isinstance(value, (int, float)):
            if self.bare_numbers or value == 0:
                return float(value)
            raise UnitError(
                f"expected a {self.name} with a unit, like '{self.example}' (units: "
                f"{self.allowed()}); a bare number {value!r} is ambiguous"
            )
        if not isinstance(value, str):
            raise UnitError(f"expected a {self.name} like {like}, got {value!r}")
        text = value.strip(" \t")
        loose = _LOOSE.match("1" + text if text.startswith("/") else text)
        if not self.matches(value):
            raise UnitError(self._why(value, loose, like))
        assert loose is not None  # the strict form is a special case of the loose one
        number, unit = float(loose.group(1)), loose.group(2)
        if unit == "":
            return number  # a fraction, or a 0 of any quantity
        scale = self.units[unit]
        # every unit below 1 is 1/n of the base unit: dividing by n keeps '5us' exactly 5e-06
        return number / round(1.0 / scale) if scale < 1.0 else number * scale

    def _why(self, value: str, loose: re.Match[str] | None, like: str) -> str:
        if loose is None:
            return f"cannot read {value!r} as a {self.name}; write it like {like}"
        number, unit = float(loose.group(1)), loose.group(2)
        if unit == "":
            return (
                f"expected a {self.name} with a unit, like '{self.example}' (units: "
                f"{self.allowed()}); a bare number {value!r} is ambiguous"
            )
        if unit not in self.units:
            return (
                f"unknown unit {unit!r} in {value!r} for a {self.name}; "
                f"allowed units: {self.allowed()}"
            )
        if not math.isfinite(number * self.units[unit]):
            return f"{value!r} is not a finite {self.name}"
        return (
            f"cannot read {value!r} as a {self.name}: a number has at most {DIGITS} digits before "
            f"and after the point and an exponent of at most two digits, like '{self.example}'"
        )


def _bytes(value: float) -> str:
    return f"{value:g} B"


def _per_second(value: float) -> str:
    return f"{value:g}/s"


def _fraction(value: float) -> str:
    return f"{value:g} ({value * 100:g}%)"


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


TIME = Quantity("time", TIME_UNITS, "10ms", format_time)
SIZE = Quantity("size", SIZE_UNITS, "150kB", _bytes)
RATE = Quantity("data rate", RATE_UNITS, "100Mbps", format_rate)
FREQUENCY = Quantity("frequency", FREQUENCY_UNITS, "2/s", _per_second)
FRACTION = Quantity("fraction", FRACTION_UNITS, "40%", _fraction, bare_numbers=True)
QUANTITIES: tuple[Quantity, ...] = (TIME, SIZE, RATE, FREQUENCY, FRACTION)


def parse_time(value: object) -> float:
    """``'10ms'`` -> 0.01 seconds."""
    return TIME.parse(value)


def parse_size(value: object) -> float:
    """``'150kB'`` -> 150000.0 bytes."""
    return SIZE.parse(value)


def parse_rate(value: object) -> float:
    """``'100Mbps'`` -> 1e8 bits per second."""
    return RATE.parse(value)


def parse_frequency(value: object) -> float:
    """``'2/s'`` -> 2.0 events per second (also ``'500Hz'``, ``'10/min'``)."""
    return FREQUENCY.parse(value)


def parse_fraction(value: object) -> float:
    """``'40%'`` -> 0.4; a bare number is taken as a fraction (``0.0001``)."""
    return FRACTION.parse(value)
