"""Class analytics of one exercise, for instructors: computed in the database with SQL
aggregates that run the same on SQLite and PostgreSQL.

What is counted, and over which submissions:

- **Students** are the names on submissions (as in the gradebook); anonymous submissions
  count in the per-hour curve and the case failures, never per student.
- **Best scores**: each student's highest score over their graded submissions, in bins of
  10 points, ``[0, 10)`` ... ``[90, 100)``, and ``100`` on its own.
- **Attempts until the first 100**: how many of the student's graded or rejected
  submissions (a syntax error is an attempt; a server failure is not) came up to and
  including the first that scored 100. The median and p90 are nearest-rank: the fewest
  attempts within which at least half (90 %) of the students who reached 100 got there.
- **Diagnoses**: among the students whose best score is below 100, how many had a graded
  submission with each diagnosis (and their share of those students). **Over time**, per
  day or week (UTC, weeks start on Monday): how many students had a submission with each
  diagnosis in that period, and their share of the students who had a graded submission
  below 100 in it.
- **Cases**: a case fails in a submission when any of its runs (one per learning rate)
  does not match the reference; shares are of the graded submissions that recorded the
  case (submissions graded before analytics existed recorded their visible cases only).
- **Submissions per hour**: every submission of the exercise, whatever became of it, per
  hour (UTC), hours without any included.

The facts per submission (its diagnoses, and per case how many runs failed) are written
as rows when the result is written (:func:`facts_of`), because the stored result is JSON
and names no hidden case.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import functools
import hashlib
import io
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Select, case, distinct, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from grader.grading import GradeResult
from grader.plots import analytics as figures
from grader.plots.render import render
from service.models import Submission, SubmissionCase, SubmissionDiagnosis

#: The periods the diagnoses' trend can be counted by.
BUCKETS = ("day", "week")
#: Width of a best-score bin, in points.
BIN_WIDTH = 10
#: The tables of an exercise's analytics that come as CSV.
TABLES = ("histogram", "attempts", "diagnoses", "trend", "cases", "hourly")


# --- written with each result ----------------------------------------------------------


def facts_of(submission_id: int, result: GradeResult
             ) -> list[SubmissionDiagnosis | SubmissionCase]:
    """The rows the analytics count for one graded submission: its diagnoses in order,
    and per case (visible or hidden) how many runs it had and how many did not match.

    Examples
    --------
    >>> from types import SimpleNamespace as Run
    >>> from grader.diagnosis import Diagnosis
    >>> graded = Run(exercise="adam", diagnosis=(Diagnosis("sign-flip", "Wrong sign."),), runs=(
    ...     Run(case="course", visible=True, verdict="match"),
    ...     Run(case="course", visible=True, verdict="diverged"),
    ...     Run(case="bowl", visible=False, verdict="match")))
    >>> [(f.case, f.runs, f.failed) for f in facts_of(7, graded)[1:]]
    [('course', 2, 1), ('bowl', 1, 0)]
    """
    rows: list[SubmissionDiagnosis | SubmissionCase] = [
        SubmissionDiagnosis(submission_id=submission_id, position=position,
                            diagnosis=diagnosis.id, message=diagnosis.message)
        for position, diagnosis in enumerate(result.diagnosis)]
    tallies: dict[str, SubmissionCase] = {}
    for run in result.runs:
        tally = tallies.setdefault(run.case, SubmissionCase(
            submission_id=submission_id, case=run.case, exercise=result.exercise,
            visible=run.visible, runs=0, failed=0))
        tally.runs += 1
        tally.failed += run.verdict != "match"
    return [*rows, *tallies.values()]


# --- periods, the same on SQLite and PostgreSQL ----------------------------------------


class PeriodStart(FunctionElement[dt.datetime]):
    """The start of the hour, day or week (Monday) holding a moment, in SQL.

    Compiled per database: ``date_trunc`` on PostgreSQL, ``strftime``/``date`` on SQLite
    (whose moments are text, ``YYYY-MM-DD HH:MM:SS...``); the value is read back as a
    naive UTC datetime on both (:func:`as_moment`). One subclass per unit: the unit is then
    part of the class, which SQLAlchemy's statement cache keys on (an attribute would not
    be, and a query per day would be answered with the query per week's SQL).
    """

    type = DateTime()
    inherit_cache = True
    name = "period_start"
    unit = ""


class HourStart(PeriodStart):
    """The start of the hour."""

    inherit_cache = True
    unit = "hour"


class DayStart(PeriodStart):
    """The start of the day."""

    inherit_cache = True
    unit = "day"


class WeekStart(PeriodStart):
    """The start of the week (Monday)."""

    inherit_cache = True
    unit = "week"


_PERIODS = {kind.unit: kind for kind in (HourStart, DayStart, WeekStart)}


def period_start(unit: str, moment: ColumnElement[Any]) -> PeriodStart:
    """The start of the ``unit`` (hour, day or week) holding ``moment``, in SQL.

    Examples
    --------
    >>> from sqlalchemy.dialects import postgresql, sqlite
    >>> day = period_start("day", Submission.created_at)
    >>> str(day.compile(dialect=postgresql.dialect()))
    "date_trunc('day', submissions.created_at)"
    >>> str(period_start("week", Submission.created_at).compile(dialect=sqlite.dialect()))
    "date(submissions.created_at, 'weekday 0', '-6 days')"
    """
    if unit not in _PERIODS:
        raise ValueError(f"unknown period {unit!r}")
    return _PERIODS[unit](moment)


@compiles(PeriodStart, "postgresql")
def _period_start_postgresql(element: PeriodStart, compiler: Any, **kw: Any) -> str:
    return f"date_trunc('{element.unit}', {compiler.process(element.clauses, **kw)})"


@compiles(PeriodStart)
def _period_start_sqlite(element: PeriodStart, compiler: Any, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    if element.unit == "hour":
        return f"strftime('%Y-%m-%d %H:00:00', {moment})"
    if element.unit == "day":
        return f"date({moment})"
    # the Sunday on or after the day, then back to its week's Monday
    return f"date({moment}, 'weekday 0', '-6 days')"


def as_moment(value: dt.datetime | str) -> dt.datetime:
    """A period's start as SQLite (text) or PostgreSQL (a datetime) returns it, as an
    aware UTC datetime.

    Examples
    --------
    >>> as_moment("2026-12-03 14:00:00").isoformat()
    '2026-12-03T14:00:00+00:00'
    >>> as_moment("2026-11-30").isoformat()
    '2026-11-30T00:00:00+00:00'
    """
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# --- what the analytics hold -----------------------------------------------------------


@dataclass(frozen=True)
class ScoreBin:
    """Students whose best score is in ``[low, high)`` (``low == high == 100``: 100)."""

    label: str
    low: float
    high: float
    students: int


@dataclass(frozen=True)
class AttemptCount:
    """How many students reached 100 at exactly ``attempts`` attempts."""

    attempts: int
    students: int


@dataclass(frozen=True)
class DiagnosisCount:
    """A diagnosis among the students below 100: students, their share, submissions."""

    diagnosis: str
    message: str
    students: int
    share: float
    submissions: int


@dataclass(frozen=True)
class TrendPoint:
    """A diagnosis in one period: students with it, of the students below 100 then."""

    period: dt.datetime
    diagnosis: str
    students: int
    of_students: int
    share: float


@dataclass(frozen=True)
class CaseFailures:
    """A case: the graded submissions that recorded it, those where it failed, runs."""

    case: str
    visible: bool
    submissions: int
    failed_submissions: int
    share: float
    runs: int
    failed_runs: int


@dataclass(frozen=True)
class HourCount:
    """Submissions that arrived in the hour starting at ``hour`` (UTC)."""

    hour: dt.datetime
    submissions: int


@dataclass(frozen=True)
class ExerciseAnalytics:
    """Everything the analytics say about one exercise."""

    exercise: str
    students: int
    reached_100: int
    median_attempts: int | None
    p90_attempts: int | None
    submissions: int
    bucket: str
    histogram: list[ScoreBin]
    attempts: list[AttemptCount]
    diagnoses: list[DiagnosisCount]
    trend: list[TrendPoint]
    cases: list[CaseFailures]
    hourly: list[HourCount]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as they are: the schema writes them)."""
        return asdict(self)


# --- the queries -------------------------------------------------------------------------


def _best_scores(exercise: str) -> Select[Any]:
    """Per named student, their best graded score (a subquery's select)."""
    return (select(Submission.student.label("student"),
                   func.max(Submission.score).label("best"))
            .where(Submission.exercise == exercise, Submission.status == "graded",
                   Submission.student.is_not(None))
            .group_by(Submission.student))


def bin_labels() -> list[tuple[str, float, float]]:
    """The best-score bins: label, low, high.

    Examples
    --------
    >>> bin_labels()[0], bin_labels()[-2], bin_labels()[-1]
    (('0-10', 0.0, 10.0), ('90-100', 90.0, 100.0), ('100', 100.0, 100.0))
    """
    bins = [(f"{low}-{low + BIN_WIDTH}", float(low), float(low + BIN_WIDTH))
            for low in range(0, 100, BIN_WIDTH)]
    return [*bins, ("100", 100.0, 100.0)]


def histogram(session: Session, exercise: str) -> list[ScoreBin]:
    """Students per best-score bin (every bin, empty ones too)."""
    best = _best_scores(exercise).subquery()
    # a CASE of comparisons rather than CAST(best / 10): PostgreSQL's cast rounds where
    # SQLite's truncates
    index = case(*((best.c.best < high, position)
                   for position, (_, _, high) in enumerate(bin_labels()[:-1])),
                 else_=len(bin_labels()) - 1)
    counts = dict(session.execute(select(index.label("bin"), func.count())
                                  .group_by("bin")).all())
    return [ScoreBin(label, low, high, counts.get(position, 0))
            for position, (label, low, high) in enumerate(bin_labels())]


def attempts_until_100(session: Session, exercise: str) -> list[AttemptCount]:
    """How many students reached 100 at each number of attempts (a window function numbers
    each student's graded and rejected submissions in order)."""
    numbered = (select(Submission.student.label("student"), Submission.score.label("score"),
                       func.row_number().over(partition_by=Submission.student,
                                              order_by=(Submission.created_at, Submission.id))
                       .label("attempt"))
                .where(Submission.exercise == exercise, Submission.student.is_not(None),
                       Submission.status.in_(("graded", "rejected")))
                .subquery())
    first = (select(func.min(numbered.c.attempt).label("attempts"))
             .where(numbered.c.score >= 100).group_by(numbered.c.student).subquery())
    rows = session.execute(select(first.c.attempts, func.count()).group_by(first.c.attempts)
                           .order_by(first.c.attempts)).all()
    return [AttemptCount(int(attempts), int(count)) for attempts, count in rows]


def nearest_rank(counts: Sequence[AttemptCount], fraction: float) -> int | None:
    """The fewest attempts within which at least ``fraction`` of the students got there
    (nearest-rank percentile of a frequency table); None without any student.

    Examples
    --------
    >>> table = [AttemptCount(1, 2), AttemptCount(3, 1), AttemptCount(7, 1)]
    >>> nearest_rank(table, 0.5), nearest_rank(table, 0.9), nearest_rank([], 0.5)
    (1, 7, None)
    """
    total = sum(row.students for row in counts)
    if total == 0:
        return None
    needed, seen = fraction * total, 0
    for row in counts:
        seen += row.students
        if seen >= needed - 1e-9:
            return row.attempts
    return counts[-1].attempts


def diagnoses_below_100(session: Session, exercise: str, below: int) -> list[DiagnosisCount]:
    """The diagnoses of the students whose best score is below 100, most students first
    (``below``: how many such students, the shares' denominator)."""
    best = _best_scores(exercise).subquery()
    struggling = select(best.c.student).where(best.c.best < 100)
    rows = session.execute(
        select(SubmissionDiagnosis.diagnosis, func.max(SubmissionDiagnosis.message),
               func.count(distinct(Submission.student)).label("students"),
               func.count(distinct(Submission.id)))
        .join(Submission, Submission.id == SubmissionDiagnosis.submission_id)
        .where(Submission.exercise == exercise, Submission.status == "graded",
               Submission.student.in_(struggling))
        .group_by(SubmissionDiagnosis.diagnosis)
        .order_by(func.count(distinct(Submission.student)).desc(),
                  SubmissionDiagnosis.diagnosis)).all()
    return [DiagnosisCount(diagnosis, message, students, _share(students, below), count)
            for diagnosis, message, students, count in rows]


def diagnosis_trend(session: Session, exercise: str, bucket: str) -> list[TrendPoint]:
    """Per period and diagnosis, the students with a graded submission showing it, of the
    students with a graded submission below 100 in that period; by period, then most
    students first."""
    period = period_start(bucket, Submission.created_at).label("period")
    below = dict(session.execute(
        select(period, func.count(distinct(Submission.student)))
        .where(Submission.exercise == exercise, Submission.status == "graded",
               Submission.student.is_not(None), Submission.score < 100)
        .group_by(period)).all())
    rows = session.execute(
        select(period, SubmissionDiagnosis.diagnosis,
               func.count(distinct(Submission.student)))
        .join(Submission, Submission.id == SubmissionDiagnosis.submission_id)
        .where(Submission.exercise == exercise, Submission.status == "graded",
               Submission.student.is_not(None))
        .group_by(period, SubmissionDiagnosis.diagnosis)).all()
    by_moment = {as_moment(key): value for key, value in below.items()}
    points = [TrendPoint(as_moment(start), diagnosis, students, by_moment.get(as_moment(start), 0),
                         _share(students, by_moment.get(as_moment(start), 0)))
              for start, diagnosis, students in rows]
    return sorted(points, key=lambda p: (p.period, -p.students, p.diagnosis))


def case_failures(session: Session, exercise: str) -> list[CaseFailures]:
    """Per case, how often it failed in the graded submissions, most failed first (the
    rows exist for graded submissions only, and carry their exercise: no join)."""
    failed = func.sum(case((SubmissionCase.failed > 0, 1), else_=0))
    rows = session.execute(
        select(SubmissionCase.case, func.max(case((SubmissionCase.visible, 1), else_=0)),
               func.count(), failed.label("failed_submissions"),
               func.sum(SubmissionCase.runs), func.sum(SubmissionCase.failed))
        .where(SubmissionCase.exercise == exercise)
        .group_by(SubmissionCase.case)
        .order_by(failed.desc(), SubmissionCase.case)).all()
    return [CaseFailures(name, bool(visible), total, int(failures or 0),
                         _share(int(failures or 0), total), int(runs or 0), int(bad or 0))
            for name, visible, total, failures, runs, bad in rows]


def hourly(session: Session, exercise: str) -> list[HourCount]:
    """Submissions per hour (UTC), from the first hour with any to the last, every hour
    in between included (as zero when there was none)."""
    hour = period_start("hour", Submission.created_at).label("hour")
    rows = session.execute(select(hour, func.count()).where(Submission.exercise == exercise)
                           .group_by(hour)).all()
    return every_hour({as_moment(start): count for start, count in rows})


def every_hour(counts: dict[dt.datetime, int]) -> list[HourCount]:
    """``counts`` (hour starts -> submissions) with the empty hours between filled in.

    Examples
    --------
    >>> start = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)
    >>> [h.submissions for h in every_hour({start: 2, start + dt.timedelta(hours=2): 5})]
    [2, 0, 5]
    """
    if not counts:
        return []
    hour, last = min(counts), max(counts)
    filled = []
    while hour <= last:
        filled.append(HourCount(hour, counts.get(hour, 0)))
        hour += dt.timedelta(hours=1)
    return filled


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def exercise_analytics(session: Session, exercise: str, bucket: str = "day") -> ExerciseAnalytics:
    """The class analytics of ``exercise`` (see the module's docstring for the
    definitions); ``bucket``: ``day`` or ``week``, the periods of the diagnoses' trend."""
    bins = histogram(session, exercise)
    students = sum(b.students for b in bins)
    reached = bins[-1].students
    attempts = attempts_until_100(session, exercise)
    per_hour = hourly(session, exercise)
    return ExerciseAnalytics(
        exercise=exercise, students=students, reached_100=reached,
        median_attempts=nearest_rank(attempts, 0.5), p90_attempts=nearest_rank(attempts, 0.9),
        submissions=sum(h.submissions for h in per_hour), bucket=bucket, histogram=bins,
        attempts=attempts, diagnoses=diagnoses_below_100(session, exercise, students - reached),
        trend=diagnosis_trend(session, exercise, bucket),
        cases=case_failures(session, exercise), hourly=per_hour)


def fingerprint(session: Session, exercise: str) -> tuple[int, int, int]:
    """What the analytics of ``exercise`` depend on, in one index-only count: how many
    submissions, graded, and rejected. Submissions are only ever added, a status only
    moves forward, and a graded one's facts are written with its status: the same
    fingerprint means the same analytics."""
    total, graded, rejected = session.execute(
        select(func.count(), func.sum(case((Submission.status == "graded", 1), else_=0)),
               func.sum(case((Submission.status == "rejected", 1), else_=0)))
        .where(Submission.exercise == exercise)).one()
    return int(total), int(graded or 0), int(rejected or 0)


#: Analytics computed lately, by (database, exercise, bucket, fingerprint): a page and its four
#: figures, asked for at once, run the queries once (per process).
_RECENT: OrderedDict[tuple[str, str, str, tuple[int, int, int]], ExerciseAnalytics] = (
    OrderedDict())
_RECENT_SIZE = 32
_RECENT_LOCK = threading.Lock()


def current(session: Session, exercise: str, bucket: str = "day") -> ExerciseAnalytics:
    """:func:`exercise_analytics`, computed again only when a submission of the exercise
    was added or moved on since (see :func:`fingerprint`)."""
    key = (str(session.get_bind().url), exercise, bucket, fingerprint(session, exercise))
    with _RECENT_LOCK:
        if key in _RECENT:
            _RECENT.move_to_end(key)
            return _RECENT[key]
    found = exercise_analytics(session, exercise, bucket)
    with _RECENT_LOCK:
        _RECENT[key] = found
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return found


# --- as CSV -------------------------------------------------------------------------------


def table_csv(analytics: ExerciseAnalytics, table: str) -> str:
    """One of the analytics' tables (:data:`TABLES`) as CSV, a header row first (times in
    UTC, ISO 8601 with ``Z``).

    Examples
    --------
    >>> empty = ExerciseAnalytics("gd", 0, 0, None, None, 0, "day", [], [], [], [], [], [])
    >>> table_csv(empty, "cases")
    'case,visible,submissions,failed_submissions,share,runs,failed_runs\\n'
    """
    rows: Iterable[Any] = getattr(analytics, table)
    kind = _ROW_TYPES[table]
    names = [f.name for f in fields(kind)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in names])
    return out.getvalue()


_ROW_TYPES = {"histogram": ScoreBin, "attempts": AttemptCount, "diagnoses": DiagnosisCount,
              "trend": TrendPoint, "cases": CaseFailures, "hourly": HourCount}


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"
    return value


def top_diagnoses(analytics: ExerciseAnalytics, count: int = 5) -> list[str]:
    """The ``count`` diagnoses the trend plot follows: the most common among the students
    below 100, then (if fewer) the most common over the whole trend."""
    chosen = [d.diagnosis for d in analytics.diagnoses[:count]]
    over_time = Counter()
    for point in analytics.trend:
        over_time[point.diagnosis] += point.students
    for diagnosis, _ in over_time.most_common():
        if len(chosen) >= count:
            break
        if diagnosis not in chosen:
            chosen.append(diagnosis)
    return chosen


# --- the figures -------------------------------------------------------------------------

#: The analytics' figures, by the name their URLs use.
PLOTS = ("scores", "diagnoses", "cases", "hourly")


def figure_inputs(analytics: ExerciseAnalytics, name: str) -> tuple[Any, ...]:
    """What figure ``name`` draws, as a hashable tuple (the drawing is cached by it: the
    same numbers are drawn once)."""
    if name == "scores":
        return (tuple(b.label for b in analytics.histogram),
                tuple(b.students for b in analytics.histogram))
    if name == "cases":
        return (tuple(c.case for c in analytics.cases), tuple(c.share for c in analytics.cases),
                tuple(not c.visible for c in analytics.cases))
    if name == "hourly":
        return (tuple(h.hour for h in analytics.hourly),
                tuple(h.submissions for h in analytics.hourly))
    if name == "diagnoses":
        periods = tuple(sorted({p.period for p in analytics.trend}))
        followed = top_diagnoses(analytics)
        share = {(p.period, p.diagnosis): p.share for p in analytics.trend}
        return (periods, tuple((d, tuple(share.get((period, d), 0.0) for period in periods))
                               for d in followed), analytics.bucket)
    raise ValueError(f"unknown analytics plot {name!r}; known: {', '.join(PLOTS)}")


def _seconds(moment: dt.datetime) -> int:
    """Seconds since the epoch of a UTC moment (naive ones, as SQLite gives them, are UTC)."""
    return calendar.timegm(moment.utctimetuple())


def chart_data(analytics: ExerciseAnalytics) -> dict[str, Any]:
    """What the page's four charts draw in the browser: the numbers of :func:`figure_inputs`
    (the same as the pictures), as JSON-ready lists; times in seconds since the epoch,
    shares in percent.

    Examples
    --------
    >>> empty = ExerciseAnalytics("gd", 0, 0, None, None, 0, "day", [], [], [], [], [], [])
    >>> chart_data(empty)["scores"]
    {'labels': [], 'students': []}
    """
    labels, students = figure_inputs(analytics, "scores")
    cases, shares, hidden = figure_inputs(analytics, "cases")
    hours, submissions = figure_inputs(analytics, "hourly")
    periods, followed, bucket = figure_inputs(analytics, "diagnoses")
    return {
        "scores": {"labels": list(labels), "students": list(students)},
        "cases": {"cases": list(cases), "shares": [round(100 * x, 2) for x in shares],
                  "hidden": list(hidden)},
        "hourly": {"hours": [_seconds(h) for h in hours], "submissions": list(submissions)},
        "diagnoses": {"periods": [_seconds(p) for p in periods], "bucket": bucket,
                      "series": [{"diagnosis": name,
                                  "shares": [round(100 * x, 2) for x in values]}
                                 for name, values in followed]},
    }


@functools.lru_cache(maxsize=128)
def _drawn(name: str, fmt: str, inputs: tuple[Any, ...]) -> bytes:
    if name == "scores":
        return render(lambda: figures.scores_figure(*inputs), fmt)
    if name == "cases":
        return render(lambda: figures.cases_figure(*inputs), fmt)
    if name == "hourly":
        return render(lambda: figures.hourly_figure(*inputs), fmt)
    periods, followed, unit = inputs
    return render(lambda: figures.trend_figure(periods, dict(followed), unit), fmt)


def plot(analytics: ExerciseAnalytics, name: str, fmt: str) -> tuple[bytes, str]:
    """Figure ``name`` (:data:`PLOTS`) of ``analytics`` as ``fmt`` (png or svg), and its
    ETag; drawn once per distinct set of numbers (kept in memory, the latest 128)."""
    data = _drawn(name, fmt, figure_inputs(analytics, name))
    return data, hashlib.sha256(data).hexdigest()[:32]
