"""Probability laws as written in a scenario (sim.scenario.laws), validated through pydantic."""

from __future__ import annotations

import math

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from sim.scenario.laws import (
    LAW_NAMES,
    Z99,
    Constant,
    Exponential,
    Lognormal,
    Normal,
    Uniform,
    law_type,
)
from sim.scenario.units import SIZE, TIME, parse_time

Z_0_99 = 2.3263  # the standard normal 99th percentile, to the four decimals tables give


class Link(BaseModel):
    """A tiny scenario block with one delay law and one payload law."""

    model_config = ConfigDict(validate_default=True)  # the written default goes through law_type
    latency: law_type(TIME, 3600.0, "an hour")  # type: ignore[valid-type]
    payload: law_type(SIZE, 1e9, "a GB") = "200B"  # type: ignore[valid-type]


def latency(written: object):
    return Link(latency=written).latency


def error_text(written: object) -> str:
    with pytest.raises(ValidationError) as excinfo:
        Link(latency=written)
    return str(excinfo.value)


# -------------------------------------------------------------------------------- written forms


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        pytest.param("6ms", Constant(value=0.006), id="a bare quantity is a constant"),
        pytest.param(0, Constant(value=0.0), id="bare 0 is a constant zero"),
        pytest.param({"constant": "6ms"}, Constant(value=0.006), id="explicit constant"),
        pytest.param(
            {"uniform": ["2ms", "4ms"]}, Uniform(low=0.002, high=0.004), id="uniform [low, high]"
        ),
        pytest.param(
            {"uniform": ["3ms", "3ms"]}, Uniform(low=0.003, high=0.003), id="uniform, equal bounds"
        ),
        pytest.param(
            {"lognormal": {"median": "6ms", "p99": "10ms"}},
            Lognormal(median=0.006, p99=0.010),
            id="lognormal {median, p99}",
        ),
        pytest.param(
            {"normal": {"mean": "5ms", "std": "1ms"}},
            Normal(mean=0.005, std=0.001),
            id="normal {mean, std}",
        ),
        pytest.param({"exponential": "5ms"}, Exponential(mean=0.005), id="exponential mean"),
    ],
)
def test_written_form_yields_tagged_law_in_si(written: object, expected) -> None:
    """Each written form becomes the law of the same name, with its quantities in seconds."""
    law = latency(written)
    assert type(law) is type(expected)
    assert law.kind == expected.kind
    for name, value in expected.model_dump().items():
        if name != "kind":
            assert getattr(law, name) == pytest.approx(value, rel=1e-12)


def test_law_of_sizes_reads_bytes() -> None:
    """The same law syntax works for payload sizes, read in bytes."""
    link = Link(latency="1ms", payload={"uniform": ["48B", "1.5kB"]})
    assert link.payload == Uniform(low=48.0, high=1500.0)
    assert Link(latency="1ms").payload == Constant(value=200.0)


def test_law_model_instance_is_accepted_as_is() -> None:
    """A law already built in code can be passed directly."""
    law = Lognormal(median=0.006, p99=0.010)
    assert Link(latency=law).latency == law


@pytest.mark.parametrize(
    "written",
    [
        "6ms",
        {"uniform": ["2ms", "4ms"]},
        {"lognormal": {"median": "6ms", "p99": "10ms"}},
        {"normal": {"mean": "5ms", "std": "1ms"}},
        {"exponential": "5ms"},
    ],
    ids=["constant", "uniform", "lognormal", "normal", "exponential"],
)
def test_dumped_law_validates_back(written: object) -> None:
    """The tagged form a law dumps to (Python or JSON) validates back to the same law."""
    link = Link(latency=written)
    assert Link.model_validate(link.model_dump()) == link
    assert Link.model_validate_json(link.model_dump_json()) == link


# ------------------------------------------------------------------------------------ lognormal


@pytest.mark.parametrize(
    ("median", "p99"),
    [
        pytest.param("6ms", "10ms", id="6ms median, 10ms p99"),
        pytest.param("200us", "5ms", id="200us median, 5ms p99"),
        pytest.param("1s", "1.01s", id="narrow spread"),
    ],
)
def test_lognormal_parameters_reproduce_median_and_p99(median: str, p99: str) -> None:
    """``exp(mu)`` is the median and ``exp(mu + z_0.99 sigma)`` the 99th percentile."""
    law = latency({"lognormal": {"median": median, "p99": p99}})
    assert math.exp(law.mu) == pytest.approx(parse_time(median), rel=1e-12)
    assert math.exp(law.mu + Z_0_99 * law.sigma) == pytest.approx(parse_time(p99), rel=1e-4)
    assert math.exp(law.mu + Z99 * law.sigma) == pytest.approx(parse_time(p99), rel=1e-12)


def test_lognormal_mean_is_exp_mu_plus_half_sigma_squared() -> None:
    """The mean of a lognormal is ``exp(mu + sigma^2 / 2)``, above its median."""
    law = latency({"lognormal": {"median": "6ms", "p99": "10ms"}})
    assert law.mean == pytest.approx(math.exp(law.mu + law.sigma**2 / 2), rel=1e-12)
    assert law.mean > law.median


def test_z99_is_the_standard_normal_99th_percentile() -> None:
    """The constant used for sigma is Phi^-1(0.99)."""
    assert pytest.approx(Z_0_99, abs=1e-4) == Z99
    assert 0.5 * math.erfc(-Z99 / math.sqrt(2)) == pytest.approx(0.99, abs=1e-12)


@pytest.mark.parametrize(
    ("written", "mean"),
    [
        pytest.param("6ms", 0.006, id="constant: its value"),
        pytest.param({"uniform": ["2ms", "4ms"]}, 0.003, id="uniform: the midpoint"),
        pytest.param({"normal": {"mean": "5ms", "std": "1ms"}}, 0.005, id="normal: its mean"),
        pytest.param({"exponential": "5ms"}, 0.005, id="exponential: its mean"),
    ],
)
def test_mean_of_each_law(written: object, mean: float) -> None:
    """Every law exposes its mean in SI units."""
    assert latency(written).mean == pytest.approx(mean, rel=1e-12)


# --------------------------------------------------------------------------------------- errors


def test_uniform_with_reversed_bounds_is_refused() -> None:
    """``{uniform: [4ms, 2ms]}``: the second bound must not be below the first."""
    assert "second bound" in error_text({"uniform": ["4ms", "2ms"]})


@pytest.mark.parametrize(
    "args",
    [["2ms"], ["1ms", "2ms", "3ms"], "2ms", {"low": "1ms", "high": "2ms"}],
    ids=["one bound", "three bounds", "a scalar", "a mapping"],
)
def test_uniform_needs_exactly_two_bounds(args: object) -> None:
    """A uniform law is written with a list of two bounds."""
    assert "two bounds" in error_text({"uniform": args})


@pytest.mark.parametrize(
    ("median", "p99"),
    [
        pytest.param("10ms", "6ms", id="p99 below the median"),
        pytest.param("6ms", "6ms", id="p99 equal to the median"),
    ],
)
def test_lognormal_p99_must_exceed_median(median: str, p99: str) -> None:
    """A lognormal's 99th percentile lies strictly above its median."""
    assert "p99 must be above the median" in error_text(
        {"lognormal": {"median": median, "p99": p99}}
    )


def test_lognormal_missing_p99_is_refused() -> None:
    """A lognormal needs both its median and its p99; the message names the missing key."""
    text = error_text({"lognormal": {"median": "6ms"}})
    assert "missing 'p99'" in text


def test_lognormal_unknown_key_is_refused() -> None:
    """A misspelt parameter is an error, not silently ignored."""
    text = error_text({"lognormal": {"median": "6ms", "p95": "9ms"}})
    assert "unknown key 'p95'" in text


def test_lognormal_zero_median_is_refused() -> None:
    """The median of a lognormal is strictly positive (ln 0 is undefined)."""
    error_text({"lognormal": {"median": 0, "p99": "10ms"}})


@pytest.mark.parametrize(
    ("misspelt", "suggestion"),
    [
        pytest.param("lognormall", "lognormal", id="lognormall -> lognormal"),
        pytest.param("unifrom", "uniform", id="unifrom -> uniform"),
        pytest.param("exponentail", "exponential", id="exponentail -> exponential"),
    ],
)
def test_unknown_law_name_suggests_the_closest(misspelt: str, suggestion: str) -> None:
    """An unknown law name is refused; the message lists the laws and suggests the nearest one."""
    text = error_text({misspelt: "6ms"})
    assert f"unknown law '{misspelt}'" in text
    assert f"did you mean '{suggestion}'?" in text
    for name in LAW_NAMES:
        assert name in text


def test_unknown_law_name_far_from_any_has_no_suggestion() -> None:
    """No suggestion is made when no law name is close."""
    text = error_text({"gamma": "6ms"})
    assert "unknown law 'gamma'" in text
    assert "did you mean" not in text


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(
            {"uniform": ["2ms", "4ms"], "normal": {"mean": "1ms", "std": "1ms"}}, id="two laws"
        ),
        pytest.param({}, id="empty mapping"),
        pytest.param(["2ms", "4ms"], id="a bare list"),
        pytest.param(True, id="a boolean"),
        pytest.param(None, id="None"),
    ],
)
def test_not_a_one_key_law_is_refused(written: object) -> None:
    """A law is a quantity or a mapping with exactly one law name."""
    assert "one-key law" in error_text(written)


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(6, id="bare non-zero number"),
        pytest.param("6 parsecs", id="unknown unit"),
        pytest.param({"uniform": ["2ms", "4kB"]}, id="a size inside a time law"),
        pytest.param({"exponential": "0ms"}, id="exponential with zero mean"),
        pytest.param("-6ms", id="negative constant"),
    ],
)
def test_bad_quantities_inside_a_law_are_refused(written: object) -> None:
    """Quantities inside a law follow the unit rules and the law's own bounds."""
    error_text(written)


def test_law_errors_are_reported_on_the_field() -> None:
    """The validation error points at the field that holds the bad law."""
    with pytest.raises(ValidationError) as excinfo:
        Link(latency={"lognormall": {"median": "6ms", "p99": "10ms"}})
    (error,) = excinfo.value.errors()
    assert error["loc"][0] == "latency"
