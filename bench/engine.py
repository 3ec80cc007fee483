"""Benchmarks of the reference engine: how long a sweep and a plot take.

    .venv/bin/python bench/engine.py            (or: make bench)

1. The course example (3 learning rates x 100 epochs) through ``sweep``, after import,
   against the course script's own loop run in the same process.
2. A 20-learning-rate x 1000-epoch logistic-regression sweep: all rates stepped together
   (what ``sweep`` does) against one ``sweep`` per rate.
3. Rendering the course example's plot to PNG and to SVG.

Timings are wall-clock medians (and 99th percentiles) over repeated runs on this machine;
nothing here is asserted, and the test suite never times anything.
"""

from __future__ import annotations

import os
import platform

import numpy as np
from timing import header, row, timings

from grader.engine import RunSpec, sweep
from grader.plots import plot_sweep


def course_script_loop() -> list[list[float]]:
    """The course script's computation (tests/golden/gradient_descent_seed.py), minus pyplot."""
    rs = np.random.RandomState(42)
    X = np.linspace(0, 1, 100)
    y = 2 * X + 1 + rs.normal(0, 0.1, size=X.shape)
    histories = []
    for lr in [0.01, 0.1, 0.5]:
        w = rs.randn()
        b = rs.randn()
        history = []
        for _ in range(100):
            y_pred = w * X + b
            history.append(np.mean((y - y_pred) ** 2))
            dw = -2 * np.mean((y - y_pred) * X)
            db = -2 * np.mean(y - y_pred)
            w = w - lr * dw
            b = b - lr * db
        histories.append(history)
    return histories


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    print(f"machine: {_cpu()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(header())

    seed_spec = RunSpec(init="legacy")
    print(row("course sweep, gdlab sweep() (3 lr x 100 epochs)",
               timings(lambda: sweep(seed_spec), repeat=300)))
    print(row("course sweep, the course script's own loop",
               timings(course_script_loop, repeat=300)))

    rates = [round(0.05 * (i + 1), 2) for i in range(20)]
    logistic = RunSpec(problem="logistic-regression", optimizer="sgd", learning_rates=rates,
                       epochs=1000)
    print(row("logistic 20 lr x 1000 epochs, stepped together",
               timings(lambda: sweep(logistic), repeat=15, warmup=1)))
    one_by_one = [RunSpec(**{**logistic.__dict__, "learning_rates": [lr]}) for lr in rates]
    print(row("logistic 20 lr x 1000 epochs, one sweep() per lr",
               timings(lambda: [sweep(s) for s in one_by_one], repeat=5, warmup=1)))
    adam = RunSpec(**{**logistic.__dict__, "optimizer": "adam"})
    print(row("logistic 20 lr x 1000 epochs, adam, stepped together",
               timings(lambda: sweep(adam), repeat=15, warmup=1)))

    seed_result = sweep(seed_spec)
    for fmt in ("png", "svg"):
        print(row(f"course plot rendered to {fmt.upper()}",
                   timings(lambda fmt=fmt: plot_sweep(seed_result, fmt), repeat=15, warmup=2)))


if __name__ == "__main__":
    main()
