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
import statistics
import time
from collections.abc import Callable

import numpy as np

from grader.engine import RunSpec, sweep
from grader.plots import plot_sweep


def course_script_loop() -> list[list[float]]:
    """The course script's computation (shared/seed/gradient_descent_seed.py), minus pyplot."""
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


def measure(action: Callable[[], object], repeat: int, warmup: int = 3) -> dict[str, float]:
    """Median, 99th percentile and minimum of ``repeat`` timed calls, in milliseconds."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
        "min": times[0],
    }


def _row(name: str, stats: dict[str, float]) -> str:
    return f"{name:<58} {stats['p50']:>9.2f} {stats['p99']:>9.2f} {stats['min']:>9.2f}"


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
    print(f"{'(milliseconds)':<58} {'p50':>9} {'p99':>9} {'min':>9}")

    seed_spec = RunSpec(init="legacy")
    print(_row("course sweep, gdlab sweep() (3 lr x 100 epochs)",
               measure(lambda: sweep(seed_spec), repeat=300)))
    print(_row("course sweep, the course script's own loop",
               measure(course_script_loop, repeat=300)))

    rates = [round(0.05 * (i + 1), 2) for i in range(20)]
    logistic = RunSpec(problem="logistic-regression", optimizer="sgd", learning_rates=rates,
                       epochs=1000)
    print(_row("logistic 20 lr x 1000 epochs, stepped together",
               measure(lambda: sweep(logistic), repeat=15, warmup=1)))
    one_by_one = [RunSpec(**{**logistic.__dict__, "learning_rates": [lr]}) for lr in rates]
    print(_row("logistic 20 lr x 1000 epochs, one sweep() per lr",
               measure(lambda: [sweep(s) for s in one_by_one], repeat=5, warmup=1)))
    adam = RunSpec(**{**logistic.__dict__, "optimizer": "adam"})
    print(_row("logistic 20 lr x 1000 epochs, adam, stepped together",
               measure(lambda: sweep(adam), repeat=15, warmup=1)))

    seed_result = sweep(seed_spec)
    for fmt in ("png", "svg"):
        print(_row(f"course plot rendered to {fmt.upper()}",
                   measure(lambda fmt=fmt: plot_sweep(seed_result, fmt), repeat=15, warmup=2)))


if __name__ == "__main__":
    main()
