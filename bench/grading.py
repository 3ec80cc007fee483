"""Benchmark of grading: the course's GD exercise end to end, and what the sandbox adds.

    .venv/bin/python bench/grading.py            (as root, for every sandbox layer)

1. End to end, as ``gdlab grade`` and the service do it: static checks, the two sandbox
   jobs run at the same time (the visible cases x learning rates in one child, the hidden
   ones in another), the reference (prepared once per
   exercise, as in the service), scoring and diagnosis. No plot. p50, p99.
   Measured alternately with the same grading done as before hidden runs had a child of
   their own: one job over every run (the split's cost, on the same runner and load).
2. The bare in-process cost of the same runs in the same process, without the sandbox:
   the same static checks, the student's code executed here, the same harness loop, the
   same scoring. The difference between 1 and 2 is what isolation costs.
3. A wrong submission (the sign flipped), which also runs the diagnosis.
4. Plot rendering (PNG and SVG), reported apart: grading never waits for a plot.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

from timing import header, row, timings

from grader.catalog import load_catalog
from grader.grading import Grader, build_job, split_whole
from grader.kinds.update_rule import in_process
from grader.limits import SandboxLimits
from grader.plots import plot_grade
from grader.sandbox import Sandbox
from grader.sandbox.client import JobResult, RunReport
from grader.sandbox.static import check_source

EXERCISE = "gd"


def bare_in_process(grader: Grader, source: str) -> object:
    """Grade ``source`` with the same checks, loop and scoring, but no sandbox at all."""
    exercise = grader.exercise(EXERCISE)
    code = check_source(source, exercise.contract(), grader.limits.code_limit)
    namespace: dict[str, object] = {}
    # Deliberately unsandboxed: this is the baseline that shows what the sandbox costs.
    exec(compile(code, "submission.py", "exec"), namespace)
    prepared = grader.prepare(exercise)
    trajectories = in_process(namespace[exercise.contract().entry], prepared.runs)
    reports = tuple(RunReport(steps=len(t) - 1 if t is not None else 0,
                              stopped=None if t is not None else "error", error=None)
                    for t in trajectories)
    arrays = {f"trajectory_{i}": t for i, t in enumerate(trajectories) if t is not None}
    whole = JobResult("ok", "", runs=reports, arrays=arrays)
    return grader.assess(prepared, split_whole(prepared, whole))


def one_job(grader: Grader, source: str) -> object:
    """Grade ``source`` as before the split: every run, visible and hidden, in one job."""
    exercise = grader.exercise(EXERCISE)
    code = check_source(source, exercise.contract(), grader.limits.code_limit)
    prepared = grader.prepare(exercise)
    result = grader.sandbox.run(build_job(exercise, prepared.runs, code))
    return grader.assess(prepared, split_whole(prepared, result))


def alternately(first: Callable[[], object], second: Callable[[], object],
                repeat: int, warmup: int = 3) -> tuple[list[float], list[float]]:
    """Milliseconds of ``repeat`` calls of each, one of each in turn (same conditions)."""
    for _ in range(warmup):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, kept in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            action()
            kept.append((time.perf_counter() - start) * 1e3)
    return sorted(times[0]), sorted(times[1])


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, running as uid {os.geteuid()}")
    catalog = load_catalog()
    exercise = catalog.get(EXERCISE)
    solution = exercise.solution
    wrong = solution.replace("params - lr * grad", "params + lr * grad")
    assert wrong != solution, "the benchmark's wrong submission must differ from the solution"
    with Sandbox(SandboxLimits(slots=2)) as sandbox:
        layers = sandbox.status()["layers"]
        active = sum(entry["active"] for entry in layers.values())
        print(f"sandbox layers active: {active}/{len(layers)}")
        grader = Grader(catalog, sandbox)
        prepared = grader.prepare(EXERCISE)
        print(f"exercise {EXERCISE!r}: {len(prepared.runs)} runs "
              f"({sum(len(r.step_rates) for r in prepared.runs)} student steps) per submission")
        result = grader.grade(EXERCISE, solution)
        assert result.score == 100, result.feedback
        bare = bare_in_process(grader, solution)
        assert bare.score == 100, bare.feedback

        print(header())
        split, whole = alternately(lambda: grader.grade(EXERCISE, solution),
                                   lambda: one_job(grader, solution), 300)
        print(row("grade the solution end to end (sandbox, no plot)", split))
        print(row("  the same with every run in one job (before the split)", whole))
        print(row("same runs and scoring in process, no sandbox",
                  timings(lambda: bare_in_process(grader, solution), 300)))
        print(row("grade a wrong rule end to end (with diagnosis)",
                  timings(lambda: grader.grade(EXERCISE, wrong), 100)))
        figure_result = grader.grade(EXERCISE, wrong)
        print(row("plot of a graded submission, PNG",
                  timings(lambda: plot_grade(figure_result, "png"), 20, 2)))
        print(row("plot of a graded submission, SVG",
                  timings(lambda: plot_grade(figure_result, "svg"), 20, 2)))


if __name__ == "__main__":
    main()
