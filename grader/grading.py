"""Grading a submission: static checks, the sandbox, the reference, the score, the diagnosis.

:class:`Grader` is what the command line and the service use::

    with Sandbox() as sandbox:
        grader = Grader(load_catalog(), sandbox)
        result = grader.grade("adam", source)
        print(result.score, result.feedback)

For each exercise it prepares once (and keeps): the reference runs of every case, the
inputs of every run (start, per-step learning rates, mini-batches, data), and the
trajectories of the known wrong rules used for diagnosis. A submission is then two
sandbox jobs, run at the same time, plus arithmetic on the returned trajectories.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.catalog import Case, Catalog, Exercise
from grader.diagnosis import Candidate, Diagnosis, diagnose, distinguishable, message
from grader.engine import variants
from grader.engine.custom import CUSTOM_KEY, DataRegression, job_spec
from grader.engine.optimizers import get_optimizer
from grader.engine.problems import Problem, make_problem
from grader.engine.regularizers import make_clip, make_regularizer
from grader.engine.runs import ENGINE_VERSION, Plan, batch_order, execute, objective_loss, plan_run
from grader.engine.schedules import rates_by_epoch
from grader.limits import SandboxLimits
from grader.sandbox import harness
from grader.sandbox.client import Job, JobResult, Sandbox, StudentError, describe
from grader.sandbox.static import check_source
from grader.scoring import FLOAT32_CEILING, RunScore, Trace, failed_run, judge, score_run

Array = npt.NDArray[np.float64]
Rule = Callable[..., Array]


@functools.cache
def gdlab_version() -> str:
    """The installed gdlab's version (for replay information; read once, as reading the
    package metadata costs a millisecond)."""
    try:
        return importlib.metadata.version("gdlab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --- what is prepared once per exercise ---------------------------------------------------


@dataclass(frozen=True)
class RunInput:
    """One run of an exercise: a case at one learning rate, with its reference."""

    case_index: int
    case: Case
    lr: float
    x0: Array
    step_rates: Array
    batches: list[npt.NDArray[np.int64]] | None
    problem_spec: dict[str, Any]
    reference: Trace

    def job_run(self) -> dict[str, Any]:
        """The run as a sandbox job sees it."""
        return {"x0": self.x0, "lrs": self.step_rates, "hyper": dict(self.case.hyper),
                "batches": self.batches, "problem": self.problem_spec}


@dataclass
class Prepared:
    """An exercise made ready for grading: its runs, reference plans and candidates."""

    exercise: Exercise
    runs: list[RunInput]
    plans: list[Plan]
    groups: list[list[int]]
    candidates: list[Candidate] = field(default_factory=list)

    def plan_of(self, run: RunInput) -> Plan:
        """The engine plan of a run's case (its problem, loss, minimum)."""
        return self.plans[run.case_index]

    def parts(self) -> dict[str, list[int]]:
        """The indices of the visible and of the hidden runs (each run in one job of its
        own part; a part without runs is left out)."""
        found: dict[str, list[int]] = {"visible": [], "hidden": []}
        for index, run in enumerate(self.runs):
            found["visible" if run.case.visible else "hidden"].append(index)
        return {part: indices for part, indices in found.items() if indices}


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


_RUN_ARRAY = ("trajectory", "gradients", "rates")


def job_part(result: JobResult, indices: Sequence[int]) -> JobResult:
    """The part of a job over all runs that covers ``indices``, numbered from 0 as if it
    had been a job of those runs only."""
    arrays = {f"{name}_{new}": result.arrays[f"{name}_{old}"]
              for new, old in enumerate(indices) for name in _RUN_ARRAY
              if f"{name}_{old}" in result.arrays}
    runs = tuple(result.runs[old] for old in indices if old < len(result.runs))
    return replace(result, runs=runs, arrays=arrays)


def split_whole(prepared: Prepared, result: JobResult) -> JobResults:
    """A job that ran every run (kept from before jobs were split, or run in process) as
    the two parts; what it printed stays with the visible part, as it was shown then."""
    parts = prepared.parts()
    visible = job_part(result, parts["visible"]) if "visible" in parts else None
    hidden = (replace(job_part(result, parts["hidden"]), stdout="", stdout_truncated=False,
                      error=None) if "hidden" in parts else None)
    return JobResults(visible, hidden)


def problem_data(problem: Problem) -> tuple[Array, Array]:
    """The data a gradient exercise hands the student: inputs X and targets y."""
    if problem.name == "linear-regression":
        return problem.X, problem.y
    if problem.name == "logistic-regression":
        return problem.features[:, :2], problem.y
    if isinstance(problem, DataRegression):  # an exercise's data set: X is (n, d)
        return problem.X, problem.y
    raise ValueError(f"{problem.name} has no data for a gradient exercise")


def _step_rates(plan: Plan, lr_index: int) -> Array:
    epochs = rates_by_epoch(plan.schedule, plan.schedule_options, plan.learning_rates[:, None],
                            plan.spec.epochs)[:, lr_index, 0]
    return np.repeat(epochs, plan.steps_per_epoch)


def prepare_runs(exercise: Exercise) -> tuple[list[RunInput], list[Plan], list[list[int]]]:
    """Every case's reference sweep, cut into runs with everything a job needs."""
    runs: list[RunInput] = []
    plans, groups = [], []
    for case_index, case in enumerate(exercise.cases):
        plan = plan_run(exercise.reference_spec(case))
        sweep = execute(plan)
        plans.append(plan)
        batches = list(batch_order(plan)) if plan.steps_per_epoch > 1 else None
        # an exercise's own problem travels whole (its data, its module's source)
        spec = job_spec(plan.problem) or {"name": case.problem,
                                          "options": dict(plan.spec.problem_options),
                                          "seed": case.seed}
        group = []
        for lr_index, reference in enumerate(sweep.runs):
            group.append(len(runs))
            runs.append(RunInput(
                case_index=case_index, case=case, lr=reference.lr,
                x0=plan.starts[lr_index].copy(), step_rates=_step_rates(plan, lr_index),
                batches=batches, problem_spec=spec,
                reference=Trace(reference.trajectory, reference.recorded_losses,
                                reference.outcome, reference.steps_to_tolerance),
            ))
        groups.append(group)
    return runs, plans, groups


def build_job(exercise: Exercise, runs: Sequence[RunInput], code: str) -> Job:
    """The sandbox job that runs ``code`` on every run of the exercise."""
    if exercise.kind == "update_rule":
        return Job.update_rule(code, runs=[run.job_run() for run in runs])
    if exercise.kind == "gradient":
        job_runs = []
        for run in runs:
            X, y = problem_data(_problem(run))
            job_runs.append({**run.job_run(), "X": X, "y": y})
        return Job.gradient(code, runs=job_runs)
    return Job.schedule(code, runs=[{"lr0": run.lr, "epochs": run.case.epochs,
                                     "hyper": dict(run.case.hyper)} for run in runs])


@functools.lru_cache(maxsize=64)
def _cached_problem(name: str, options: tuple, seed: int | None) -> Problem:
    return make_problem(name, dict(options), seed)


def _problem(run: RunInput) -> Problem:
    spec = run.problem_spec
    if CUSTOM_KEY in spec:  # an exercise's own: built from the catalog's registration
        return make_problem(spec["name"])
    return _cached_problem(spec["name"], tuple(sorted(spec["options"].items())), spec["seed"])


def in_process(rule: Rule, runs: Sequence[RunInput]) -> list[Array | None]:
    """Trajectories of a trusted rule (gdlab's own) on the runs, through the same loop the
    sandbox uses for students."""
    job = Job.update_rule("", runs=[run.job_run() for run in runs])
    decoded_arrays = {name: np.asarray(value) for name, value in job.arrays.items()}
    gradients = harness.prepare_update_rule(dict(job.header), decoded_arrays)
    outputs, arrays = harness.execute_update_rule(dict(job.header), decoded_arrays, rule,
                                                  gradients, lambda error: {"error": repr(error)})
    return [arrays.get(f"trajectory_{i}") if run["stopped"] != "error" else None
            for i, run in enumerate(outputs["runs"])]


def _plain_gd(params: Array, grad: Array, lr: float, state: dict, **hyper: Any) -> Array:
    return params - lr * grad


def student_trajectories(exercise: Exercise, runs: Sequence[RunInput],
                         result: JobResult) -> list[Array | None]:
    """Each run's parameter trajectory from a job's result (None where the run failed).

    A schedule exercise returns learning rates: gradient descent with them, on the case's
    problem, gives the trajectory (run here, with gdlab's own plain GD). Arrays that do
    not fit the run (a result kept from before results were checked) count as failed
    runs: the work done here never exceeds the exercise's own size.
    """
    trajectories: list[Array | None] = []
    for index, (report, run) in enumerate(zip(result.runs, runs, strict=False)):
        if report.stopped == "error":
            trajectories.append(None)
        elif exercise.kind == "schedule":
            rates = result.arrays.get(f"rates_{index}")
            if (rates is None or rates.shape != (run.case.epochs,)
                    or not np.all(np.isfinite(rates))):
                trajectories.append(None)
                continue
            per_step = np.repeat(rates, len(run.step_rates) // run.case.epochs)
            replaced = RunInput(**{**run.__dict__, "step_rates": per_step})
            trajectories.append(in_process(_plain_gd, [replaced])[0])
        else:
            trajectory = result.arrays.get(f"trajectory_{index}")
            fits = (trajectory is not None and trajectory.ndim == 2
                    and 0 < len(trajectory) <= len(run.step_rates) + 1
                    and trajectory.shape[1] == run.x0.size)
            trajectories.append(trajectory if fits else None)
    trajectories += [None] * (len(runs) - len(trajectories))
    return trajectories


def trace_of(trajectory: Array, plan: Plan) -> Trace:
    """A trajectory judged as the reference is: its losses, outcome, and the engine's
    early stop where it diverges (the scoring and the diagnosis both compare this)."""
    with np.errstate(all="ignore"):
        losses = objective_loss(plan, trajectory)
    return judge(losses, trajectory, plan.target, plan.spec.tolerance)


def cut_like_the_reference(prepared: Prepared,
                           trajectories: Sequence[Array | None]) -> list[Array | None]:
    """Each run's trajectory cut by the engine's stopping rule, as the reference's is."""
    return [None if trajectory is None else trace_of(trajectory, prepared.plan_of(run)).trajectory
            for run, trajectory in zip(prepared.runs, trajectories, strict=True)]


def scheduled_trajectories(rule: Callable[..., float], exercise: Exercise,
                           runs: Sequence[RunInput]) -> list[Array | None]:
    """Gradient descent with the learning rates of a trusted schedule rule (gdlab's own
    variants), as a schedule exercise grades a student's rates."""
    trajectories: list[Array | None] = []
    for run in runs:
        options = exercise.reference.component("schedule", run.case.hyper).options
        rates = np.array([rule(epoch, run.lr, **options) for epoch in range(run.case.epochs)])
        per_step = np.repeat(rates, len(run.step_rates) // run.case.epochs)
        replaced = RunInput(**{**run.__dict__, "step_rates": per_step})
        trajectories.append(in_process(_plain_gd, [replaced])[0])
    return trajectories


# --- the reference rule and the candidates of diagnosis ----------------------------------


def reference_rule(exercise: Exercise) -> Rule:
    """The exercise's reference as an update rule with the students' contract, built from
    the engine's parts in the engine's order (tested to give the engine's trajectories)."""
    reference = exercise.reference
    optimizer = get_optimizer(reference.optimizer)

    def update(params: Array, grad: Array, lr: float, state: dict, **hyper: Any) -> Array:
        from grader.catalog.model import substitute  # noqa: PLC0415

        settings = optimizer.resolve(substitute(reference.hyper, hyper, "reference.hyper"))
        regularizer_part = reference.component("regularizer", hyper)
        clip_part = reference.component("clip", hyper)
        regularizer = make_regularizer(regularizer_part.name, regularizer_part.options)
        clip = make_clip(clip_part.name, clip_part.options)
        if "optimizer" not in state:
            state["optimizer"] = optimizer.init(params, **settings)
        step = clip(regularizer.gradient(grad, params))
        params = regularizer.before_step(params, lr)
        params = optimizer.step(params, step, lr, state["optimizer"], **settings)
        return regularizer.after_step(params, lr)

    return update


def _coupled_l2_name(exercise: Exercise) -> str | None:
    """The student hyper-parameter that is a coupled L2 strength, if there is one."""
    reference = exercise.reference
    value = reference.hyper.get("weight_decay")
    coupled = reference.optimizer in ("sgd", "adagrad", "rmsprop") or (
        reference.optimizer == "adam" and not reference.hyper.get("decoupled_weight_decay"))
    if coupled and isinstance(value, str) and value.startswith("$"):
        return value[1:]
    regularizer = reference.regularizer
    lam = regularizer.get("options", {}).get("lam")
    if regularizer.get("name") == "l2" and isinstance(lam, str) and lam.startswith("$"):
        return lam[1:]
    return None


def candidate_rules(exercise: Exercise) -> dict[str, Rule]:
    """Known wrong rules for an update-rule exercise: generic distortions of its
    reference and the engine's classic variants of its optimizer."""
    reference = reference_rule(exercise)

    def sign_flip(params, grad, lr, state, **hyper):
        return 2 * params - reference(params, grad, lr, state, **hyper)

    def state_reset(params, grad, lr, state, **hyper):
        return reference(params, grad, lr, {}, **hyper)

    def returns_step(params, grad, lr, state, **hyper):
        start = params.copy()
        return reference(params, grad, lr, state, **hyper) - start

    rules: dict[str, Rule] = {"sign-flip": sign_flip, "state-reset": state_reset,
                              "returns-step": returns_step}
    l2 = _coupled_l2_name(exercise)
    if l2 is not None:
        def l2_double(params, grad, lr, state, **hyper):
            return reference(params, grad, lr, state, **{**hyper, l2: 2 * hyper[l2]})

        rules["l2-double"] = l2_double
    optimizer = exercise.reference.optimizer
    decoupled = optimizer == "adamw"
    names = set(exercise.hyper_names)
    for name, (rule, optimizers) in variants.VARIANTS.items():
        if optimizer not in optimizers:
            continue
        if name == "momentum-ema" and ("momentum" not in names
                                       or exercise.reference.hyper.get("nesterov")):
            continue
        if name == "nesterov-as-heavy-ball" and not exercise.reference.hyper.get("nesterov"):
            continue
        if name.startswith("adam-") and decoupled:
            rules[name] = functools.partial(rule, decoupled=True)
        else:
            rules[name] = rule
    return rules


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
        self._prepared: dict[tuple[str, int], Prepared] = {}
        self._lock = threading.Lock()

    @property
    def limits(self) -> SandboxLimits:
        """The sandbox's limits (the code size limit comes from there)."""
        return self.sandbox.limits

    def exercise(self, exercise: str | Exercise) -> Exercise:
        """An exercise by id (KeyError listing the known ids) or as given."""
        return exercise if isinstance(exercise, Exercise) else self.catalog.get(exercise)

    def prepare(self, exercise: str | Exercise) -> Prepared:
        """Everything grading ``exercise`` needs that does not depend on the submission;
        computed once per exercise version."""
        exercise = self.exercise(exercise)
        key = (exercise.id, exercise.version)
        with self._lock:
            if key not in self._prepared:
                runs, plans, groups = prepare_runs(exercise)
                prepared = Prepared(exercise, runs, plans, groups)
                prepared.candidates = self._candidates(prepared)
                self._prepared[key] = prepared
            return self._prepared[key]

    def _candidates(self, prepared: Prepared) -> list[Candidate]:
        exercise, runs = prepared.exercise, prepared.runs
        found: list[Candidate] = []
        for mistake in exercise.mistakes:
            result = self.sandbox.run(build_job(exercise, runs, mistake.source))
            found.append(Candidate(mistake.diagnosis, tuple(
                student_trajectories(exercise, runs, result))))
        if exercise.kind == "update_rule":
            for name, rule in candidate_rules(exercise).items():
                found.append(Candidate(name, tuple(in_process(rule, runs))))
        elif exercise.kind == "gradient":
            found.append(Candidate("sign-flip", tuple(self._ascending(prepared))))
        else:
            schedule = exercise.reference.schedule.get("name")
            for name, (rule, schedules) in variants.SCHEDULE_VARIANTS.items():
                if schedule in schedules:
                    found.append(Candidate(name, tuple(scheduled_trajectories(
                        rule, exercise, runs))))
        found = [Candidate(c.id, tuple(cut_like_the_reference(prepared, c.trajectories)))
                 for c in found]
        reference = [run.reference.trajectory for run in runs]
        scoring = exercise.scoring
        return [c for c in found
                if distinguishable(c.trajectories, reference, scoring.atol, scoring.rtol)]

    def _ascending(self, prepared: Prepared) -> list[Array | None]:
        """Gradient descent uphill (a gradient with the wrong sign), from the engine."""
        trajectories: list[Array | None] = []
        for plan in prepared.plans:
            spec = plan.spec
            ascent = plan_run(type(spec)(**{**spec.__dict__, "hyper": {"maximize": True}}))
            trajectories += [run.trajectory for run in execute(ascent).runs]
        return trajectories

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
        jobs = {part: build_job(exercise, [prepared.runs[i] for i in indices], code)
                for part, indices in prepared.parts().items()}
        results = JobResults(**{"visible": None, "hidden": None,
                                **run_together(self.sandbox, jobs)})
        return self.assess(prepared, results), results

    def assess(self, prepared: Prepared, results: JobResults) -> GradeResult:
        """Score the jobs' results (everything after the sandbox; no I/O)."""
        exercise, runs = prepared.exercise, prepared.runs
        trajectories: list[Array | None] = [None] * len(runs)
        timed_out = [False] * len(runs)
        errors: list[StudentError | None] = [None] * len(runs)
        for part, indices in prepared.parts().items():
            result = getattr(results, part)
            if result is None:
                continue
            part_runs = [runs[i] for i in indices]
            found = (student_trajectories(exercise, part_runs, result)
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
            plan = prepared.plan_of(run)
            student, outcome = None, None
            trajectory = trajectories[index]
            if trajectory is None:
                score = failed_run("timeout" if timed_out[index] else "error")
            else:
                student = trace_of(trajectory, plan)
                outcome = student.outcome
                score = score_run(student, run.reference, exercise.scoring, plan.target)
            compared.append(None if student is None else student.trajectory)
            scores.append(score)
            story = run_story(case_label(run, visible), score, student,
                              errors[index] if score.verdict == "error" else None)
            grades.append(self._run_grade(run, score, outcome, student, trajectory, story=story))
            if run.case.visible:
                traces.append(VisibleTrace(run.case.name, run.lr, student, run.reference,
                                           score.first_disagreement, plan))
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
    def _run_grade(run: RunInput, score: RunScore, outcome: str | None,
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


def case_label(run: RunInput, visible: Sequence[RunInput]) -> str:
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
