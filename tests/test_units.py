"""Quantities with units (sim.scenario.units): scenario text in, SI floats out."""

from __future__ import annotations

import pytest

from sim.scenario.units import (
    UnitError,
    format_rate,
    format_time,
    parse_fraction,
    parse_frequency,
    parse_rate,
    parse_size,
    parse_time,
)

# ------------------------------------------------------------------------------- SI conversions


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("10ms", 0.01, id="10ms is 0.01 s"),
        pytest.param("200us", 200e-6, id="200us is 2e-4 s"),
        pytest.param("5us", 5e-6, id="5us is 5e-6 s"),
        pytest.param("5µs", 5e-6, id="5µs (micro sign) is 5e-6 s"),
        pytest.param("1.5s", 1.5, id="1.5s is 1.5 s"),
        pytest.param("2min", 120.0, id="2min is 120 s"),
        pytest.param("1h", 3600.0, id="1h is 3600 s"),
        pytest.param("250ns", 250e-9, id="250ns is 2.5e-7 s"),
    ],
)
def test_time_converts_to_seconds(text: str, seconds: float) -> None:
    """A time with its unit reads as a float number of seconds."""
    assert parse_time(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        pytest.param("150kB", 150_000.0, id="150kB is 150000 B (SI kilo)"),
        pytest.param("1KiB", 1024.0, id="1KiB is 1024 B (IEC kibi)"),
        pytest.param("1.5MB", 1_500_000.0, id="1.5MB is 1.5e6 B"),
        pytest.param("200B", 200.0, id="200B is 200 B"),
        pytest.param("1MiB", 1024.0**2, id="1MiB is 2^20 B"),
    ],
)
def test_size_converts_to_bytes(text: str, size: float) -> None:
    """A size reads as bytes; decimal prefixes are powers of 1000, binary ones powers of 1024."""
    assert parse_size(text) == pytest.approx(size, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        pytest.param("100Mbps", 1e8, id="100Mbps is 1e8 bit/s"),
        pytest.param("10Gbps", 1e10, id="10Gbps is 1e10 bit/s"),
        pytest.param("64kbps", 64e3, id="64kbps is 64000 bit/s"),
        pytest.param("2.5Mbit/s", 2.5e6, id="2.5Mbit/s is 2.5e6 bit/s"),
    ],
)
def test_rate_converts_to_bits_per_second(text: str, rate: float) -> None:
    """A data rate reads as bits per second, with decimal prefixes as link rates are quoted."""
    assert parse_rate(text) == pytest.approx(rate, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        pytest.param("2/s", 2.0, id="2/s is 2 per second"),
        pytest.param("800/s", 800.0, id="800/s is 800 per second"),
        pytest.param("10/min", 10 / 60, id="10/min is 1/6 per second"),
        pytest.param("500Hz", 500.0, id="500Hz is 500 per second"),
        pytest.param("/s", 1.0, id="/s alone is once per second"),
    ],
)
def test_frequency_converts_to_events_per_second(text: str, per_second: float) -> None:
    """A frequency reads as events per second, written either ``N/unit`` or in hertz."""
    assert parse_frequency(text) == pytest.approx(per_second, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        pytest.param("40%", 0.4, id="40% is 0.4"),
        pytest.param("0.5%", 0.005, id="0.5% is 0.005"),
        pytest.param(0.0001, 0.0001, id="bare 0.0001 stays a fraction"),
        pytest.param("0.25", 0.25, id="'0.25' as text is a fraction"),
        pytest.param(1, 1.0, id="bare 1 is the whole"),
    ],
)
def test_fraction_reads_percent_or_plain(value: object, fraction: float) -> None:
    """A fraction is written as a percentage or as a plain number between 0 and 1."""
    assert parse_fraction(value) == pytest.approx(fraction, rel=1e-12)


def test_conversions_return_floats() -> None:
    """Every parser returns a float, never an int, so arithmetic downstream is uniform."""
    for result in (
        parse_time("1s"),
        parse_size("1B"),
        parse_rate("1bps"),
        parse_frequency("1Hz"),
        parse_fraction(1),
    ):
        assert type(result) is float


# ---------------------------------------------------------------------------------- bare numbers


@pytest.mark.parametrize("zero", [0, 0.0, "0", " 0 "], ids=["int 0", "float 0.0", "'0'", "' 0 '"])
def test_bare_zero_is_a_time(zero: object) -> None:
    """Zero needs no unit: 0 seconds is 0 in every unit."""
    assert parse_time(zero) == 0.0


@pytest.mark.parametrize("bare", [5, 2.5, "5"], ids=["int 5", "float 2.5", "'5'"])
def test_bare_nonzero_time_is_refused(bare: object) -> None:
    """A non-zero number without a unit is ambiguous (seconds? milliseconds?) and is refused."""
    with pytest.raises(UnitError, match="unit"):
        parse_time(bare)


def test_bare_number_message_names_the_units() -> None:
    """The refusal of a bare number shows an example and the allowed units."""
    with pytest.raises(UnitError) as excinfo:
        parse_time(5)
    message = str(excinfo.value)
    assert "10ms" in message
    assert "ms" in message and "us" in message and "min" in message


@pytest.mark.parametrize(
    "parse",
    [parse_size, parse_rate, parse_frequency],
    ids=["size", "rate", "frequency"],
)
def test_bare_nonzero_number_is_refused_for_every_unit_family(parse) -> None:
    """Sizes, rates and frequencies also need their unit."""
    with pytest.raises(UnitError, match="unit"):
        parse(100)


# ------------------------------------------------------------------------------- unknown / wrong


def test_unknown_unit_is_refused_naming_allowed_units() -> None:
    """``4 parsecs`` is not a time; the message lists the time units that are allowed."""
    with pytest.raises(UnitError) as excinfo:
        parse_time("4 parsecs")
    message = str(excinfo.value)
    assert "parsecs" in message
    assert "allowed units" in message
    for unit in ("ns", "us", "ms", "s", "min", "h"):
        assert unit in message


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        pytest.param(parse_time, "150kB", id="a size is not a time"),
        pytest.param(parse_size, "10ms", id="a time is not a size"),
        pytest.param(parse_rate, "150kB", id="a size is not a data rate"),
        pytest.param(parse_frequency, "10ms", id="a time is not a frequency"),
    ],
)
def test_unit_of_another_family_is_refused(parse, text: str) -> None:
    """A quantity of the wrong dimension is refused, not silently converted."""
    with pytest.raises(UnitError, match="unknown unit"):
        parse(text)


@pytest.mark.parametrize(
    "parse",
    [parse_time, parse_size, parse_rate, parse_frequency, parse_fraction],
    ids=["time", "size", "rate", "frequency", "fraction"],
)
@pytest.mark.parametrize("flag", [True, False], ids=["True", "False"])
def test_booleans_are_refused(parse, flag: bool) -> None:
    """YAML ``yes``/``no`` become booleans; they are never a quantity (not even False as 0)."""
    with pytest.raises(UnitError):
        parse(flag)


@pytest.mark.parametrize(
    "value",
    [None, [10, "ms"], {"ms": 10}, "", "ms", "ten ms", "10 m s"],
    ids=["None", "list", "dict", "empty", "unit only", "words", "split unit"],
)
def test_unreadable_values_are_refused(value: object) -> None:
    """Anything that is not a number followed by a unit is refused with a UnitError."""
    with pytest.raises(UnitError):
        parse_time(value)


def test_unit_error_is_a_value_error() -> None:
    """UnitError is a ValueError, so pydantic validators report it as a validation error."""
    assert issubclass(UnitError, ValueError)


def test_overflowing_quantity_is_refused() -> None:
    """A quantity that overflows a float is not a finite time."""
    with pytest.raises(UnitError, match="finite"):
        parse_time("1e400s")


@pytest.mark.parametrize("text", ["abc%", "%", "forty%"], ids=["abc%", "% only", "forty%"])
def test_unreadable_fraction_is_refused(text: str) -> None:
    """A percentage needs a number before the ``%``."""
    with pytest.raises(UnitError, match="40%"):
        parse_fraction(text)


# ------------------------------------------------------------------------------------- spelling


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        pytest.param(parse_time, "10 ms", 0.01, id="space between number and unit"),
        pytest.param(parse_time, "  10ms  ", 0.01, id="leading and trailing blanks"),
        pytest.param(parse_size, "150 kB", 150_000.0, id="size with a space"),
        pytest.param(parse_rate, "100 Mbps", 1e8, id="rate with a space"),
        pytest.param(parse_frequency, "2 /s", 2.0, id="frequency with a space"),
        pytest.param(parse_fraction, " 40% ", 0.4, id="fraction with blanks"),
    ],
)
def test_whitespace_is_tolerated(parse, text: str, expected: float) -> None:
    """Blanks around the number and between number and unit are ignored."""
    assert parse(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        pytest.param(parse_time, "1e-3s", 1e-3, id="1e-3s is 1 ms"),
        pytest.param(parse_time, "2.5E-6s", 2.5e-6, id="capital E"),
        pytest.param(parse_size, "1e3B", 1000.0, id="1e3B is 1000 B"),
        pytest.param(parse_rate, "1e2Mbps", 1e8, id="1e2Mbps is 100 Mbit/s"),
        pytest.param(parse_time, ".5s", 0.5, id="leading decimal point"),
    ],
)
def test_scientific_notation_is_read(parse, text: str, expected: float) -> None:
    """Numbers may use scientific notation and a leading decimal point."""
    assert parse(text) == pytest.approx(expected, rel=1e-12)


def test_units_are_case_sensitive() -> None:
    """``MS`` is not milliseconds and ``mB`` is not megabytes: SI symbols are case sensitive."""
    with pytest.raises(UnitError):
        parse_time("10MS")
    with pytest.raises(UnitError):
        parse_size("10mB")


# ------------------------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.00641, "6.41 ms", id="milliseconds"),
        pytest.param(5e-6, "5 us", id="microseconds"),
        pytest.param(2.5, "2.5 s", id="seconds"),
        pytest.param(0.0, "0", id="zero"),
        pytest.param(float("nan"), "-", id="nan is a dash"),
        pytest.param(None, "-", id="None is a dash"),
    ],
)
def test_format_time_picks_a_readable_unit(seconds: float, text: str) -> None:
    """Times are shown in the unit a reader expects, with three significant digits."""
    assert format_time(seconds) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        pytest.param(2.5e6, "2.5 Mbit/s", id="megabits"),
        pytest.param(1e10, "10 Gbit/s", id="gigabits"),
        pytest.param(64e3, "64 kbit/s", id="kilobits"),
        pytest.param(300.0, "300 bit/s", id="bits"),
    ],
)
def test_format_rate_picks_a_readable_unit(rate: float, text: str) -> None:
    """Rates are shown in bit/s with a decimal prefix."""
    assert format_rate(rate) == text


@pytest.mark.parametrize("text", ["10ms", "200us", "1.5s"], ids=["10ms", "200us", "1.5s"])
def test_format_time_round_trips_through_parse(text: str) -> None:
    """What format_time writes, parse_time reads back (after removing the space)."""
    seconds = parse_time(text)
    assert parse_time(format_time(seconds)) == pytest.approx(seconds, rel=1e-3)
