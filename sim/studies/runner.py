"""Running many scenarios' replications as tasks: look each up in the store, run what is missing on
the executor, save each result as it arrives, and merge every scenario's replications in order.

This is what ``run --workers``, ``compare --workers``, ``sweep`` and ``capacity`` share. The merge
is the engine's own (:func:`sim.engine.merge_replications`), so a scenario's figures are the same
bytes however its replications were computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sim.engine import merge_replications
from sim.results import Results
from sim.scenario.schema import Scenario
from sim.studies.executor import Executor, InProcess, Task
from sim.studies.store import Store, decode, task_key

# (tasks finished, tasks to compute, fraction of the running one) as the tasks advance
TaskProgress = Callable[[int, int, float], None]


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during a study: how far it got and what was kept."""


@dataclass
class Job:
    """One scenario to run with all its replications; ``label`` names it in messages."""

    scenario: Scenario
    label: str


@dataclass
class Runner:
    """Runs jobs' replications on ``executor``, keeping results in ``store`` when there is one."""

    executor: Executor = field(default_factory=InProcess)
    store: Store | None = None
    progress: TaskProgress | None = None
    keep_samples: bool = False  # the results hold the exact latencies the rows kept
    samples: bool = False  # the rows keep every delivered copy (--samples)
    computed: int = 0  # tasks run, over the runner's life
    reused: int = 0  # tasks found in the store that an earlier run had computed
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds of each task computed
    job_keys: list[list[str]] = field(
        default_factory=list
    )  # the last run's, per job and replication
    _computed_keys: set[str] = field(default_factory=set, repr=False)

    def run(self, jobs: Sequence[Job]) -> list[Results]:
        """The results of each job, in the jobs' order.

        The tasks go to the executor the costliest first (by :func:`sim.cost.estimate`), so that
        a long one does not start last and leave the other workers idle; each job is merged as
        soon as its last replication is in, while the others still run.
        """
        from sim.cost import estimate

        keys: list[list[str]] = []
        tasks: dict[str, Task] = {}
        cost: dict[str, float] = {}
        owners: dict[str, list[int]] = {}  # a task's key -> the jobs waiting for it
        stored: set[str] = set()
        for i, job in enumerate(jobs):
            own = []
            events = estimate(job.scenario).events / job.scenario.replications
            for replication in range(job.scenario.replications):
                key = task_key(job.scenario, replication, self.samples)
                own.append(key)
                if key in tasks:
                    owners[key].append(i)
                elif key in stored:
                    continue
                elif self.store is not None and key in self.store:
                    stored.add(key)
                    self.reused += key not in self._computed_keys
                else:
                    label = f"{job.label}, replication {replication + 1}"
                    tasks[key] = Task(job.scenario, replication, key, label, self.samples)
                    cost[key] = events
                    owners[key] = [i]
            keys.append(own)
        # without a store, a computed replication waits here until its job is merged
        memory: dict[str, bytes] = {}
        missing = [set(own) - stored for own in keys]
        merged: dict[int, Results] = {}

        def merge(i: int) -> None:
            replications = [
                decode(memory[key]) if key in memory else self.store.load(key)  # type: ignore[union-attr]
                for key in keys[i]
            ]
            merged[i] = merge_replications(jobs[i].scenario, replications, self.keep_samples)

        def arrived(key: str, data: bytes) -> None:
            if self.store is None:
                memory[key] = data
            for i in owners[key]:
                missing[i].discard(key)
                if not missing[i]:
                    merge(i)

        ordered = sorted(tasks.values(), key=lambda task: -cost[task.key])
        self._compute(ordered, arrived)
        for i in range(len(jobs)):
            if i not in merged:
                merge(i)
        self.job_keys = keys
        return [merged[i] for i in range(len(jobs))]

    def _compute(self, tasks: list[Task], arrived: Callable[[str, bytes], None]) -> None:
        total = len(tasks)
        finished = [0]

        def fraction(share: float) -> None:
            if self.progress is not None:
                self.progress(finished[0], total, share)

        def done(task: Task, data: bytes, cpu_s: float) -> None:
            self.cpu_s[task.key] = cpu_s
            if self.store is not None:
                self.store.put(task.key, data)  # read back when its job is merged
            self._computed_keys.add(task.key)
            finished[0] += 1
            self.computed += 1
            arrived(task.key, data)
            if self.progress is not None:
                self.progress(finished[0], total, 0.0)

        if self.progress is not None:
            self.progress(0, total, 0.0)
        try:
            self.executor.run(tasks, done, fraction)
        except KeyboardInterrupt:
            store = self.store
            # what the store holds, not the count of finished calls: Ctrl-C may land between a
            # result's file being written and its being counted
            saved = sum(task.key in store for task in tasks) if store is not None else 0
            if store is not None and saved:
                kept = (
                    f"the {saved} results are kept in {store.folder} and the same command "
                    f"computes only the other {total - saved}"
                )
            else:
                kept = "nothing was kept"
            raise StudyInterrupted(
                f"interrupted after {saved if store is not None else finished[0]} of {total} "
                f"tasks; {kept}"
            ) from None


__all__ = ["Job", "Runner", "StudyInterrupted", "TaskProgress"]
