"""The database tables (SQLAlchemy 2 declarative). The schema itself is created and
upgraded by the Alembic migrations in ``service/migrations``; a test checks they agree."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: A submission's life: stored ``queued`` (job queue) or ``grading`` (graded in the web
#: process), then one of the last three.
STATUSES = ("queued", "grading", "graded", "rejected", "failed")
#: The statuses of a submission whose grading is over.
FINAL_STATUSES = ("graded", "rejected", "failed")


def utcnow() -> dt.datetime:
    """Now, in UTC (timezone-aware).

    Examples
    --------
    >>> utcnow().tzinfo is dt.UTC
    True
    """
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A moment kept as UTC in a plain ``DATETIME``/``TIMESTAMP`` column and read back
    timezone-aware, the same on SQLite (which keeps no zone) and PostgreSQL.

    The column stays zone-less on purpose: a ``timestamptz`` would be shown in each
    session's zone on PostgreSQL and does not exist on SQLite; the migrations, and so the
    schema, are the same on both. A naive value given to it is taken to be UTC already.

    Examples
    --------
    >>> column = UtcDateTime()
    >>> paris = dt.timezone(dt.timedelta(hours=1))
    >>> column.process_bind_param(dt.datetime(2026, 1, 1, 13, tzinfo=paris), None)
    datetime.datetime(2026, 1, 1, 12, 0)
    >>> column.process_result_value(dt.datetime(2026, 1, 1, 12), None).isoformat()
    '2026-01-01T12:00:00+00:00'
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None,
                           dialect: Dialect | None) -> dt.datetime | None:
        """An aware moment as naive UTC; a naive one as it is (already UTC)."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect | None) -> dt.datetime | None:
        """The stored naive UTC moment, marked as UTC."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    """The tables' common base."""


class Student(Base):
    """A student an instructor registered; the token itself is never kept, only its hash."""

    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Submission(Base):
    """One submission: kept from the moment it arrives, whatever becomes of it."""

    __tablename__ = "submissions"
    #: The class analytics read every submission of an exercise by student, status, score
    #: and time: from this index alone, without visiting the rows (with their code, result
    #: and job bytes).
    __table_args__ = (Index("ix_submissions_analytics", "exercise", "student", "status",
                            "score", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The id clients see: random, so submissions cannot be enumerated.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    exercise: Mapped[str] = mapped_column(String(64), index=True)
    exercise_version: Mapped[int] = mapped_column(Integer)
    student: Mapped[str | None] = mapped_column(String(100), index=True)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"))
    code: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="grading", index=True)
    score: Mapped[float | None] = mapped_column(Float)
    #: The graded result as JSON, as the student may see it (what the API returned).
    result: Mapped[str | None] = mapped_column(Text)
    #: What only instructors may see of the result, as JSON: the hidden runs' output and
    #: errors, the full replay information (never shown to a student).
    instructor_result: Mapped[str | None] = mapped_column(Text)
    #: The sandbox's result, packed by grader.archive (compressed trajectories).
    job: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Why it was rejected or failed, in a sentence.
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    graded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    grading_ms: Mapped[float | None] = mapped_column(Float)
    sandbox_ms: Mapped[float | None] = mapped_column(Float)
    #: How many times grading was started (a worker that dies mid-job leaves it to another).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    queued_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    #: The worker grading it (``host:pid:nonce``), whose heartbeat says it is alive.
    worker: Mapped[str | None] = mapped_column(String(120))
    #: Where to POST the result once graded, and how that went.
    callback_url: Mapped[str | None] = mapped_column(Text)
    callback_status: Mapped[str | None] = mapped_column(String(200))


#: A callback delivery's life: ``pending`` (due at ``next_attempt_at``), then
#: ``delivered`` or ``failed`` (refused by its receiver, or every attempt used).
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class CallbackDelivery(Base):
    """A graded result to POST to its submission's callback URL, kept with the result (in
    the same transaction) so that it is sent even if the process that graded dies."""

    __tablename__ = "callback_deliveries"
    __table_args__ = (Index("ix_callback_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Sent as ``X-Gdlab-Delivery``: the same for every attempt, so that a receiver can
    #: tell a repeated delivery from a new one.
    delivery_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    #: The exact bytes sent (and signed) at every attempt.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: When it may be tried next (pending), or until when an attempt under way holds it.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    #: How the last attempt went, in a sentence.
    outcome: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ReferenceRun(Base):
    """A reference sweep, keyed by its canonical request: asking twice runs it once."""

    __tablename__ = "reference_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request: Mapped[str] = mapped_column(Text)
    #: The result as zlib-compressed JSON.
    result: Mapped[bytes] = mapped_column(LargeBinary)
    engine_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    compute_ms: Mapped[float] = mapped_column(Float)


class Plot(Base):
    """A rendered plot, drawn on first request and kept."""

    __tablename__ = "plots"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Setting(Base):
    """Service-wide values kept across restarts (the instructor token's hash, ...)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SubmissionDiagnosis(Base):
    """One diagnosis of a graded submission, kept in a row of its own when the result is
    written, so that the class analytics (``service/analytics.py``) count them with SQL
    aggregates instead of reading every result's JSON."""

    __tablename__ = "submission_diagnoses"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"),
                                               primary_key=True)
    #: Its place in the result's list (the grader names the closest match first).
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    diagnosis: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)


class SubmissionCase(Base):
    """How one case (visible or hidden) of a graded submission went over its learning
    rates: how many runs it had and how many of them did not match the reference. Kept
    when the result is written; the student never sees the hidden ones."""

    __tablename__ = "submission_cases"
    #: Counted per exercise from this index alone (a class has five or so rows per graded
    #: submission: 100,000 for 1,000 students x 20 submissions).
    __table_args__ = (Index("ix_submission_cases_analytics", "exercise", "case", "visible",
                            "runs", "failed"),)

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"),
                                               primary_key=True)
    case: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: The submission's exercise, again: the counts per case need no join then (a row is
    #: written once, with its graded submission, whose exercise never changes).
    exercise: Mapped[str] = mapped_column(String(64))
    visible: Mapped[bool] = mapped_column(Boolean)
    runs: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
