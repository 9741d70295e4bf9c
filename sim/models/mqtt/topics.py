"""MQTT topic names and topic filters, per MQTT 3.1.1 section 4.7 and MQTT 5.0 section 4.7.

- Levels are separated by ``/``; empty levels are allowed (``/finance`` has two levels).
- ``+`` matches exactly one level, and must occupy a whole level.
- ``#`` matches the parent level and any number of child levels, and must be the last level.
- A filter starting with a wildcard does not match topics starting with ``$`` (4.7.2).
"""

from __future__ import annotations


def check_filter(topic_filter: str) -> str | None:
    """Why ``topic_filter`` is not a valid MQTT topic filter, or ``None`` if it is."""
    if topic_filter == "":
        return "a topic filter must be at least one character long"
    if "\x00" in topic_filter:
        return "a topic filter must not contain the null character"
    if len(topic_filter.encode("utf-8")) > 65535:
        return "a topic filter is at most 65535 bytes"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must occupy a whole level"
    return None


def check_topic(topic: str) -> str | None:
    """Why ``topic`` is not a valid topic name to publish on, or ``None`` if it is."""
    if topic == "":
        return "a topic name must be at least one character long"
    if "+" in topic or "#" in topic:
        return "a topic name must not contain wildcards"
    if "\x00" in topic:
        return "a topic name must not contain the null character"
    return None


def matches(topic_filter: str, topic: str) -> bool:
    """Whether a message published on ``topic`` is delivered to a subscription on ``topic_filter``."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[i]:
            return False
    return len(filter_levels) == len(topic_levels)


def matches_any(topic_filters: list[str], topic: str) -> bool:
    """Whether any of the filters matches the topic."""
    return any(matches(f, topic) for f in topic_filters)
