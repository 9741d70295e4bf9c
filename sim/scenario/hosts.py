"""End hosts: the delay each packet takes through a host's network stack, by class of host.

Every endpoint of a TCP connection across a network (a machine, a gateway, a broker's server, a
subscriber) passes each packet it sends, and each it receives, through its NIC, driver, kernel
TCP/IP stack and the application's wake-up. On a LAN this dominates the round trip of a small
packet: one store-and-forward hop of 1 GbE takes about 5 us, a host tens to hundreds.

A class names a law per traversal (one packet, one direction, one host); a round trip between two
hosts crosses four. Sources (docs/models.md has the table):

- ``server``: a Linux server, kernel TCP/IP, an application woken by the socket. Measured with
  ``benchmarks/host_stack.py`` on this project's 2-core CI machine: TCP ping-pong of 100 B every
  10 ms over loopback, four traversals per round trip, round trip p50 111 us, p99 224 us, p99.9
  292 us; one traversal is therefore about 30 us at the median and 80 us at p99. A real NIC adds
  its interrupt moderation (Intel e1000e/igb documentation: the default dynamic-conservative
  InterruptThrottleRate allows up to 20,000 interrupts/s, up to 50 us of waiting), not included.
- ``industrial-pc``: an industrial PC or PLC runtime on a general-purpose kernel, where the
  application task and the network interrupt share cores with the control program: median 60 us,
  p99 400 us per traversal, so that a round trip between two of them over one switch is about a
  quarter of a millisecond with a tail near 1 ms, the behaviour Gutierrez et al. measured between
  embedded Linux controllers over one switch ("Real-time Linux communications: an evaluation of
  the Linux communication stack for real-time robotic applications", arXiv:1808.10821, 2018:
  bounded round trips of a few hundred microseconds only with PREEMPT_RT and isolated interrupts;
  concurrent traffic pushes a stock kernel's into milliseconds).
- ``embedded``: a microcontroller with a small stack (lwIP, FreeRTOS-class RTOS): slow but steady,
  median 120 us, p99 300 us per traversal: the stack runs in one task woken by the Ethernet
  interrupt at a CPU of 100-200 MHz.
- ``none``: no delay, for queueing-theory checks and for networks whose measured latency already
  includes the hosts (a ``trace`` law taken end to end).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter

from sim.scenario.laws import Law
from sim.scenario.schema import HostLaw

HOST_CLASSES: dict[str, dict[str, Any]] = {
    "server": {"lognormal": {"median": "30us", "p99": "80us"}},
    "industrial-pc": {"lognormal": {"median": "60us", "p99": "400us"}},
    "embedded": {"lognormal": {"median": "120us", "p99": "300us"}},
}


def host_law(host: str | Law) -> Law | None:
    """The law of a ``host:`` value: its class's, its own, or None for ``none``."""
    if isinstance(host, str):
        return None if host == "none" else _class_law(host)
    return host


@cache
def _class_law(name: str) -> Law:
    return TypeAdapter(HostLaw).validate_python(HOST_CLASSES[name])
