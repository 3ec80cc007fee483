"""Timing helpers shared by the benchmarks (wall-clock, repeated, sorted)."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests


def timings(action: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    """Milliseconds of ``repeat`` calls of ``action`` after ``warmup`` untimed ones, sorted."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile of sorted ``values``."""
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def row(name: str, values: list[float], width: int = 58) -> str:
    """One line of a report: p50, p99 and minimum in milliseconds."""
    return (f"{name:<{width}} {statistics.median(values):>9.2f} "
            f"{percentile(values, 0.99):>9.2f} {values[0]:>9.2f}")


def header(width: int = 58) -> str:
    """The column titles matching :func:`row`."""
    return f"{'(milliseconds)':<{width}} {'p50':>9} {'p99':>9} {'min':>9}"


def wait_for_server(url: str, process: subprocess.Popen, log: Path, seconds: float) -> None:
    """Return once ``url``'s /health answers; RuntimeError with the tail of ``log`` when
    ``process`` exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(f"{url}/health", timeout=5).ok:
                return
        except requests.RequestException:  # not up yet
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the server did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.2)
