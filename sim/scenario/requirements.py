"""Named requirements: the service classes of 3GPP TS 23.501 and the use cases of TS 22.104.

A stream or a subscriber may write ``requirement: 5qi-82`` instead of its fields. Each preset names
its source; the figures are the standards' (see docs/references.md):

- ``5qi-82``, ``5qi-83``: discrete automation, TS 23.501 Table 5.7.4-1 (delay-critical GBR):
  packet delay budget 10 ms, packet error rate 1e-4 (99.99 % on time).
- ``5qi-80``: low-latency eMBB and augmented reality, 10 ms, 1e-6 (99.9999 %).
- ``5qi-3``: real-time gaming, V2X, electricity distribution (medium voltage) and process
  automation monitoring, 50 ms, 1e-3 (99.9 %).
- ``motion-control``: TS 22.104 Table 5.2-1, periodic deterministic communication for motion
  control: end-to-end latency and survival time of one 2 ms transfer interval (the slowest of the
  0.5 - 2 ms cycles), communication service availability 99.9999 %.
- ``control-to-control``: the same table, 10 ms cycle, survival time one cycle, 99.9999 %.
- ``emergency-stop``: TS 22.104 (annex A, safety: emergency stop between controllers): latency
  below 8 ms, survival time 16 ms, availability 99.999999 %.
- ``process-monitoring``: TS 22.104 process monitoring, 100 ms, 99.99 %.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "5qi-82": {"deadline": "10ms", "reliability": "99.99%"},
    "5qi-83": {"deadline": "10ms", "reliability": "99.99%"},
    "5qi-80": {"deadline": "10ms", "reliability": "99.9999%"},
    "5qi-3": {"deadline": "50ms", "reliability": "99.9%"},
    "motion-control": {"deadline": "2ms", "survival_time": "2ms", "availability": "99.9999%"},
    "control-to-control": {
        "deadline": "10ms",
        "survival_time": "10ms",
        "availability": "99.9999%",
    },
    "emergency-stop": {"deadline": "8ms", "survival_time": "16ms", "availability": "99.999999%"},
    "process-monitoring": {"deadline": "100ms", "reliability": "99.99%"},
}
