"""Which engine runs a scenario: the event engine (SimPy, every model) or the fast engine
(compiled recursions, :mod:`sim.fast`, for the plants it computes exactly).

A scenario's ``engine`` says which: ``auto`` (the default) runs the fast engine when every part of
the scenario is within its scope and the event engine otherwise; ``event`` and ``fast`` insist
(``fast`` on a scenario outside the scope is refused before anything runs). ``summary.json`` says
which ran and why. Both engines draw from the same generators with the same operations, so on a
scenario within the scope they deliver the same copies at the same times (``tests/test_fast.py``).
"""

from __future__ import annotations

from sim.scenario.schema import EthernetNetwork, ParametricNetwork, Scenario


class OutOfScope(RuntimeError):
    """The scenario (or, found while running, its traffic) is beyond what the fast engine
    computes exactly; the message says what."""


def out_of_scope(scenario: Scenario) -> list[str]:
    """Why the fast engine cannot run ``scenario`` exactly (empty: it can)."""
    sc = scenario
    reasons: list[str] = []
    if sc.bridges:
        reasons.append("it has bridges")
    if sc.attacks:
        reasons.append("it has attacks")
    for name, broker in sc.brokers.items():
        if broker.messages_rate is not None or broker.message_size_limit is not None:
            reasons.append(f"broker {name} limits its clients' messages")
        if broker.tls:
            reasons.append(f"broker {name} uses TLS")
    for name, machine in sc.machines.items():
        network = sc.networks[machine.network]
        if not isinstance(network, ParametricNetwork | EthernetNetwork):
            reasons.append(f"machine {name} is on a {network.kind} network")
            continue
        if isinstance(network, EthernetNetwork) and network.priority_queues > 1:
            reasons.append(f"network {machine.network} has priority queues")
        if network.loss:
            reasons.append(f"network {machine.network} loses frames")
        if network.outages:
            reasons.append(f"network {machine.network} has outages")
        for stream_name, stream in machine.streams.items():
            if stream.qos:
                reasons.append(f"stream {name}.{stream_name} is QoS {stream.qos}")
    for name, sub in sc.subscribers.items():
        if sub.network is not None:
            reasons.append(f"subscriber {name} is across a network")
        if sub.qos:
            reasons.append(f"subscriber {name} subscribes at QoS {sub.qos}")
    return sorted(set(reasons))


def choose(scenario: Scenario) -> tuple[str, str]:
    """``(engine, why)`` for ``scenario``."""
    if scenario.engine == "event":
        return "event", "the scenario asks for it (engine: event)"
    reasons = out_of_scope(scenario)
    if scenario.engine == "fast":
        return "fast", "the scenario asks for it (engine: fast)"
    if reasons:
        return "event", "outside the fast engine's scope: " + "; ".join(reasons)
    return "fast", "every part of the scenario is within the fast engine's scope"


__all__ = ["OutOfScope", "choose", "out_of_scope"]
