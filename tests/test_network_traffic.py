"""What QoS costs a network: the MQTT packets and bytes each connection sends, each way."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.engine import run_scenario
from sim.models.framing import mqtt_publish_size
from sim.scenario.loader import load_scenario

SCENARIO = """
name: traffic
duration: 10s
networks:
  cell: {{kind: parametric, latency: 5ms}}
  office: {{kind: parametric, latency: 1ms}}
brokers:
  b: {{}}
machines:
  m:
    count: 2
    network: cell
    broker: b
    client: {{keep_alive: 60s}}
    streams:
      s: {{topic: "plant/m/{{id}}", every: 100ms, payload: 200B, qos: {qos}}}
subscribers:
  app: {{broker: b, topics: ["plant/#"], network: office, qos: 2, client: {{keep_alive: 4s}}}}
"""

# control packets per message, (up, down), on the publisher's leg and on the subscriber's leg
CONTROL = {
    0: ((0, 0), (0, 0)),
    1: ((0, 1), (1, 0)),  # PUBACK down to the machine; the subscriber's PUBACK up
    2: ((1, 2), (2, 1)),  # PUBREL up, PUBREC and PUBCOMP down; the subscriber: PUBREC, PUBCOMP up
}


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_each_qos_adds_its_acknowledgements_to_both_directions(tmp_path: Path, qos: int) -> None:
    """Two machines publish 10 messages a second each for 10 s (200 messages): the cell carries 200
    PUBLISHes up and, per message, the acknowledgements QoS ``qos`` exchanges (section 4.3 of MQTT
    3.1.1); the subscriber (QoS 2 subscription, so copies go at the publisher's QoS) receives the
    200 copies down its network and sends its own acknowledgements up. A PUBLISH is
    ``mqtt_publish_size`` bytes, each acknowledgement 4. The idle subscriber at QoS 0 sends a
    PINGREQ every 4 s keep-alive (at 4 s and 8 s) and gets PINGRESP; busy clients never ping.
    An exchange takes a few ms and the period is 100 ms, so at the end at most the last message of
    each machine (2) can still miss the packets that follow its PUBLISH."""
    path = tmp_path / "traffic.yaml"
    path.write_text(SCENARIO.format(qos=qos))
    results = run_scenario(load_scenario(path))
    cell, office = results.networks["cell"], results.networks["office"]
    duration = 10.0
    messages = 200
    (cell_up, cell_down), (office_up, office_down) = CONTROL[qos]
    pings = 2 if qos == 0 else 0
    publish = mqtt_publish_size(200, "plant/m/0", qos)

    assert cell["up"]["publish_per_s"] * duration == pytest.approx(messages)
    assert cell["down"]["publish_per_s"] == 0.0

    def between(value: float, per_message: int, extra: int = 0) -> bool:
        full = per_message * messages + extra
        return full - per_message * 2 - 1e-6 <= value * duration <= full + 1e-6

    assert between(cell["up"]["control_per_s"], cell_up)
    assert between(cell["down"]["control_per_s"], cell_down)
    assert between(office["down"]["publish_per_s"], 1)
    assert between(office["up"]["control_per_s"], office_up, pings)
    assert between(office["down"]["control_per_s"], office_down, pings)
    control_bytes = cell["up"]["mqtt_bit_s"] * duration / 8 - messages * publish
    assert 4 * cell_up * (messages - 2) - 1e-6 <= control_bytes <= 4 * cell_up * messages + 1e-6
