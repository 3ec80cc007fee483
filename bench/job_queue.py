"""Benchmark of grading through the job queue (web + Redis + ``gdlab worker``s + PostgreSQL)
against grading inside the web server, measured in the same run. (Not ``queue.py``: in
this folder that name would shadow the standard library's ``queue`` for every benchmark,
and urllib3 imports it.)

    .venv/bin/python bench/job_queue.py              (as root, for every sandbox layer)
    .venv/bin/python bench/job_queue.py --burst 1000 --seconds 20

It starts a private ``redis-server`` and a database of its own on the PostgreSQL server at
``GDLAB_BENCH_POSTGRES`` (default: the local one, ``postgres`` maintenance database), then
``gdlab serve`` (2 gunicorn workers x 16 threads, rate limit off) and ``gdlab worker``s,
and removes everything at the end.

1. Overhead: one client, submissions one after another, each POST waiting for its grade.
   In-process (no GDLAB_REDIS_URL): POST latency. Queue: POST latency, and the time from
   the POST's arrival (the record's ``created_at``) to a worker starting it
   (``started_at``). Target: p50 added <= 10 ms.
2. Throughput from 16 clients (each POST waiting for its grade), with 1 then 2 workers:
   graded submissions per second.
3. Deadline burst with 2 workers: ``--burst`` submissions POSTed (``?wait=false``) by 16
   clients as fast as they are accepted, then drained. Time to drain, the peak queue
   length (GET /api/v1/queue, every 0.2 s), /health p99 and GET /submissions/{id} p99
   while it lasts (target < 50 ms; also split into while the 1,000 POSTs are being
   accepted and while the queue drains), and how many were lost (not graded): must be 0.
   The probe runs in a process of its own (a student polling from elsewhere shares no
   interpreter lock with the load generator); ``--client-nice 10`` also runs the posting
   threads at a low priority, as if the clients were other machines.

``--burst-only`` runs part 3 alone. ``--pin`` is a deployment variant: the web server
pinned to CPU 0 and the workers (and their sandbox runners) to CPU 1 with ``taskset``
(PostgreSQL, Redis and the load generator unpinned); without it nothing is pinned and the
workers only lower their priority (``GDLAB_WORKER_NICE``, 10 by default).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from multiprocessing.queues import Queue as MPQueue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from timing import header, percentile, row

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.databases import PostgresDatabases  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

SOLUTION = (ROOT / "exercises" / "gd" / "solution.py").read_text()
GDLAB = ROOT / ".venv" / "bin" / "gdlab"
TOKEN = "bench-instructor-token-0123456789"
INSTRUCTOR = {"Authorization": f"Bearer {TOKEN}"}
BODY = {"exercise": "gd", "code": SOLUTION, "student": "bench"}


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it is true; RuntimeError naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:  # not up yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} within {seconds:.0f} s")


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A subprocess, its output in ``log``, terminated (and waited for) at the end."""
    with log.open("ab") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=40)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def server(env: dict[str, str], folder: Path, name: str,
           pin: list[str] | None = None) -> Iterator[str]:
    """``gdlab serve`` with ``env`` (under ``pin``, a ``taskset`` prefix); yields its URL
    once /health answers."""
    port = free_port()
    with process([*(pin or []), str(GDLAB), "serve", "--port", str(port), "--workers", "2",
                  "--threads", "16"], env, folder / f"{name}.log"):
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(f"{url}/health", timeout=5).ok, 60,
                   f"{name} did not answer /health")
        yield url


def workers(stack: ExitStack, env: dict[str, str], folder: Path, url: str, count: int, *,
            pin: list[str] | None = None) -> None:
    """Start ``gdlab worker``s (under ``pin``) until ``count`` are alive (as /health counts
    them)."""
    have = requests.get(f"{url}/health", timeout=10).json()["queue"]["workers"] or 0
    for index in range(have, count):
        stack.enter_context(process([*(pin or []), str(GDLAB), "worker"], env,
                                    folder / f"worker-{index}.log"))
    wait_until(lambda: requests.get(f"{url}/health", timeout=10).json()["queue"]["workers"]
               == count, 90, f"{count} workers were not alive")


def sequential(url: str, count: int) -> list[float]:
    """Latencies (ms) of ``count`` POSTs one after another, each graded (201, score 100)."""
    times = []
    with requests.Session() as session:
        for _ in range(count):
            started = time.perf_counter()
            answer = session.post(f"{url}/api/v1/submissions", json=BODY, timeout=60)
            times.append((time.perf_counter() - started) * 1e3)
            if answer.status_code != 201 or answer.json()["score"] != 100:
                raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
    return sorted(times)


def start_delays(database_url: str, count: int) -> list[float]:
    """Milliseconds from arrival (created_at) to a worker starting (started_at) of the last
    ``count`` graded submissions."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT created_at, started_at FROM submissions WHERE status = 'graded' "
                "AND started_at IS NOT NULL ORDER BY id DESC LIMIT :n"), {"n": count}).all()
    finally:
        engine.dispose()
    return sorted((started - created).total_seconds() * 1e3 for created, started in rows)


def throughput(url: str, clients: int, seconds: float) -> float:
    """Graded submissions per second from ``clients`` clients each waiting for its grade."""
    stop = threading.Event()
    done = [0] * clients
    failures: list[str] = []

    def client(index: int) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                answer = session.post(f"{url}/api/v1/submissions", json=BODY, timeout=120)
                if answer.status_code == 201 and answer.json()["score"] == 100:
                    done[index] += 1
                else:
                    failures.append(f"{answer.status_code}: {answer.text[:200]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} failed, e.g. {failures[0]}")
    return sum(done) / (time.monotonic() - started)


def probe(url: str, stop: EventType, ids: MPQueue, found: MPQueue) -> None:
    """Time GET /health and GET /submissions/{id} (of a submission from the middle of the
    burst so far) every 20 ms until ``stop``; put the (when, milliseconds) lists on
    ``found``. Runs in a process of its own: a student polling from their own machine
    shares no interpreter lock with the 16 clients of the load generator, so neither may
    the probe, or it would time the load generator's lock as well as the server."""
    health: list[tuple[float, float]] = []
    reads: list[tuple[float, float]] = []
    known: list[str] = []
    with requests.Session() as session:
        while not stop.is_set():
            while not ids.empty():
                known.append(ids.get_nowait())
            started = time.perf_counter()
            session.get(f"{url}/health", timeout=30).raise_for_status()
            health.append((time.monotonic(), (time.perf_counter() - started) * 1e3))
            if known:
                started = time.perf_counter()
                session.get(f"{url}/api/v1/submissions/{known[len(known) // 2]}",
                            timeout=30).raise_for_status()
                reads.append((time.monotonic(), (time.perf_counter() - started) * 1e3))
            time.sleep(0.02)
    found.put((health, reads))


def lower_priority(nice: int) -> Callable[[], None]:
    """A thread initializer giving the calling thread the ``nice`` value (on Linux the nice
    value belongs to each thread)."""
    return lambda: os.setpriority(os.PRIO_PROCESS, 0, nice)


def burst(url: str, count: int, clients: int, nice: int = 0) -> dict[str, float]:
    """POST ``count`` submissions without waiting, drain them, and watch the service. The
    posting threads run at ``nice``: above 0, they stand for students on other machines,
    who take no CPU from the server."""
    stop = threading.Event()
    peak = [0]
    ids: list[str] = []
    spawn = multiprocessing.get_context("spawn")
    probe_stop, probe_ids, probe_found = spawn.Event(), spawn.Queue(), spawn.Queue()
    prober = spawn.Process(target=probe, args=(url, probe_stop, probe_ids, probe_found))

    def watcher() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                queue = session.get(f"{url}/api/v1/queue", headers=INSTRUCTOR, timeout=30)
                peak[0] = max(peak[0], queue.json()["queued"])
                time.sleep(0.2)

    def post(_: int) -> str:
        with requests.Session() as session:
            answer = session.post(f"{url}/api/v1/submissions?wait=false", json=BODY,
                                  timeout=60)
            if answer.status_code != 202:
                raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
            return answer.json()["id"]

    watching = threading.Thread(target=watcher)
    watching.start()
    prober.start()
    started = time.monotonic()
    with ThreadPoolExecutor(clients, initializer=lower_priority(nice)) as pool:
        for submission_id in pool.map(post, range(count)):
            ids.append(submission_id)
            probe_ids.put(submission_id)
    accepted_at = time.monotonic()
    accepted = accepted_at - started
    graded = 0
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        listing = requests.get(f"{url}/api/v1/submissions?status=graded&page_size=1",
                               headers=INSTRUCTOR, timeout=30).json()
        graded = listing["total"]
        if graded >= count + BASELINE[0]:
            break
        time.sleep(0.2)
    drained = time.monotonic() - started
    stop.set()
    probe_stop.set()
    health, reads = probe_found.get(timeout=60)
    prober.join()
    watching.join()
    with requests.Session() as session:
        final = [session.get(f"{url}/api/v1/submissions/{i}", timeout=30).json()["status"]
                 for i in ids]
    statuses = set(final)
    lost = sum(1 for status in final if status != "graded")
    return {"accepted_s": accepted, "drained_s": drained, "peak": peak[0],
            "health": split(health, accepted_at), "reads": split(reads, accepted_at),
            "lost": lost,
            "statuses": statuses}


#: gunicorn's access log line, with the time spent inside the server in microseconds
#: (``%(D)s``): set through GUNICORN_CMD_ARGS, read back by :func:`server_side`.
ACCESS_LOG_FORMAT = 'gdlab-timing %(m)s %(U)s %(s)s %(D)s'


def server_side(log: Path, offset: int) -> dict[str, list[float]]:
    """Milliseconds gunicorn took (from reading the request to sending the answer) for
    the /health and GET /submissions/{id} requests logged after ``offset``: the part of
    the client's latency spent inside the server, the rest being waits for a thread, the
    CPU and the network."""
    found: dict[str, list[float]] = {"health": [], "reads": []}
    with log.open("rb") as text:
        text.seek(offset)
        for line in text.read().decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) < 5 or parts[-5] != "gdlab-timing" or parts[-4] != "GET":
                continue
            path, micros = parts[-3], float(parts[-1])
            if path == "/health":
                found["health"].append(micros / 1e3)
            elif path.startswith("/api/v1/submissions/") and path.count("/") == 4:
                found["reads"].append(micros / 1e3)
    return {key: sorted(values) for key, values in found.items()}


def split(samples: list[tuple[float, float]], moment: float) -> tuple[list[float], ...]:
    """Latencies (sorted): all, before ``moment``, and from it on."""
    return (sorted(ms for _, ms in samples),
            sorted(ms for when, ms in samples if when < moment),
            sorted(ms for when, ms in samples if when >= moment))


#: Submissions graded before the burst (its drain waits for that many more).
BASELINE = [0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=100, help="submissions of part 1")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of part 2")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--burst-only", action="store_true", help="part 3 alone")
    parser.add_argument("--client-nice", type=int, default=0, metavar="N",
                        help="nice value of the burst's posting threads (default 0; 10 leaves "
                             "the CPU to the server, as clients on other machines would)")
    parser.add_argument("--pin", action="store_true",
                        help="web on CPU 0, workers on CPU 1 (taskset)")
    args = parser.parse_args()
    web_pin, worker_pin = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if args.pin \
        else (None, None)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, running as uid {os.geteuid()}; load "
          f"{' '.join(f'{n:.2f}' for n in os.getloadavg())}; "
          + ("web pinned to CPU 0, workers to CPU 1" if args.pin else "nothing pinned")
          + f"; burst clients at nice {args.client_nice}")
    databases = PostgresDatabases(os.environ.get("GDLAB_BENCH_POSTGRES")
                                  or PostgresDatabases().maintenance_url)
    with tempfile.TemporaryDirectory(prefix="gdlab-bench-queue-") as folder_name, \
            ExitStack() as stack:
        folder = Path(folder_name)
        stack.callback(databases.drop_all)
        redis_server = RedisServer(folder).start()
        stack.callback(redis_server.stop)
        base = {k: v for k, v in os.environ.items() if not k.startswith("GDLAB_")}
        base.update(GDLAB_RATE_LIMIT="off", GDLAB_INSTRUCTOR_TOKEN=TOKEN)
        embedded_env = {**base, "GDLAB_DATA_DIR": str(folder / "embedded"),
                        "GDLAB_DATABASE_URL": databases.create()}
        database_url = databases.create()
        queue_env = {**base, "GDLAB_DATA_DIR": str(folder / "queue"),
                     "GDLAB_DATABASE_URL": database_url, "GDLAB_REDIS_URL": redis_server.url,
                     "GUNICORN_CMD_ARGS": f"--access-logformat '{ACCESS_LOG_FORMAT}'"}
        print(header())
        if args.burst_only:
            with server(queue_env, folder, "queue", web_pin) as url:
                workers(stack, queue_env, folder, url, 2, pin=worker_pin)
                sequential(url, 10)
                BASELINE[0] = 10
                offset = (folder / "queue.log").stat().st_size
                result = burst(url, args.burst, args.clients, args.client_nice)
            result["server"] = server_side(folder / "queue.log", offset)
            report_burst(args.burst, result)
            return
        full_run(args, stack, folder, embedded_env, queue_env, database_url,
                 pins=(web_pin, worker_pin))


def full_run(args: argparse.Namespace, stack: ExitStack, folder: Path,  # noqa: PLR0917
             embedded_env: dict[str, str], queue_env: dict[str, str], database_url: str,
             *, pins: tuple[list[str] | None, list[str] | None]) -> None:
    """Parts 1 to 3."""
    web_pin, worker_pin = pins
    with server(embedded_env, folder, "embedded") as url:
        sequential(url, 10)  # warm up: each gunicorn worker prepares the exercise once
        embedded = sequential(url, args.sequential)
        print(row("in-process: POST -> graded, 1 client", embedded))
        embedded_rate = throughput(url, args.clients, args.seconds)
    with server(queue_env, folder, "queue", web_pin) as url:
        workers(stack, queue_env, folder, url, 1, pin=worker_pin)
        sequential(url, 10)
        queued = sequential(url, args.sequential)
        delays = start_delays(database_url, args.sequential)
        print(row("queue: POST -> graded, 1 client, 1 worker", queued))
        print(row("queue: arrival -> a worker starts it", delays))
        one = throughput(url, args.clients, args.seconds)
        workers(stack, queue_env, folder, url, 2, pin=worker_pin)
        sequential(url, 4)
        two = throughput(url, args.clients, args.seconds)
        BASELINE[0] = requests.get(f"{url}/api/v1/submissions?status=graded&page_size=1",
                                   headers=INSTRUCTOR, timeout=30).json()["total"]
        offset = (folder / "queue.log").stat().st_size
        result = burst(url, args.burst, args.clients, args.client_nice)
    result["server"] = server_side(folder / "queue.log", offset)
    added = statistics.median(queued) - statistics.median(embedded)
    print(f"{'queue overhead, p50 of POST->graded (queue - in-process)':<58} "
          f"{added:>9.2f} ms")
    print(f"{'queue overhead, arrival -> started, p50 / p99':<58} "
          f"{statistics.median(delays):>9.2f} / {percentile(delays, 0.99):.2f} ms")
    print(f"{f'throughput in-process ({args.clients} clients), graded/s':<58} "
          f"{embedded_rate:>9.1f}")
    print(f"{f'throughput 1 worker ({args.clients} clients), graded/s':<58} {one:>9.1f}")
    print(f"{f'throughput 2 workers ({args.clients} clients), graded/s':<58} {two:>9.1f}")
    report_burst(args.burst, result)


def report_burst(count: int, result: dict) -> None:  # type: ignore[type-arg]
    """Print part 3."""
    print(f"burst of {count} with 2 workers:")
    print(f"  all accepted (202) after {result['accepted_s']:.1f} s; drained after "
          f"{result['drained_s']:.1f} s; peak queue length {result['peak']}")
    for name, key in (("GET /health", "health"), ("GET /submissions/{id}", "reads")):
        whole, accepting, draining = result[key]
        print(row(f"  {name} during the burst", whole))
        if accepting:
            print(row("    while the POSTs are being accepted", accepting))
        if draining:
            print(row("    while the queue drains", draining))
        if result["server"][key]:
            print(row("    of which inside gunicorn (its access log)", result["server"][key]))
    print(f"  lost (not graded): {result['lost']} of {count}; statuses "
          f"{sorted(result['statuses'])}; load at the end "
          f"{' '.join(f'{n:.2f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
