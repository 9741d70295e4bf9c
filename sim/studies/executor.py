"""Where a study's tasks run: in this process, or on Dask distributed workers.

A task is one replication of one resolved scenario (:class:`Task`); its result is the bytes of
:func:`sim.studies.store.encode`, handed over with the CPU seconds the worker spent on it (what
``factory5g bench`` reports of the tool's own speed; not part of the result). Every replication seeds its own generators from the scenario's
seed, its number and each component's name, so a task computes the same bytes wherever it runs,
and results are merged in replication order whatever order the tasks finish in: the figures are
byte-identical for any executor and any number of workers.

- :class:`InProcess` runs the tasks one after another here (one worker, no Dask needed);
- :class:`DaskExecutor` submits them to Dask distributed: a ``LocalCluster`` of ``workers``
  single-threaded processes on this machine (SimPy holds the GIL, so threads would not help), or an
  existing cluster's scheduler (``tcp://host:8786``), whose workers need this package installed at
  the same version (checked before anything is submitted) and the scenario's trace files at the
  same paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sim.scenario.schema import Scenario

Done = Callable[["Task", bytes, float], None]  # (task, result, CPU seconds it took)
Fraction = Callable[[float], None]


class TaskFailed(RuntimeError):
    """A task whose simulation failed; the message names the task and what went wrong."""


class ClusterError(RuntimeError):
    """The Dask cluster cannot be used (unreachable scheduler, workers of another version)."""


@dataclass(frozen=True)
class Task:
    """One replication of one resolved scenario, and what to call it in messages."""

    scenario: Scenario = field(repr=False)
    replication: int
    key: str
    label: str
    samples: bool = False  # keep every delivered copy exactly (--samples)


def simulate(
    scenario: Scenario, replication: int, progress: Fraction | None = None, samples: bool = False
) -> Any:
    """Run one replication: ``(encoded result, CPU seconds)``, or ``(kind, message)`` if the
    model failed (a failure travels back from a Dask worker as text, whatever its exception
    class)."""
    import time

    from sim.engine import ConservationError, SimulationError, replicate
    from sim.studies.store import encode

    start = time.process_time()
    try:
        records, traffic = replicate(scenario, replication, progress, samples)
    except (SimulationError, ConservationError) as error:
        return (type(error).__name__, str(error))
    return encode(records, traffic), time.process_time() - start


def _result(task: Task, outcome: Any) -> tuple[bytes, float]:
    if isinstance(outcome[0], bytes):
        return outcome  # type: ignore[no-any-return]
    kind, message = outcome
    raise TaskFailed(
        f"{task.label}: {message}"
        if kind == "SimulationError"
        else f"{task.label}: {kind}: {message}"
    )


class Executor(Protocol):
    workers: int

    def run(self, tasks: Iterable[Task], done: Done, fraction: Fraction | None = None) -> None:
        """Run ``tasks``, calling ``done(task, result, CPU seconds)`` as each finishes (in the caller's
        thread); ``fraction`` hears how far the current task is, where that is known."""

    def close(self) -> None: ...

    def describe(self) -> str: ...


class _Closing:
    """An executor used in a ``with`` block is closed at its end."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class InProcess(_Closing):
    """The tasks one after another in this process."""

    workers = 1

    def run(self, tasks: Iterable[Task], done: Done, fraction: Fraction | None = None) -> None:
        for task in tasks:
            outcome = simulate(task.scenario, task.replication, fraction, task.samples)
            done(task, *_result(task, outcome))

    def describe(self) -> str:
        return "in this process"


class DaskExecutor(_Closing):
    """The tasks on Dask distributed workers: a new ``LocalCluster`` or an existing scheduler."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        self.scheduler = scheduler
        try:
            if scheduler is not None:
                self.client = Client(scheduler, timeout="5s")
            else:
                self.cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # a free port: two clusters on one machine
                    silence_logs=logging.ERROR,
                )
                self.client = Client(self.cluster)
        except OSError as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
        self.workers = len(self.client.scheduler_info()["workers"])
        self._check_versions()

    def _check_versions(self) -> None:
        from sim import __version__

        def version() -> str:
            import sim

            return sim.__version__

        try:
            found = self.client.run(version)
        except Exception as error:  # a worker without the package cannot even unpickle
            raise ClusterError(f"the Dask workers cannot run factory5g: {error}") from None
        other = {worker: v for worker, v in found.items() if v != __version__}
        if other:
            said = ", ".join(f"{w} has {v}" for w, v in sorted(other.items()))
            raise ClusterError(
                f"the Dask workers run another factory5g than this one ({__version__}): {said}"
            )

    def run(self, tasks: Iterable[Task], done: Done, fraction: Fraction | None = None) -> None:
        from distributed import as_completed

        pending = {
            self.client.submit(
                simulate,
                task.scenario,
                task.replication,
                None,
                task.samples,
                key=f"factory5g-{task.key}",
                pure=True,
            ): task
            for task in tasks
        }
        try:
            for future in as_completed(pending):
                task = pending.pop(future)
                try:
                    outcome = future.result()
                except Exception as error:  # a lost worker, a task killed by its memory limit
                    raise TaskFailed(f"{task.label}: {type(error).__name__}: {error}") from None
                done(task, *_result(task, outcome))
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def describe(self) -> str:
        where = (
            f"the Dask cluster at {self.scheduler}" if self.scheduler else "a local Dask cluster"
        )
        return f"{self.workers} worker{'s' if self.workers != 1 else ''} on {where}"


def executor(workers: int | None = None, scheduler: str | None = None) -> InProcess | DaskExecutor:
    """One worker in this process, or Dask: ``workers`` local processes, or ``scheduler``'s."""
    if scheduler is None and (workers is None or workers <= 1):
        return InProcess()
    return DaskExecutor(workers, scheduler)


__all__ = ["ClusterError", "DaskExecutor", "InProcess", "Task", "TaskFailed", "executor"]
