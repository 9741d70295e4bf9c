"""The error a user sees when a scenario cannot be used.

A :class:`ScenarioError` holds one or more :class:`Problem`\\ s. Each problem names the file, the
dotted field path inside it (``machines.robot.streams.joints.every``) and says what is wrong in plant
engineer's words, so that printing the error gives one line per problem::

    line3.yaml: machines.robot.streams.joints.every: unknown unit 'parsecs' in '4 parsecs' for a time; ...
    line3.yaml: networks.plant-lan.hopps: unknown key 'hopps'; did you mean 'hops'?

Front ends print ``str(error)`` and exit with status 2; no traceback is shown for bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where (file, field path) and what."""

    file: str | None
    path: str | None
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.path, self.message) if part)


class ScenarioError(Exception):
    """A scenario that cannot be read, merged or validated; ``str()`` is one line per problem.

    ``ScenarioError(message, file=..., path=...)`` makes an error with one problem;
    ``ScenarioError(problems=[...])`` one with several. ``file``, ``path`` and ``message`` are those
    of the first problem.
    """

    def __init__(
        self,
        message: str | None = None,
        file: str | None = None,
        path: str | None = None,
        *,
        problems: Iterable[Problem] = (),
    ) -> None:
        collected = list(problems)
        if message is not None:
            collected.insert(0, Problem(file, path, message))
        if not collected:
            raise ValueError("a ScenarioError needs a message or at least one problem")
        self.problems: list[Problem] = collected
        super().__init__(str(self))

    @property
    def file(self) -> str | None:
        return self.problems[0].file

    @property
    def path(self) -> str | None:
        return self.problems[0].path

    @property
    def message(self) -> str:
        return self.problems[0].message

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only state does not survive the default pickling of exceptions, and an error
        # raised in a worker process is pickled on its way back.
        return (_rebuild, (self.problems,))


def _rebuild(problems: list[Problem]) -> ScenarioError:
    return ScenarioError(problems=problems)


__all__ = ["Problem", "ScenarioError"]
