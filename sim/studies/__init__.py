"""Studies: what a planner asks of many runs (sweeps, capacity searches), as tasks on an executor
(this process, or Dask distributed), each task's result kept in a store keyed by content hash so
that a study run again computes only what is missing (the shape of ns-3's SEM)."""
