"""Benchmark of the HTTP service, started as the README says (``gdlab serve``).

    .venv/bin/python bench/api.py                 (as root, for every sandbox layer)
    .venv/bin/python bench/api.py --url http://127.0.0.1:8000   (a server already running)

Without ``--url`` it starts ``gdlab serve`` on a free port with a temporary data directory
and ``GDLAB_RATE_LIMIT=off`` (eight clients from one address would otherwise meet the
default per-client limit, which is what it is for), and stops it at the end.

1. Eight concurrent clients POST a correct solution of the course's GD exercise for a
   while: latency p50/p99 and graded submissions per second (every answer is checked:
   201 and score 100).
2. Meanwhile a ninth client asks GET /health in a loop: its p99 under that load.
3. A cached reference run: GET /api/v1/reference/runs/{id}, p50 and p99, alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from timing import header, percentile, row, wait_for_server

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = (ROOT / "exercises" / "gd" / "solution.py").read_text()


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def started_server(workers: int, threads: int) -> Iterator[str]:
    """``gdlab serve`` on a free port with a fresh data directory; yields its URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gdlab-bench-") as data:
        env = {**os.environ, "GDLAB_DATA_DIR": data, "GDLAB_RATE_LIMIT": "off",
               "GDLAB_INSTRUCTOR_TOKEN": "bench-instructor-token-0123456789"}
        log = open(Path(data) / "server.log", "wb")  # noqa: SIM115 (closed below)
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gdlab"), "serve", "--port", str(port),
             "--workers", str(workers), "--threads", str(threads)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_server(url, process, Path(data) / "server.log", 60)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def submit_load(url: str, clients: int, seconds: float) -> tuple[list[float], float, list[float]]:
    """``clients`` threads submitting for ``seconds``, and one asking /health; returns the
    submissions' latencies (ms), submissions per second, and /health's latencies (ms)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    health: list[float] = []
    failures: list[str] = []
    stop = threading.Event()
    body = {"exercise": "gd", "code": SOLUTION, "student": "bench"}

    def client(index: int) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                started = time.perf_counter()
                response = session.post(f"{url}/api/v1/submissions", json=body, timeout=60)
                elapsed = (time.perf_counter() - started) * 1e3
                if response.status_code != 201 or response.json()["score"] != 100:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                latencies[index].append(elapsed)

    def prober() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                started = time.perf_counter()
                response = session.get(f"{url}/health", timeout=30)
                health.append((time.perf_counter() - started) * 1e3)
                if response.status_code != 200:
                    failures.append(f"/health {response.status_code}")
                time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=prober))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[0]}")
    done = sorted(value for values in latencies for value in values)
    return done, len(done) / elapsed, sorted(health)


def cached_reference(url: str, repeat: int) -> list[float]:
    """Latencies (ms) of GET of an already computed reference run."""
    request = {"problem": "linear-regression", "optimizer": "sgd",
               "learning_rates": [0.01, 0.1, 0.5], "epochs": 100}
    with requests.Session() as session:
        created = session.post(f"{url}/api/v1/reference/runs", json=request, timeout=30)
        created.raise_for_status()
        path = f"{url}{created.json()['links']['self']}"
        times = []
        for _ in range(repeat + 10):
            started = time.perf_counter()
            response = session.get(path, timeout=30)
            times.append((time.perf_counter() - started) * 1e3)
            response.raise_for_status()
        return sorted(times[10:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="benchmark a running server instead of starting one")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, running as uid {os.geteuid()}")
    with (contextmanager(lambda: iter([args.url]))() if args.url
          else started_server(args.workers, args.threads)) as url:
        if not args.url:
            print(f"server: gdlab serve --workers {args.workers} --threads {args.threads} "
                  f"(GDLAB_RATE_LIMIT=off)")
        # warm up: every worker prepares the exercise once (reference runs, candidates)
        submit_load(url, args.clients, 3.0)
        latencies, rate, health = submit_load(url, args.clients, args.seconds)
        print(header())
        print(row(f"POST a correct gd solution, {args.clients} clients", latencies))
        print(row("GET /health while saturated", health))
        print(row("GET a cached reference run (alone)", cached_reference(url, 500)))
        print(f"{'graded submissions per second':<58} {rate:>9.1f}")
        print(f"{'(submissions graded in the timed part)':<58} {len(latencies):>9d}")
        print(f"{'/health p99 (ms)':<58} {percentile(health, 0.99):>9.2f}")
        print(f"{'mean POST latency (ms)':<58} {statistics.fmean(latencies):>9.2f}")


if __name__ == "__main__":
    sys.exit(main())
