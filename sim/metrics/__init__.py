"""Metrics: what the engine observes of each copy, and the figures, verdicts and intervals made of it.

:data:`SAMPLE_LIMIT` is here, beside no numpy import, because the cost estimate (which ``validate``
runs without numpy) needs it too.
"""

SAMPLE_LIMIT = 1 << 18  # exact copies a row keeps per replication unless all are asked for
