"""Network models, one module per kind of network, registered here by the ``kind`` of the scenario."""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.links.base import Link
from sim.models.links.ethernet import EthernetLink
from sim.models.links.gateway import GatewayLink
from sim.models.links.nr5g import Nr5gLink
from sim.models.links.parametric import ParametricLink
from sim.models.links.wifi import WifiLink
from sim.scenario.errors import ScenarioError
from sim.scenario.schema import Tcp

LINK_MODELS: dict[str, type[Link]] = {
    ParametricLink.kind: ParametricLink,
    EthernetLink.kind: EthernetLink,
    GatewayLink.kind: GatewayLink,
    Nr5gLink.kind: Nr5gLink,
    WifiLink.kind: WifiLink,
}


def build_link(
    env: simpy.Environment,
    name: str,
    config: object,
    rng_for: Callable[[str], Draws],
    tcp: Tcp | None = None,
) -> Link:
    """The model for network ``name`` of the scenario, chosen by its ``kind``; ``tcp`` is the
    scenario's TCP settings (defaults when None)."""
    kind = config.kind  # type: ignore[attr-defined]
    if kind not in LINK_MODELS:
        raise ScenarioError(
            f"network kind '{kind}' validates but cannot run yet in this version; "
            f"runnable kinds: {', '.join(LINK_MODELS)}",
            path=f"networks.{name}.kind",
        )
    link = LINK_MODELS[kind](env, name, config, rng_for)
    if tcp is not None:
        link.tcp = tcp
    return link
