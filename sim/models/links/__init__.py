"""Network models, one module per kind of network, registered here by the ``kind`` of the scenario."""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.models.draws import Draws
from sim.models.links.base import Link
from sim.models.links.ethernet import EthernetLink
from sim.models.links.parametric import ParametricLink

LINK_MODELS: dict[str, type[Link]] = {
    ParametricLink.kind: ParametricLink,
    EthernetLink.kind: EthernetLink,
}


def build_link(
    env: simpy.Environment, name: str, config: object, rng_for: Callable[[str], Draws]
) -> Link:
    """The model for network ``name`` of the scenario, chosen by its ``kind``."""
    return LINK_MODELS[config.kind](env, name, config, rng_for)  # type: ignore[attr-defined]
