"""MQTT topic names and filters (sim.models.mqtt.topics) against MQTT 3.1.1 and 5.0 section 4.7.

Test ids quote the clause they check: 3.1.1 section 4.7.1.2 (multi-level wildcard ``#``), 4.7.1.3
(single-level wildcard ``+``), 4.7.2 (topics beginning with ``$``) and 4.7.3 (topic semantic and
usage); MQTT 5.0 section 4.7 repeats the same rules and examples with the same numbering.
"""

from __future__ import annotations

import pytest

from sim.models.mqtt.topics import check_filter, check_topic, matches, matches_any

# ---------------------------------------------------------------------------- filter validity


@pytest.mark.parametrize(
    "topic_filter",
    [
        pytest.param("sport/tennis/player1/#", id="4.7.1.2 '#' as last level after a separator"),
        pytest.param("sport/#", id="4.7.1.2 'sport/#' is valid"),
        pytest.param("#", id="4.7.1.2 '#' is valid on its own and matches every topic"),
        pytest.param("+", id="4.7.1.3 '+' is valid on its own"),
        pytest.param("+/tennis/#", id="4.7.1.3 '+/tennis/#' is valid"),
        pytest.param("sport/+/player1", id="4.7.1.3 'sport/+/player1' is valid"),
        pytest.param("+/+", id="4.7.1.3 '+/+' is valid"),
        pytest.param("/+", id="4.7.1.3 '/+' is valid"),
        pytest.param("$SYS/#", id="4.7.2 '$SYS/#' is valid"),
        pytest.param("$SYS/monitor/+", id="4.7.2 '$SYS/monitor/+' is valid"),
        pytest.param("/", id="4.7.3 '/' alone is a valid filter (two empty levels)"),
        pytest.param("sport tennis", id="4.7.3 filters may contain a space"),
        pytest.param("sport//tennis", id="4.7.3 zero-length levels are allowed"),
    ],
)
def test_valid_filter(topic_filter: str) -> None:
    """The spec lists these filters as valid; check_filter gives no reason to refuse them."""
    assert check_filter(topic_filter) is None


@pytest.mark.parametrize(
    ("topic_filter", "reason"),
    [
        pytest.param(
            "sport/tennis#", "'#'", id="4.7.1.2 'sport/tennis#' invalid: '#' not a whole level"
        ),
        pytest.param(
            "sport/tennis/#/ranking",
            "'#'",
            id="4.7.1.2 'sport/tennis/#/ranking' invalid: '#' not last",
        ),
        pytest.param("#/", "'#'", id="4.7.1.2 '#/' invalid: '#' followed by a level"),
        pytest.param("##", "'#'", id="4.7.1.2 '##' invalid"),
        pytest.param("sport+", "'+'", id="4.7.1.3 'sport+' invalid: '+' not a whole level"),
        pytest.param("sport/+tennis", "'+'", id="4.7.1.3 '+tennis' invalid"),
        pytest.param("++", "'+'", id="4.7.1.3 '++' invalid"),
        pytest.param("", "at least one character", id="4.7.3 empty filter invalid"),
        pytest.param("a\x00b", "null", id="4.7.3 filter must not contain U+0000"),
    ],
)
def test_invalid_filter(topic_filter: str, reason: str) -> None:
    """The spec forbids these filters; check_filter says why."""
    message = check_filter(topic_filter)
    assert message is not None
    assert reason in message


def test_filter_longer_than_65535_bytes_is_invalid() -> None:
    """4.7.3 / 1.5.3: a topic filter is a UTF-8 string of at most 65535 bytes."""
    assert check_filter("a" * 65535) is None
    assert check_filter("a" * 65536) is not None
    assert check_filter("é" * 32768) is not None  # 65536 bytes in UTF-8


# ------------------------------------------------------------------------------- topic names


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param("sport/tennis/player1", id="plain topic name"),
        pytest.param("/finance", id="4.7.3 leading '/' gives a zero-length first level"),
        pytest.param("sport/", id="4.7.1.3 trailing '/' gives a zero-length last level"),
        pytest.param("/", id="4.7.3 '/' alone is a valid topic name"),
        pytest.param("$SYS/monitor/Clients", id="4.7.2 '$' topics are valid names"),
        pytest.param("a b", id="4.7.3 topic names may contain a space"),
    ],
)
def test_valid_topic_name(topic: str) -> None:
    """These are valid names to publish on."""
    assert check_topic(topic) is None


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param("sport/#", id="4.7.1.1 '#' must not be used in a topic name"),
        pytest.param("#", id="4.7.1.1 '#' alone is not a topic name"),
        pytest.param("sport/+/player1", id="4.7.1.1 '+' must not be used in a topic name"),
        pytest.param("sport+", id="4.7.1.1 '+' inside a level is still a wildcard character"),
    ],
)
def test_topic_name_with_wildcards_is_refused(topic: str) -> None:
    """Wildcard characters are for subscriptions; a topic name must not contain them."""
    message = check_topic(topic)
    assert message is not None
    assert "wildcard" in message


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param("", id="4.7.3 topic name at least one character long"),
        pytest.param("a\x00b", id="4.7.3 topic name must not contain U+0000"),
    ],
)
def test_malformed_topic_name_is_refused(topic: str) -> None:
    """Empty topic names and names with the null character are refused."""
    assert check_topic(topic) is not None


# ---------------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("topic_filter", "topic"),
    [
        pytest.param(
            "sport/tennis/player1/#",
            "sport/tennis/player1",
            id="4.7.1.2 'sport/tennis/player1/#' matches its parent 'sport/tennis/player1'",
        ),
        pytest.param(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking",
            id="4.7.1.2 'sport/tennis/player1/#' matches 'sport/tennis/player1/ranking'",
        ),
        pytest.param(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon",
            id="4.7.1.2 'sport/tennis/player1/#' matches 'sport/tennis/player1/score/wimbledon'",
        ),
        pytest.param(
            "sport/tennis/player1/#",
            "sport/tennis/player1/",
            id="4.7.1.2 'sport/tennis/player1/#' matches 'sport/tennis/player1/'",
        ),
        pytest.param("sport/#", "sport", id="4.7.1.2 'sport/#' matches 'sport' (parent level)"),
        pytest.param("#", "sport/tennis/player1", id="4.7.1.2 '#' matches every topic"),
        pytest.param("#", "/finance", id="4.7.1.2 '#' matches a topic with a leading '/'"),
        pytest.param(
            "sport/tennis/+",
            "sport/tennis/player1",
            id="4.7.1.3 'sport/tennis/+' matches 'sport/tennis/player1'",
        ),
        pytest.param(
            "sport/tennis/+",
            "sport/tennis/player2",
            id="4.7.1.3 'sport/tennis/+' matches 'sport/tennis/player2'",
        ),
        pytest.param("sport/+", "sport/", id="4.7.1.3 'sport/+' matches 'sport/' (empty level)"),
        pytest.param("+/+", "/finance", id="4.7.1.3 '+/+' matches '/finance'"),
        pytest.param("/+", "/finance", id="4.7.1.3 '/+' matches '/finance'"),
        pytest.param("+", "finance", id="4.7.1.3 '+' matches 'finance'"),
        pytest.param(
            "+/tennis/#",
            "sport/tennis/player1/ranking",
            id="4.7.1.3 '+/tennis/#' matches 'sport/tennis/player1/ranking'",
        ),
        pytest.param(
            "sport/+/player1",
            "sport/tennis/player1",
            id="4.7.1.3 'sport/+/player1' matches 'sport/tennis/player1'",
        ),
        pytest.param(
            "$SYS/#",
            "$SYS/monitor/Clients",
            id="4.7.2 '$SYS/#' matches '$SYS/monitor/Clients'",
        ),
        pytest.param(
            "$SYS/monitor/+",
            "$SYS/monitor/Clients",
            id="4.7.2 '$SYS/monitor/+' matches '$SYS/monitor/Clients'",
        ),
        pytest.param("$SYS/#", "$SYS", id="4.7.2 '$SYS/#' matches '$SYS' (parent level)"),
        pytest.param("ACCOUNTS", "ACCOUNTS", id="4.7.3 an exact filter matches its own topic"),
    ],
)
def test_filter_matches_topic(topic_filter: str, topic: str) -> None:
    """A message published on the topic is delivered to a subscription on the filter."""
    assert matches(topic_filter, topic)


@pytest.mark.parametrize(
    ("topic_filter", "topic"),
    [
        pytest.param("sport/+", "sport", id="4.7.1.3 'sport/+' does not match 'sport'"),
        pytest.param(
            "sport/tennis/+",
            "sport/tennis/player1/ranking",
            id="4.7.1.3 'sport/tennis/+' does not match 'sport/tennis/player1/ranking'",
        ),
        pytest.param("+", "/finance", id="4.7.1.3 '+' does not match '/finance' (two levels)"),
        pytest.param(
            "#",
            "$SYS/monitor/Clients",
            id="4.7.2 '#' does not match '$SYS/monitor/Clients'",
        ),
        pytest.param(
            "+/monitor/Clients",
            "$SYS/monitor/Clients",
            id="4.7.2 '+/monitor/Clients' does not match '$SYS/monitor/Clients'",
        ),
        pytest.param("+", "$SYS", id="4.7.2 '+' does not match '$SYS'"),
        pytest.param("#", "$share", id="4.7.2 '#' does not match any topic starting with '$'"),
        pytest.param(
            "ACCOUNTS", "Accounts", id="4.7.3 'ACCOUNTS' and 'Accounts' are different topics"
        ),
        pytest.param(
            "accounts/#", "Accounts/x", id="4.7.3 matching is case sensitive below '#' too"
        ),
        pytest.param("/finance", "finance", id="4.7.3 '/finance' is distinct from 'finance'"),
        pytest.param("finance", "/finance", id="4.7.3 'finance' is distinct from '/finance'"),
        pytest.param(
            "sport/tennis",
            "sport/tennis/",
            id="4.7.3 a trailing '/' adds a level: 'sport/tennis' is not 'sport/tennis/'",
        ),
        pytest.param(
            "sport/tennis/player1/#",
            "sport/tennis",
            id="4.7.1.2 '#' does not match above its parent level",
        ),
        pytest.param(
            "sport/#", "sports", id="4.7.1.2 'sport/#' does not match 'sports' (levels, not prefix)"
        ),
    ],
)
def test_filter_does_not_match_topic(topic_filter: str, topic: str) -> None:
    """A message published on the topic is not delivered to a subscription on the filter."""
    assert not matches(topic_filter, topic)


@pytest.mark.parametrize(
    ("filters", "topic", "expected"),
    [
        pytest.param(
            ["sport/+", "finance/#"], "finance/stock", True, id="one of several filters matches"
        ),
        pytest.param(["sport/+", "finance/#"], "sport", False, id="no filter matches"),
        pytest.param([], "sport", False, id="no filters match nothing"),
        pytest.param(
            ["#", "$SYS/#"], "$SYS/broker/load", True, id="4.7.2 '$SYS/#' delivers what '#' cannot"
        ),
        pytest.param(["#", "+/broker/load"], "$SYS/broker/load", False, id="4.7.2 with '$'"),
    ],
)
def test_matches_any(filters: list[str], topic: str, expected: bool) -> None:
    """A topic is delivered to a set of subscriptions if any of their filters matches it."""
    assert matches_any(filters, topic) is expected
