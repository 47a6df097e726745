"""A mistake in the manifest, named the way a person fixes it: file, deployment, field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One mistake: where it is (file, deployment, dotted field) and what is wrong."""

    file: str
    deployment: str | None  # None: the manifest as a whole
    field: str
    message: str

    def __str__(self) -> str:
        where = f"deployment {self.deployment!r}" if self.deployment else "the manifest"
        return f"{self.file}: {where}, field {self.field!r}: {self.message}"


def describe(problems: Sequence[Problem]) -> str:
    """The problems, a line each, or a line saying there are none."""
    if not problems:
        return "no problems"
    return "\n".join(f"- {problem}" for problem in problems)


class ManifestProblems(AssertionError):
    """The manifest has mistakes that would surface only later, in a deploy or a run."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            f"the manifest has {len(problems)} problem(s); fix them before deploying:\n"
            + describe(problems)
        )
