"""The fast engine: the plants it can compute exactly, as recursions over arrays instead of events.

A plant of FIFO stages needs no event loop: each stage's departures follow from its arrivals by a
recursion (``start = max(arrival, free); free = start + service``), which a compiled loop (numba)
runs at tens of nanoseconds a message. This engine computes, with the event engine's own
operations in the same order (so the same floats, not just close ones):

- each stream's releases and payloads, drawn as arrays from the generators the event engine's
  sources use (periodic with jitter from a random phase, or Poisson; :class:`~sim.models.laws.LawStream`);
- each machine's MQTT keep-alive (PINGREQ when it has sent or received nothing for a keep-alive,
  paho-mqtt's rule; :mod:`sim.models.mqtt.connection`) and the broker's PINGRESP;
- the host stacks at both ends, in order per connection each way;
- each network's ways (:mod:`sim.fast.networks`): a parametric network's FIFO and latency draws,
  or switched Ethernet's NICs, shared store-and-forward ports with their cross traffic and access
  ports, frame by frame; and TCP's in-order release per connection as a running maximum;
- the broker's service loop and fan-out (:mod:`sim.models.mqtt.broker`), and each subscriber
  session's pace and ``max_queued`` drop-tail queue.

Time goes in chunks, at most half the shortest keep-alive long (so a chunk's pings are known at its
start); a stage that merges several feeders in time order (a network's first shared stage, the
broker) keeps back what arrives at or after the chunk's end and merges it with the next chunk's, so every stage sees its arrivals in time
order, as the event engine does. Deliveries go into the rows' tallies (:mod:`sim.metrics.tally`)
chunk by chunk: memory follows the chunk, not the duration.

Its scope (:func:`~sim.engines.out_of_scope` says why a scenario is outside it): machines on
parametric networks or switched Ethernet of FIFO ports (``priority_queues: 1``, any cross
traffic), without loss or outages; QoS 0 streams; host stacks at the machines and the
broker (:class:`~sim.models.laws.InOrderDelay` per connection and way), subscribers beside their
broker at QoS 0, no bridges or gateways; a TCP window that never binds (checked as it runs: the
engine stops with :class:`OutOfScope` if it would, and ``auto`` then runs the event engine).

The modules: :mod:`sim.fast.kernels` (the compiled loops), :mod:`sim.fast.sources` (streams and
host stacks), :mod:`sim.fast.networks`, :mod:`sim.fast.plant` (the plant, chunk by chunk).
"""

from sim.engines import OutOfScope
from sim.fast.plant import FastPlant

__all__ = ["FastPlant", "OutOfScope"]
