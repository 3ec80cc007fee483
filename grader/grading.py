"""Grading a submission: static checks, the sandbox, the reference, the score, the diagnosis.

:class:`Grader` is what the command line and the service use::

    with Sandbox() as sandbox:
        grader = Grader(load_catalog(), sandbox)
        result = grader.grade("adam", source)
        print(result.score, result.feedback)

The grader is one pipeline for every kind of exercise; at each step it asks the
exercise's kind (:mod:`grader.kinds`) and never branches on the kind's name:

1. **prepare** (once per exercise version, :mod:`grader.preparation`): the reference
   runs of every case, the inputs of every run (start, per-step learning rates,
   mini-batches, data), and the trajectories of the known wrong rules used for diagnosis
   (the exercise's own mistakes and the kind's :meth:`~grader.kinds.base.Kind.candidates`);
2. **job**: the static checks, then the kind's sandbox job for the visible runs and
   another for the hidden ones (:meth:`~grader.kinds.base.Kind.job`);
3. **sandbox**: both jobs run at the same time (:func:`run_together`);
4. **trajectories**: the kind reads each run's trajectory from what came back
   (:meth:`~grader.kinds.base.Kind.trajectories`);
5. **score**: each run against its reference (:meth:`PreparedExercise.score`);
6. **diagnose**: the runs against the known wrong rules (:func:`grader.diagnosis.diagnose`).

Hidden cases stay hidden by construction, not by obscurity: the visible runs and the
hidden runs are two jobs in two sandbox children. The visible runs' child never holds a
hidden input, so student code that reads every object of its process finds none; the
hidden runs' child is answered with verdicts and scores only (its printed output and
errors are for the instructors, :meth:`GradeResult.instructor_view`).
"""

from __future__ import annotations

import builtins
import functools
import importlib.metadata
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from grader import kinds
from grader.catalog import Catalog, Exercise
from grader.diagnosis import Candidate, Diagnosis, diagnose, distinguishable, message
from grader.engine.runs import ENGINE_VERSION, Plan
from grader.kinds.wire import array_name, run_arrays
from grader.limits import SandboxLimits
from grader.preparation import ExerciseRun, PreparedExercise, prepare_exercise
from grader.sandbox.client import Job, JobResult, Sandbox, StudentError, describe
from grader.sandbox.static import check_source
from grader.scoring import FLOAT32_CEILING, RunScore, Trace

Array = npt.NDArray[np.float64]


@functools.cache
def gdlab_version() -> str:
    """The installed gdlab's version (for replay information; read once, as reading the
    package metadata costs a millisecond)."""
    try:
        return importlib.metadata.version("gdlab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --- the pipeline's steps ---------------------------------------------------------------


@dataclass(frozen=True)
class JobResults:
    """What the sandbox returned for one submission: the job of its visible runs and the
    job of its hidden runs, each run in a child of its own (None: no such runs).

    Only ``visible`` may ever reach the student beyond verdicts and scores.
    """

    visible: JobResult | None
    hidden: JobResult | None

    def parts(self) -> dict[str, JobResult]:
        """The jobs that ran, by part."""
        return {part: result for part, result in (("visible", self.visible),
                                                  ("hidden", self.hidden))
                if result is not None}

    @property
    def elapsed(self) -> float:
        """Wall-clock seconds of the longer job (they run at the same time)."""
        return max((result.elapsed for result in self.parts().values()), default=0.0)


def job_part(result: JobResult, indices: Sequence[int], kind: str) -> JobResult:
    """The part of a ``kind`` job over all runs that covers ``indices``, numbered from 0
    as if it had been a job of those runs only."""
    arrays = {array_name(prefix, new): array
              for new, old in enumerate(indices)
              for prefix, array in run_arrays(result.arrays, kind, old).items()}
    runs = tuple(result.runs[old] for old in indices if old < len(result.runs))
    return replace(result, runs=runs, arrays=arrays)


def split_whole(prepared: PreparedExercise, result: JobResult) -> JobResults:
    """A job that ran every run (kept from before jobs were split, or run in process) as
    the two parts; what it printed stays with the visible part, as it was shown then."""
    parts = prepared.parts()
    kind = prepared.exercise.kind
    visible = job_part(result, parts["visible"], kind) if "visible" in parts else None
    hidden = (replace(job_part(result, parts["hidden"], kind), stdout="",
                      stdout_truncated=False, error=None) if "hidden" in parts else None)
    return JobResults(visible, hidden)


def build_job(exercise: Exercise, runs: Sequence[ExerciseRun], code: str) -> Job:
    """The sandbox job that runs ``code`` on the runs (the exercise's kind builds it)."""
    return kinds.get(exercise.kind).job(code, runs)


def student_trajectories(exercise: Exercise, runs: Sequence[ExerciseRun],
                         result: JobResult) -> list[Array | None]:
    """Each run's parameter trajectory from a job's result (None where the run failed or
    what came back does not fit it; see :meth:`grader.kinds.base.Kind.trajectories`)."""
    return kinds.get(exercise.kind).trajectories(runs, result)


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunStory:
    """What the feedback says about one run, hidden runs included (never serialised:
    for a hidden run it holds no input, only its case's name and description)."""

    #: The case as the feedback names it: its problem and, for a hidden case, what
    #: differs from the visible ones (by name only, never a value).
    label: str = ""
    #: The first step where the run leaves the reference (None: never, or no run).
    step: int | None = None
    #: The first step whose parameters are NaN or infinite, and what it holds there.
    non_finite_step: int | None = None
    non_finite_value: str | None = None
    #: ``"limit"``: stopped where its loss passed the divergence limit.
    stopped: str | None = None
    #: The exception this run raised (None: it did not, or no run).
    error: StudentError | None = None


@dataclass(frozen=True)
class RunGrade:
    """How one run (a case at one learning rate) was graded."""

    case: str
    visible: bool
    lr: float
    verdict: str
    score: float
    agreement: float
    outcome: str | None
    reference_outcome: str
    progress: float
    first_disagreement: dict[str, Any] | None
    story: RunStory = field(default_factory=RunStory, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for visible runs)."""
        return {
            "case": self.case, "lr": self.lr, "verdict": self.verdict, "score": self.score,
            "agreement": round(self.agreement, 6), "outcome": self.outcome,
            "reference_outcome": self.reference_outcome, "progress": round(self.progress, 6),
            "first_disagreement": self.first_disagreement,
        }


@dataclass(frozen=True)
class VisibleTrace:
    """What a plot needs of a visible run: both trajectories and losses."""

    case: str
    lr: float
    student: Trace | None
    reference: Trace
    first_disagreement: int | None
    plan: Plan


@dataclass(frozen=True)
class GradeResult:
    """A graded submission: score, verdicts, diagnosis, feedback and replay information.

    :meth:`to_dict` is the student's view; :meth:`instructor_view` adds what only
    instructors may see (the hidden runs' output, the hidden cases' seeds).
    """

    exercise: str
    exercise_version: int
    score: float
    runs: tuple[RunGrade, ...]
    diagnosis: tuple[Diagnosis, ...]
    feedback: str
    sandbox_verdict: str
    sandbox_detail: str
    stdout: str
    error: dict[str, Any] | None
    replay: dict[str, Any]
    traces: tuple[VisibleTrace, ...] = ()
    hidden_job: dict[str, Any] | None = None

    @property
    def visible_runs(self) -> tuple[RunGrade, ...]:
        """The runs shown in detail."""
        return tuple(run for run in self.runs if run.visible)

    def hidden_summary(self) -> dict[str, Any]:
        """The hidden runs as an aggregate only: how many, their mean score, verdicts."""
        hidden = [run for run in self.runs if not run.visible]
        return {
            "runs": len(hidden),
            "score": round(sum(r.score for r in hidden) / len(hidden), 2) if hidden else None,
            "verdicts": dict(Counter(r.verdict for r in hidden)),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: hidden runs appear only as an aggregate, never with their data."""
        return {
            "exercise": self.exercise,
            "exercise_version": self.exercise_version,
            "score": self.score,
            "runs": [run.to_dict() for run in self.visible_runs],
            "hidden": self.hidden_summary(),
            "diagnosis": [d.to_dict() for d in self.diagnosis],
            "feedback": self.feedback,
            "sandbox": {"verdict": self.sandbox_verdict, "detail": self.sandbox_detail},
            "stdout": self.stdout,
            "error": self.error,
            "replay": student_replay(self.replay, [run.case for run in self.visible_runs]),
        }

    def instructor_view(self) -> dict[str, Any]:
        """What only instructors see: the full replay information (every case's seed) and
        how the hidden runs' job ended, with what it printed and raised."""
        return {"replay": self.replay, "hidden_job": self.hidden_job}


# --- the grader -------------------------------------------------------------------------------


class Grader:
    """Grades submissions against a catalog, running them in a sandbox.

    Parameters
    ----------
    catalog : Catalog
        The exercises.
    sandbox : Sandbox
        A started sandbox (the grader does not own it).
    """

    def __init__(self, catalog: Catalog, sandbox: Sandbox) -> None:
        self.catalog = catalog
        self.sandbox = sandbox
        self._prepared: dict[tuple[str, int], PreparedExercise] = {}
        self._lock = threading.Lock()

    @property
    def limits(self) -> SandboxLimits:
        """The sandbox's limits (the code size limit comes from there)."""
        return self.sandbox.limits

    def exercise(self, exercise: str | Exercise) -> Exercise:
        """An exercise by id (KeyError listing the known ids) or as given."""
        return exercise if isinstance(exercise, Exercise) else self.catalog.get(exercise)

    def prepare(self, exercise: str | Exercise) -> PreparedExercise:
        """Everything grading ``exercise`` needs that does not depend on the submission;
        computed once per exercise version."""
        exercise = self.exercise(exercise)
        key = (exercise.id, exercise.version)
        with self._lock:
            if key not in self._prepared:
                prepared = prepare_exercise(exercise)
                prepared.candidates = self._candidates(prepared)
                self._prepared[key] = prepared
            return self._prepared[key]

    def _candidates(self, prepared: PreparedExercise) -> list[Candidate]:
        """The known wrong rules a student's runs are compared with: the exercise's own
        mistakes (run in the sandbox, as a student's code is) and its kind's, each cut as
        the reference is; those the reference itself would match are left out."""
        exercise, runs = prepared.exercise, prepared.runs
        kind = kinds.get(exercise.kind)
        found: list[Candidate] = []
        for mistake in exercise.mistakes:
            result = self.sandbox.run(kind.job(mistake.source, runs))
            found.append(Candidate(mistake.diagnosis, tuple(kind.trajectories(runs, result))))
        found += [Candidate(name, tuple(trajectories))
                  for name, trajectories in kind.candidates(prepared).items()]
        found = [Candidate(c.id, tuple(prepared.cut_like_the_reference(c.trajectories)))
                 for c in found]
        reference = [run.reference.trajectory for run in runs]
        scoring = exercise.scoring
        return [c for c in found
                if distinguishable(c.trajectories, reference, scoring.atol, scoring.rtol)]

    def message_of(self, exercise: Exercise, diagnosis: str) -> str:
        """The sentence of a diagnosis id (the exercise's own, or gdlab's)."""
        return message(diagnosis, exercise.kind, exercise.diagnoses)

    def grade(self, exercise: str | Exercise, source: bytes | str) -> GradeResult:
        """Grade ``source`` for ``exercise``.

        Raises
        ------
        SourceRejectedError
            The code fails the static checks (encoding, size, syntax, entry point).
        KeyError
            No such exercise.
        SandboxBusyError, SandboxUnavailableError, SandboxError
            The code could not be run.
        """
        return self.submit(exercise, source)[0]

    def submit(self, exercise: str | Exercise,
               source: bytes | str) -> tuple[GradeResult, JobResults]:
        """Grade ``source`` as :meth:`grade` does, and also return the sandbox's results:
        what to keep to score or draw the submission again (:meth:`assess`).

        The visible and the hidden runs are two jobs (two children, so that the visible
        one never holds a hidden input), sent at the same time.
        """
        exercise = self.exercise(exercise)
        code = check_source(source, exercise.contract(), self.limits.code_limit)
        prepared = self.prepare(exercise)
        kind = kinds.get(exercise.kind)
        jobs = {part: kind.job(code, [prepared.runs[i] for i in indices])
                for part, indices in prepared.parts().items()}
        results = JobResults(**{"visible": None, "hidden": None,
                                **run_together(self.sandbox, jobs)})
        return self.assess(prepared, results), results

    def assess(self, prepared: PreparedExercise, results: JobResults) -> GradeResult:
        """Score the jobs' results (everything after the sandbox; no I/O)."""
        exercise, runs = prepared.exercise, prepared.runs
        kind = kinds.get(exercise.kind)
        trajectories: list[Array | None] = [None] * len(runs)
        timed_out = [False] * len(runs)
        errors: list[StudentError | None] = [None] * len(runs)
        for part, indices in prepared.parts().items():
            result = getattr(results, part)
            if result is None:
                continue
            part_runs = [runs[i] for i in indices]
            found = (kind.trajectories(part_runs, result)
                     if result.verdict in ("ok", "error") else [None] * len(indices))
            reports = list(result.runs)[: len(indices)]
            for position, (index, trajectory) in enumerate(zip(indices, found, strict=True)):
                trajectories[index] = trajectory
                timed_out[index] = result.verdict == "timeout"
                if position < len(reports):
                    errors[index] = reports[position].error
        shown = student_view(results, self.limits)
        visible = [run for run in runs if run.case.visible]
        grades, traces, compared, scores = [], [], [], []
        for index, run in enumerate(runs):
            trajectory = trajectories[index]
            student, score = prepared.score(run, trajectory,
                                            "timeout" if timed_out[index] else "error")
            outcome = None if student is None else student.outcome
            compared.append(None if student is None else student.trajectory)
            scores.append(score)
            story = run_story(case_label(run, visible), score, student,
                              errors[index] if score.verdict == "error" else None)
            grades.append(self._run_grade(run, score, outcome, student, trajectory, story=story))
            if run.case.visible:
                traces.append(VisibleTrace(run.case.name, run.lr, student, run.reference,
                                           score.first_disagreement, prepared.plan_of(run)))
        total = round(sum(g.score for g in grades) / len(grades), 2)
        float32 = computed_in_float32(scores)
        diagnosis = () if total == 100 else tuple(diagnose(
            compared, prepared.groups, prepared.candidates,
            functools.partial(self.message_of, exercise),
            atol=exercise.scoring.atol, rtol=exercise.scoring.rtol, float32=float32))
        return GradeResult(
            exercise=exercise.id, exercise_version=exercise.version, score=total,
            runs=tuple(grades), diagnosis=diagnosis,
            feedback=feedback(total, grades, diagnosis, shown,
                              kept_output=self.limits.output_limit),
            sandbox_verdict=shown.verdict, sandbox_detail=shown.detail, stdout=shown.stdout,
            error=_error_dict(shown), replay=replay_info(exercise), traces=tuple(traces),
            hidden_job=None if results.hidden is None else _job_dict(results.hidden),
        )

    @staticmethod
    def _run_grade(run: ExerciseRun, score: RunScore, outcome: str | None,
                   student: Trace | None, raw: Array | None, *, story: RunStory) -> RunGrade:
        where = None
        step = score.first_disagreement
        if run.case.visible and step is not None and student is not None:
            # past the cut (a blow-up, the divergence limit) the raw row says what happened
            rows = student.trajectory if step < len(student.trajectory) else raw
            mine = rows[step] if rows is not None and step < len(rows) else None
            theirs = run.reference.trajectory[min(step, len(run.reference.trajectory) - 1)]
            where = {
                "step": step,
                "student": None if mine is None else [_json_number(v) for v in mine],
                "reference": [_json_number(v) for v in theirs],
            }
        return RunGrade(run.case.name, run.case.visible, run.lr, score.verdict, score.score,
                        score.agreement, outcome, run.reference.outcome, score.progress, where,
                        story)


def computed_in_float32(scores: Sequence[RunScore]) -> bool:
    """Whether float32 explains the submission: every run computed in float32 numbers and
    most of them following the reference to float32's precision (on a chaotic run, float32
    rounding alone can grow into a visible difference, so not every run must)."""
    followed = sum(score.verdict == "float32" for score in scores)
    return all(score.float32 for score in scores) and 2 * followed > len(scores)


def run_story(label: str, score: RunScore, student: Trace | None,
              error: StudentError | None) -> RunStory:
    """What the feedback may say about a run (see :class:`RunStory`)."""
    if student is None:
        return RunStory(label=label, step=score.first_disagreement, error=error)
    return RunStory(label=label, step=score.first_disagreement,
                    non_finite_step=student.first_non_finite,
                    non_finite_value=student.non_finite_value, stopped=student.stopped,
                    error=error)


def run_together(sandbox: Sandbox, jobs: dict[str, Job]) -> dict[str, JobResult]:
    """Run the jobs at the same time (one thread each but the last, which runs here) and
    return their results by name; the first error any of them raised is raised once all
    have ended."""
    results: dict[str, JobResult] = {}
    errors: list[BaseException] = []

    def run(name: str, job: Job) -> None:
        try:
            results[name] = sandbox.run(job)
        except BaseException as error:  # re-raised below, in the caller's thread
            errors.append(error)

    *others, (last_name, last_job) = jobs.items()
    threads = [threading.Thread(target=run, args=item, daemon=True) for item in others]
    for thread in threads:
        thread.start()
    run(last_name, last_job)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def hidden_detail(verdict: str, limits: SandboxLimits) -> str:
    """The sentence a student reads when the hidden runs ended with ``verdict``: the
    verdict only, never what the code raised or printed there."""
    if verdict == "ok":
        return describe("ok", limits)
    if verdict == "error":
        return ("Your code raised an error on a hidden run; what it raised and printed there "
                "is not shown, as nothing of a hidden run's inputs ever is.")
    return f"On the hidden runs: {describe(verdict, limits)}"


def student_view(results: JobResults, limits: SandboxLimits) -> JobResult:
    """How the sandbox jobs ended, as the student may see it: the visible job's verdict,
    output and error; of the hidden job, its verdict alone (when the visible job was
    fine and the hidden one was not)."""
    visible, hidden = results.visible, results.hidden
    shown = visible if visible is not None else JobResult("ok", describe("ok", limits))
    if hidden is None or hidden.verdict == "ok" or shown.verdict != "ok":
        return shown
    return replace(shown, verdict=hidden.verdict, detail=hidden_detail(hidden.verdict, limits))


def _error_dict(result: JobResult) -> dict[str, Any] | None:
    error = result.error
    return None if error is None else {"type": error.type, "message": error.message,
                                       "line": error.line}


def _job_dict(result: JobResult) -> dict[str, Any]:
    """A job's ending in full (for instructors): verdict, sentence, output, error."""
    return {"verdict": result.verdict, "detail": result.detail, "stdout": result.stdout,
            "error": _error_dict(result)}


def _json_number(value: float) -> float | str:
    """A float for JSON: NaN and infinity become the strings "nan", "inf", "-inf"."""
    value = float(value)
    return value if np.isfinite(value) else str(value)


def replay_info(exercise: Exercise) -> dict[str, Any]:
    """Everything needed to grade the same submission the same way again (for the
    instructors: it names every case; students get :func:`student_replay`)."""
    return {
        "exercise": exercise.id,
        "exercise_version": exercise.version,
        "cases": {case.name: {"seed": case.seed, "problem": case.problem}
                  for case in exercise.cases},
        "engine": ENGINE_VERSION,
        "numpy": np.__version__,
        "gdlab": gdlab_version(),
    }


def student_replay(replay: dict[str, Any], visible_cases: Sequence[str]) -> dict[str, Any]:
    """The replay information a student may see: only the visible cases' seeds and
    problems (the hidden ones' would let the student rebuild their inputs)."""
    return {**replay, "cases": {name: case for name, case in replay["cases"].items()
                                if name in visible_cases}}


# --- what the student reads -------------------------------------------------------------

#: Problems as the feedback names them.
PROBLEM_NAMES = {"linear-regression": "linear regression", "quadratic": "quadratic bowl",
                 "rosenbrock": "Rosenbrock", "beale": "Beale",
                 "logistic-regression": "logistic regression"}


def case_label(run: ExerciseRun, visible: Sequence[ExerciseRun]) -> str:
    """A case as the feedback names it: its problem and, for a hidden case, what differs
    from the visible ones, by name only ("Rosenbrock, other betas"); never a value.

    The differences named: hyper-parameters whose value no visible case has, other data
    (another seed or other problem settings of the same problem), another number of
    parameters, another start, another number of epochs or other mini-batches.
    """
    case = run.case
    problem = PROBLEM_NAMES.get(case.problem, case.problem)
    if case.visible or not visible:
        return problem
    shown = {id(other.case): other for other in visible}.values()
    differs = [name for name, value in case.hyper.items()
               if all(other.case.hyper.get(name) != value for other in shown)]
    if {"beta1", "beta2"} <= set(differs):
        differs = ["betas" if name == "beta1" else name for name in differs if name != "beta2"]
    notes = [f"other {' and '.join(differs)}"] if differs else []
    same_problem = [other for other in shown if other.case.problem == case.problem]
    if same_problem and all(other.case.seed != case.seed
                            or other.case.problem_options != case.problem_options
                            for other in same_problem):
        notes.append("other data" if case.problem.endswith("regression") else "other settings")
    if all(len(other.x0) != len(run.x0) for other in shown):
        notes.append("another number of parameters")
    elif case.x0 is not None and all(other.case.x0 != case.x0 for other in shown):
        notes.append("another start")
    if all(other.case.epochs != case.epochs for other in shown):
        notes.append("another number of epochs")
    if case.batch_size and all(other.case.batch_size != case.batch_size for other in shown):
        notes.append("other mini-batches")
    return ", ".join([problem, *notes])


def feedback(score: float, grades: Sequence[RunGrade], diagnosis: Sequence[Diagnosis],
             result: JobResult, *, kept_output: int | None = None) -> str:
    """A short paragraph for the student: what happened and what to do.

    When some runs raised, the error leads (with the runs it raised on); a diagnosis
    follows only if it explains every run. Without one, the first visible run that
    leaves the reference says where and by how much, or, when only hidden runs leave
    it, which hidden cases do and at which step (never their inputs).
    """
    if result.verdict not in ("ok", "error"):
        return result.detail
    failed = [g for g in grades if g.verdict in ("error", "timeout")]
    if result.error and len(failed) == len(grades):
        return result.detail
    parts = []
    if score == 100:
        parts.append(f"All {len(grades)} runs follow the reference step by step. Well done.")
    else:
        if failed:
            parts.append(_error_lead(failed))
        if diagnosis:
            parts.append(diagnosis[0].message)
        else:
            parts += _where_it_differs(grades)
        if any(g.verdict == "float32" for g in grades) and not any(
                d.id == "float32" for d in diagnosis):
            parts.append(f"Your numbers are float32 in some runs: those are compared to "
                         f"float32's precision and score at most {FLOAT32_CEILING:g}.")
        matched = sum(g.verdict == "match" for g in grades)
        close = sum(g.verdict == "float32" for g in grades)
        more = f", {close} more to float32's precision" if close else ""
        parts.append(f"{matched} of {len(grades)} runs match the reference{more}.")
    if result.stdout_truncated:
        kept = f" beyond the first {kept_output // 1024} KiB" if kept_output else ""
        parts.append(f"Your code printed a lot: its output{kept} was dropped, and your numbers "
                     "were graded all the same.")
    return " ".join(parts)


def _error_lead(failed: Sequence[RunGrade]) -> str:
    """The error, first: what was raised (in full where a visible run raised it; a
    hidden run's message is never shown), and on which runs."""
    where = _runs_named(failed)
    shown = next((g.story.error for g in failed if g.visible and g.story.error), None)
    if shown is not None:
        if shown.category == "contract":
            return f"Your code broke the contract: {shown.message} (on {where})."
        return f"Your code raised {shown.sentence()} (on {where})."
    hidden = next((g.story.error for g in failed if g.story.error), None)
    if hidden is None:
        return f"Your code produced nothing usable on {where}."
    if hidden.category == "contract":
        return (f"Your code broke the contract on {where}: it returned something that is not "
                "an array of the parameters' shape there (a hidden case's message is not shown).")
    kind = hidden.type if hidden.type in vars(builtins) else "an exception"
    line = f" on line {hidden.line}" if hidden.line else ""
    assumes = ("the number of parameters" if any(
        "number of parameters" in g.story.label for g in failed) else "a setting")
    return (f"Your code raised {kind}{line} on {where}. Hidden cases do not show their "
            f"messages: does your code assume {assumes} of the visible case?")


def _runs_named(grades: Sequence[RunGrade]) -> str:
    """Runs as a student can find them: visible ones by case and learning rate, hidden
    ones by case name and description only."""
    visible: dict[str, list[str]] = {}
    hidden: dict[str, str] = {}
    for grade in grades:
        if grade.visible:
            visible.setdefault(grade.case, []).append(f"{grade.lr:g}")
        else:
            hidden[grade.case] = f"`{grade.case}` ({grade.story.label})"
    phrases = [f"case '{case}' at lr {_and(lrs)}" for case, lrs in visible.items()]
    if hidden:
        phrases.append(("hidden case " if len(hidden) == 1 else "hidden cases ")
                       + _and(list(hidden.values())))
    return _and(phrases)


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _where_it_differs(grades: Sequence[RunGrade]) -> list[str]:
    """Where the student's runs first leave the reference: the first visible run that
    does, in numbers; else each hidden case that does, by name and step."""
    first = next((g for g in grades if g.visible and g.first_disagreement), None)
    if first is not None:
        return [_visible_difference(first)]
    cases: dict[str, RunGrade] = {}
    for grade in grades:
        if grade.visible or grade.story.step is None or grade.verdict == "error":
            continue
        known = cases.get(grade.case)
        if known is None or grade.story.step < (known.story.step or 0):
            cases[grade.case] = grade
    sentences = [_hidden_difference(grade) for grade in list(cases.values())[:3]]
    if len(cases) > 3:
        sentences.append(f"So do {len(cases) - 3} more hidden cases.")
    return sentences


def _hidden_difference(grade: RunGrade) -> str:
    story = grade.story
    sentence = (f"Hidden case `{grade.case}` ({story.label}): your curve leaves the reference "
                f"at step {story.step}")
    if story.non_finite_step is not None:
        sentence += f" and becomes {story.non_finite_value} at step {story.non_finite_step}"
    elif grade.verdict == "diverged":
        sentence += " and diverges"
    return sentence + "."


def _visible_difference(grade: RunGrade) -> str:
    where = grade.first_disagreement or {}
    story = grade.story
    step = where.get("step")
    start = f"On case '{grade.case}' with lr {grade.lr:g}, your parameters"
    theirs = [float(v) for v in where.get("reference", [])]
    mine = None if where.get("student") is None else [float(v) for v in where["student"]]
    if story.non_finite_step is not None and story.non_finite_step <= (step or 0):
        return (f"{start} become {story.non_finite_value} at step {story.non_finite_step} "
                f"(the first non-finite value), where the reference's are "
                f"{_numbers(theirs, 6)}; until then they follow it.")
    if mine is None:
        return (f"{start} stop at step {step}, where the reference's are "
                f"{_numbers(theirs, 6)}.")
    yours, reference, relative = _compared(mine, theirs)
    sentence = (f"{start} leave the reference at step {step}: yours {yours}, the "
                f"reference's {reference}{relative}.")
    if story.non_finite_step is not None:
        sentence += f" They become {story.non_finite_value} at step {story.non_finite_step}."
    elif story.stopped == "limit":
        sentence += " Later its loss passes the divergence limit and the run is stopped."
    return sentence


def _compared(mine: Sequence[float], theirs: Sequence[float]) -> tuple[str, str, str]:
    """Both vectors with the fewest significant digits (at least 6) that tell them apart,
    and their relative difference.

    Examples
    --------
    >>> for text in _compared([-1.1425033, 0.035170213], [-1.1425031, 0.035170218]):
    ...     print(text)
    (-1.142503, 0.03517021)
    (-1.142503, 0.03517022)
    , a relative difference of 1.8e-07
    """
    for digits in range(6, 18):
        yours, reference = _numbers(mine, digits), _numbers(theirs, digits)
        if yours != reference:
            break
    with np.errstate(all="ignore"):
        a, b = np.asarray(mine, dtype=float), np.asarray(theirs, dtype=float)
        distance, size = float(np.linalg.norm(a - b)), float(np.linalg.norm(b))
    if not np.isfinite(distance):
        return yours, reference, ""
    if size == 0:
        return yours, reference, f", an absolute difference of {distance:.2g}"
    return yours, reference, f", a relative difference of {distance / size:.2g}"


def _numbers(values: Sequence[float], digits: int) -> str:
    return "(" + ", ".join(_number(v, digits) for v in values) + ")"


def _number(value: float, digits: int) -> str:
    if np.isnan(value):
        return "NaN"
    return f"{value:.{digits}g}"
