"""Benchmarks of the sandbox: what isolation costs per job, and how many jobs a second.

    .venv/bin/python bench/sandbox.py            (as root, for every layer)

Each figure is measured against a fresh-interpreter-per-job baseline in the same run:
``python -c`` that imports numpy and gdlab's problem code and runs the same rule, which
is what a sandbox without a fork server pays per job (and it isolates nothing).

1. Per-job overhead of a trivial update rule (one step on the quadratic): p50, p99.
2. The course's GD exercise end to end: 3 learning rates x 100 epochs of a student's
   update rule on the linear regression.
3. Trivial jobs per second with 2 slots (4 client threads keep both slots busy).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from timing import header, row, timings

from grader.limits import SandboxLimits
from grader.sandbox import Job, Sandbox

RULE = "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n"
TRIVIAL = Job.update_rule(RULE, problem={"name": "quadratic"},
                          runs=[{"x0": [1.0, 1.0], "lrs": [0.1]}])
SEED = Job.update_rule(RULE, problem={"name": "linear-regression"},
                       runs=[{"x0": [-1.4, -0.4], "lrs": [lr] * 100} for lr in (0.01, 0.1, 0.5)])

_FRESH = """
import numpy as np
from grader.engine.problems import make_problem
namespace = {{}}
exec(compile({code!r}, "submission.py", "exec"), namespace)
problem = make_problem({problem!r})
for lr, steps in {runs!r}:
    params, state = np.array({x0!r}), {{}}
    for _ in range(steps):
        params = namespace["update"](params, problem.grad(params), lr, state)
"""


def fresh_command(problem: str, x0: list[float], runs: list[tuple[float, int]]) -> list[str]:
    """A fresh interpreter that does the job's work without any sandbox."""
    script = _FRESH.format(code=RULE, problem=problem, x0=x0, runs=runs)
    return [sys.executable, "-c", script]


def throughput(action: Callable[[], object], threads: int, seconds: float) -> float:
    """Completed calls per second with ``threads`` callers for ``seconds``."""
    done = [0] * threads
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        while time.monotonic() < stop:
            action()
            done[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, running as uid {os.geteuid()}")
    with Sandbox(SandboxLimits(slots=2)) as sandbox:
        layers = sandbox.status()["layers"]
        active = [name for name, entry in layers.items() if entry["active"]]
        print(f"layers active ({len(active)}/{len(layers)}): {', '.join(active)}")
        print(header())
        sandboxed = timings(lambda: sandbox.run(TRIVIAL), 300)
        print(row("trivial rule, sandbox (fork server)", sandboxed))

        def fresh(command: list[str]) -> Callable[[], object]:
            return lambda: subprocess.run(command, env=env, check=True)

        trivial_fresh = fresh(fresh_command("quadratic", [1.0, 1.0], [(0.1, 1)]))
        print(row("trivial rule, fresh interpreter per job", timings(trivial_fresh, 30, 2)))
        print(row("course GD exercise (3 lr x 100 epochs), sandbox",
                  timings(lambda: sandbox.run(SEED), 200)))
        seed_fresh = fresh(fresh_command("linear-regression", [-1.4, -0.4],
                                         [(0.01, 100), (0.1, 100), (0.5, 100)]))
        print(row("course GD exercise, fresh interpreter per job", timings(seed_fresh, 30, 2)))
        rate = throughput(lambda: sandbox.run(TRIVIAL), threads=4, seconds=5)
        print(f"{'trivial jobs/s with 2 slots, sandbox':<58} {rate:>9.1f}")
        rate = throughput(trivial_fresh, threads=2, seconds=5)
        print(f"{'trivial jobs/s, 2 fresh interpreters at a time':<58} {rate:>9.1f}")


if __name__ == "__main__":
    main()
