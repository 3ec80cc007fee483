"""Benchmark of the class analytics on a class of 1,000 students x 20 submissions.

    .venv/bin/python bench/analytics.py                  (SQLite and PostgreSQL)
    .venv/bin/python bench/analytics.py --databases sqlite

For each database: a temporary one (a SQLite file in a temporary folder; on PostgreSQL a
database ``gdlab_bench_<pid>_<random>`` created through ``--postgres``, the server's
maintenance database, and dropped at the end), migrated, then seeded directly with a
class on the exercise ``adam`` (20,000 submissions, each graded one with its diagnoses and
five cases, plus 5,000 submissions to ``gd`` that the analytics must leave out; code,
result JSON and packed job bytes of realistic sizes). Then:

1. in-process: each query of :func:`service.analytics.exercise_analytics`, and all of them;
2. in-process: each figure drawn from scratch (SVG);
3. over HTTP, against ``gdlab serve`` on that database: the JSON API, the page's HTML,
   each figure, and the whole page as a browser loads it: with JavaScript, the HTML (its
   charts are drawn in the browser from the numbers it carries); without, the HTML and
   then its four figures at once. Asked again while nothing changed, the server answers
   from the analytics it keeps (one index-only count checks that nothing changed); so the
   page is also timed right after a new submission each time (a deadline rush: the
   queries run once, and without JavaScript the figures whose numbers changed are drawn
   again).
4. the server's CPU time per request (its process tree's, from /proc): what the page
   costs whatever else runs on the machine.

Target: under 200 ms per exercise page. The machine's load is printed before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import create_engine, make_url, text
from timing import header, row, timings, wait_for_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import analytics  # noqa: E402 (after the path: run as a script)
from service.db import Database, upgrade  # noqa: E402
from service.models import Submission, SubmissionCase, SubmissionDiagnosis  # noqa: E402

TOKEN = "bench-instructor-token-0123456789"
EXERCISE = "adam"
CASES = {"course": (True, 4), "banana": (False, 3), "bowl": (False, 4),
         "classifier": (False, 3), "regression-other-data": (False, 3)}
#: A misconception: its diagnoses, the cases it fails (runs failed), and a score range.
MISCONCEPTIONS = [
    (("adam-no-bias-correction",), {"course": 2, "bowl": 4}, (40, 70)),
    (("adam-eps-inside-sqrt",), {"bowl": 1}, (85, 99)),
    (("state-reset",), {"course": 4, "banana": 3}, (20, 45)),
    (("sign-flip",), {name: runs for name, (_, runs) in CASES.items()}, (0, 5)),
    (("adam-eps-inside-sqrt", "adam-no-bias-correction"), {"bowl": 2}, (60, 95)),
    ((), {"classifier": 1}, (90, 99)),
]
MESSAGE = ("A sentence of about the length of a real diagnosis, saying what is wrong and how "
           "to fix it.")
DEADLINE = dt.datetime(2026, 12, 14, 23, 59)


def class_rows(students: int, per_student: int, seed: int = 16) -> tuple[list[dict], list[dict],
                                                                         list[dict]]:
    """Submissions, diagnoses and cases of a seeded class (ids from 1)."""
    rng = random.Random(seed)
    code = (ROOT / "exercises" / EXERCISE / "solution.py").read_text()
    result = json.dumps({"runs": [{"case": "course", "lr": lr, "verdict": "match", "score": 100}
                                  for lr in (0.001, 0.05, 0.2, 1.0)], "feedback": "x" * 1500})
    submissions, diagnoses, cases = [], [], []
    number = 0

    def add(exercise: str, student: str, at: dt.datetime, status: str, score: float | None,  # noqa: PLR0917 (a local helper)
            misconception: int | None) -> None:
        nonlocal number
        number += 1
        graded = status == "graded"
        submissions.append({
            "id": number, "public_id": secrets.token_urlsafe(12), "exercise": exercise,
            "exercise_version": 1, "student": student, "student_id": None, "code": code,
            "status": status, "score": score, "result": result if graded else None,
            "instructor_result": None, "job": rng.randbytes(4000) if graded else None,
            "error": None, "created_at": at, "graded_at": at, "grading_ms": 50.0,
            "sandbox_ms": 30.0, "attempts": 1, "queued_at": at, "started_at": at,
            "worker": None, "callback_url": None, "callback_status": None})
        if not graded or exercise != EXERCISE:
            return
        names, failing, _ = MISCONCEPTIONS[misconception] if misconception is not None else (
            (), {}, None)
        diagnoses.extend({"submission_id": number, "position": position, "diagnosis": name,
                          "message": MESSAGE} for position, name in enumerate(names))
        cases.extend({"submission_id": number, "case": name, "exercise": exercise,
                      "visible": visible, "runs": runs, "failed": failing.get(name, 0)}
                     for name, (visible, runs) in CASES.items())

    for index in range(students):
        student = f"student-{index:04d}"
        # the hours before the deadline: most of the class works in its last two days
        times = sorted(DEADLINE - dt.timedelta(hours=rng.expovariate(1 / 30))
                       for _ in range(per_student))
        solves_at = rng.randint(1, per_student) if rng.random() < 0.7 else None
        misconception = rng.randrange(len(MISCONCEPTIONS))
        for attempt, at in enumerate(times, start=1):
            draw = rng.random()
            if draw < 0.08:
                add(EXERCISE, student, at, "rejected", None, None)
            elif draw < 0.09:
                add(EXERCISE, student, at, "failed", None, None)
            elif solves_at is not None and attempt >= solves_at:
                add(EXERCISE, student, at, "graded", 100.0, None)
            else:
                if rng.random() < 0.2:  # now and then another mistake
                    misconception = rng.randrange(len(MISCONCEPTIONS))
                low, high = MISCONCEPTIONS[misconception][2]
                add(EXERCISE, student, at, "graded", round(rng.uniform(low, high), 2),
                    misconception)
        for _ in range(5):  # another exercise, which the analytics must leave out
            add("gd", student, DEADLINE - dt.timedelta(hours=rng.uniform(0, 300)), "graded",
                100.0, None)
    return submissions, diagnoses, cases


def seed(db: Database, students: int, per_student: int) -> int:
    """Insert the class; returns the number of submissions."""
    submissions, diagnoses, cases = class_rows(students, per_student)
    with db.engine.begin() as connection:
        for table, rows in ((Submission.__table__, submissions),
                            (SubmissionDiagnosis.__table__, diagnoses),
                            (SubmissionCase.__table__, cases)):
            for start in range(0, len(rows), 2000):
                connection.execute(table.insert(), rows[start:start + 2000])
        if db.engine.dialect.name == "postgresql":
            connection.execute(text("SELECT setval(pg_get_serial_sequence('submissions', 'id'),"
                                    " (SELECT max(id) FROM submissions))"))
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
    return len(submissions)


@contextmanager
def temporary_database(kind: str, maintenance: str) -> Iterator[str]:
    """The URL of an empty database of ``kind``, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gdlab-bench-analytics-") as folder:
            yield f"sqlite:///{folder}/gdlab.sqlite3"
        return
    name = f"gdlab_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(maintenance, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(maintenance).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            continue
    return total


def cpu_per_call(pid: int, action: Callable[[], object], repeat: int) -> float:
    """Milliseconds of the server's CPU per call of ``action`` (whatever else runs on the
    machine: the load-independent cost)."""
    action()
    before = tree_cpu_seconds(pid)
    for _ in range(repeat):
        action()
    return (tree_cpu_seconds(pid) - before) * 1e3 / repeat


def cpu_row(name: str, milliseconds: float, width: int = 58) -> str:
    """One line of a report: CPU milliseconds per call."""
    return f"{name:<{width}} {milliseconds:>9.2f}"


def cpu_timings(action: Callable[[], object], repeat: int) -> list[float]:
    """CPU milliseconds of this process per call, ``repeat`` calls, sorted."""
    action()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        times.append((time.process_time() - start) * 1e3)
    return sorted(times)


@contextmanager
def served(url: str) -> Iterator[tuple[str, int]]:
    """``gdlab serve`` (1 worker, 4 threads) on the database at ``url``; yields its URL
    and process id."""
    from api import free_port  # noqa: PLC0415 (bench/api.py, next to this script)

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gdlab-bench-serve-") as data:
        env = {**os.environ, "GDLAB_DATA_DIR": data, "GDLAB_RATE_LIMIT": "off",
               "GDLAB_INSTRUCTOR_TOKEN": TOKEN, "GDLAB_DATABASE_URL": url}
        log = open(Path(data) / "server.log", "wb")  # noqa: SIM115 (closed below)
        process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gdlab"), "serve", "--port",
                                    str(port), "--workers", "1", "--threads", "4"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_server(base, process, Path(data) / "server.log", 90)
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def signed_in(base: str) -> requests.Session:
    """A browser-like session signed in as the instructor."""
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    session.post(f"{base}/login", data={"csrf": csrf, "token": TOKEN}, timeout=30,
                 allow_redirects=False).raise_for_status()
    return session


def checked(call: Callable[[], requests.Response]) -> Callable[[], None]:
    """``call``, failing loudly on anything but 200."""
    def run() -> None:
        response = call()
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return run


def bench_database(kind: str, maintenance: str, repeat: int, students: int,
                   per_student: int) -> None:
    with temporary_database(kind, maintenance) as url:
        db = Database(url)
        upgrade(db.engine)
        started = time.perf_counter()
        count = seed(db, students, per_student)
        print(f"\n== {kind}: {count} submissions seeded in {time.perf_counter() - started:.1f} s "
              f"({students} students x {per_student} on {EXERCISE}, 5 each on gd)")
        print(header())
        with db.session() as session:
            for name, query in (
                    ("histogram", lambda: analytics.histogram(session, EXERCISE)),
                    ("attempts_until_100", lambda: analytics.attempts_until_100(session,
                                                                                EXERCISE)),
                    ("diagnoses_below_100", lambda: analytics.diagnoses_below_100(
                        session, EXERCISE, 1)),
                    ("diagnosis_trend (day)", lambda: analytics.diagnosis_trend(
                        session, EXERCISE, "day")),
                    ("case_failures", lambda: analytics.case_failures(session, EXERCISE)),
                    ("hourly", lambda: analytics.hourly(session, EXERCISE))):
                print(row(f"query: {name}", timings(query, repeat)))
            everything = lambda: analytics.exercise_analytics(session, EXERCISE)  # noqa: E731
            print(row("all queries (exercise_analytics)", timings(everything, repeat)))
            print(row("   the same, CPU time of this process only", cpu_timings(everything,
                                                                              repeat)))
            found = analytics.exercise_analytics(session, EXERCISE)
        print(f"   (students {found.students}, reached 100 {found.reached_100}, median "
              f"{found.median_attempts}, p90 {found.p90_attempts}, {len(found.hourly)} hours)")

        def cold(name: str) -> Callable[[], object]:
            def draw() -> object:
                analytics._drawn.cache_clear()
                return analytics.plot(found, name, "svg")
            return draw

        for name in analytics.PLOTS:
            print(row(f"figure {name}.svg drawn from scratch", timings(cold(name), 5, 1)))
        db.engine.dispose()

        bench_http(url, repeat)


def bench_http(url: str, repeat: int) -> None:
    """Time the API, the page and its figures through ``gdlab serve`` on ``url``."""
    with served(url) as (base, pid):
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {TOKEN}"
        browser = signed_in(base)
        page = f"{base}/instructor/analytics/{EXERCISE}"
        print("(asked again and again: nothing changes, the kept analytics answer)")
        print(row("HTTP GET /api/v1/analytics/exercises/adam (JSON)", timings(checked(
            lambda: api.get(f"{base}/api/v1/analytics/exercises/{EXERCISE}",
                            timeout=60)), repeat)))
        print(row("HTTP GET ...?format=csv&table=hourly", timings(checked(
            lambda: api.get(f"{base}/api/v1/analytics/exercises/{EXERCISE}",
                            params={"format": "csv", "table": "hourly"}, timeout=60)),
            repeat)))
        print(row("HTTP GET the page's HTML", timings(checked(
            lambda: browser.get(page, timeout=60)), repeat)))
        for name in analytics.PLOTS:
            print(row(f"HTTP GET figure {name}.svg ", timings(checked(
                lambda name=name: browser.get(f"{page}/plots/{name}.svg", timeout=60)),
                repeat)))
        pool = ThreadPoolExecutor(4)

        def whole_page() -> None:
            checked(lambda: browser.get(page, timeout=60))()
            figures = [pool.submit(checked(lambda name=name: browser.get(
                f"{page}/plots/{name}.svg", timeout=60))) for name in analytics.PLOTS]
            for figure in figures:
                figure.result()

        def page_with_script() -> None:
            """What a browser running the page's script asks for: the HTML, whose numbers
            its charts draw (the scripts and styles are static files it keeps)."""
            checked(lambda: browser.get(page, timeout=60))()

        print(row("HTTP the whole page without JavaScript: HTML + 4 figures",
                  timings(whole_page, repeat)))
        writer = create_engine(url)

        def new_submission() -> None:
            """A submission arrives (as in a deadline rush): the analytics change."""
            with writer.begin() as connection:
                connection.execute(Submission.__table__.insert(), [{
                    "public_id": secrets.token_urlsafe(12), "exercise": EXERCISE,
                    "exercise_version": 1, "student": "late", "code": "",
                    "status": "queued", "created_at": dt.datetime.now(dt.UTC).replace(
                        tzinfo=None), "attempts": 0}])

        def changed(action: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                new_submission()
                action()
            return run

        for name, load in (("with JavaScript (the HTML)", page_with_script),
                           ("without JavaScript (+ 4 figures)", whole_page)):
            after_change = []
            for _ in range(repeat):
                new_submission()
                started = time.perf_counter()
                load()
                after_change.append((time.perf_counter() - started) * 1e3)
            print(row(f"HTTP after each new submission, {name}", sorted(after_change)))
        print(f"{'(server CPU milliseconds per call, load-independent)':<58} {'ms':>9}")
        print(cpu_row("  JSON API", cpu_per_call(pid, checked(lambda: api.get(
            f"{base}/api/v1/analytics/exercises/{EXERCISE}", timeout=60)), repeat)))
        print(cpu_row("  the page's HTML", cpu_per_call(
            pid, checked(lambda: browser.get(page, timeout=60)), repeat)))
        print(cpu_row("  the whole page without JavaScript (HTML + 4 figures)",
                      cpu_per_call(pid, whole_page, repeat)))
        print(cpu_row("  the page after a new submission, with JavaScript",
                      cpu_per_call(pid, changed(page_with_script), repeat)))
        print(cpu_row("  the page after a new submission, without (+ 4 figures)",
                      cpu_per_call(pid, changed(whole_page), repeat)))
        writer.dispose()
        pool.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get(
        "GDLAB_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL maintenance database to create the temporary one through")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--per-student", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average before "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for kind in args.databases.split(","):
        bench_database(kind.strip(), args.postgres, args.repeat, args.students,
                       args.per_student)
    print(f"\nload average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
