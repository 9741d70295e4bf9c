"""The simulated plant's contact with real MQTT: brokers on this machine and measuring them.

- :mod:`sim.live.brokers`: the edge and central brokers of ``brokers/`` (Mosquitto, or the embedded
  amqtt broker with a Python bridge), rendered to any ports, started and stopped.
- :mod:`sim.live.probe`: measures a real broker and derives a scenario's broker block from it.
- :mod:`sim.live.credentials`: development CA, certificates and Mosquitto password files.
- :mod:`sim.live.mqtt`: broker URLs and paho-mqtt clients.
- :mod:`sim.live.embedded`: the embedded broker and bridge processes.

Nothing here is imported by the simulation itself; it needs paho-mqtt, and for the embedded
broker the ``embedded`` extra (amqtt).
"""


class LiveError(Exception):
    """A live command that cannot go on: a broker not reachable, not startable, a bad URL."""
