"""An exercise's self-test: its own files must be graded as its author says.

- ``solution.py`` scores 100 (and gets no diagnosis);
- every ``mistakes/*.py`` gets its diagnosis and stays at or under its score ceiling;
- ``starter.py`` runs and scores below 100.

``gdlab exercises check`` runs this for every exercise, and so does CI.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.catalog import Exercise
from grader.grading import Grader, GradeResult


@dataclass(frozen=True)
class Check:
    """One file's check: what was expected, what came out, whether it passed."""

    exercise: str
    file: str
    passed: bool
    expected: str
    got: str

    def line(self) -> str:
        """One line for a terminal."""
        mark = "ok  " if self.passed else "FAIL"
        return f"{mark} {self.exercise}/{self.file}: {self.got}" + (
            "" if self.passed else f" (expected {self.expected})")


def _summary(result: GradeResult) -> str:
    ids = ", ".join(d.id for d in result.diagnosis) or "no diagnosis"
    return f"score {result.score:g}, {ids}"


def check_exercise(grader: Grader, exercise: Exercise) -> list[Check]:
    """Grade the exercise's solution, starter and mistakes; one :class:`Check` each."""
    checks = []
    solution = grader.grade(exercise, exercise.solution)
    checks.append(Check(exercise.id, "solution.py",
                        solution.score == 100 and not solution.diagnosis,
                        "score 100, no diagnosis", _summary(solution)))
    starter = grader.grade(exercise, exercise.starter)
    checks.append(Check(exercise.id, "starter.py",
                        starter.score < 100 and starter.sandbox_verdict in ("ok", "error"),
                        "runs, score below 100", _summary(starter)))
    for mistake in exercise.mistakes:
        result = grader.grade(exercise, mistake.source)
        diagnosed = mistake.diagnosis in {d.id for d in result.diagnosis}
        checks.append(Check(
            exercise.id, f"mistakes/{mistake.file}",
            diagnosed and result.score <= mistake.max_score,
            f"{mistake.diagnosis}, score <= {mistake.max_score:g}", _summary(result)))
    return checks
