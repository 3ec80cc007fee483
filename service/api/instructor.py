"""Instructors: students and their tokens, every submission, the gradebook."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service import operations as ops
from service.api.common import API_PREFIX, BEARER, Blueprint, instructor, link
from service.auth import new_token, token_hash
from service.errors import ApiError
from service.models import Student, utcnow
from service.schemas import (
    CSV_TEXT,
    ErrorSchema,
    GradebookSchema,
    PageSchema,
    QueueSchema,
    StudentCreatedSchema,
    StudentListSchema,
    StudentRequestSchema,
    SubmissionQuery,
    SubmissionQuerySchema,
)
from service.state import services

blp = Blueprint("instructor", __name__, url_prefix=API_PREFIX,
                description="For instructors (the instructor token)")


@blp.route("/students", methods=["POST"])
@blp.arguments(StudentRequestSchema)
@blp.response(201, StudentCreatedSchema)
@blp.alt_response(409, schema=ErrorSchema, description="A student of that name exists")
@blp.doc(security=BEARER)
def create_student(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Register a student and issue their token. The token is shown in this answer only;
    the server keeps its hash."""
    instructor()
    token = new_token()
    student = Student(name=body["name"], token_hash=token_hash(token), created_at=utcnow())
    try:
        with services().db.session() as session:
            session.add(student)
    except IntegrityError:
        raise ApiError(409, f"A student named {body['name']!r} already exists.",
                       {"name": ["already registered"]}) from None
    return {"name": student.name, "token": token, "created_at": student.created_at}, 201


@blp.route("/students")
@blp.response(200, StudentListSchema)
@blp.doc(security=BEARER)
def students() -> dict[str, Any]:
    """The registered students (never their tokens)."""
    instructor()
    with services().db.session() as session:
        rows = session.scalars(select(Student).order_by(Student.name)).all()
        return {"items": [{"name": s.name, "created_at": s.created_at} for s in rows]}


@blp.route("/submissions")
@blp.arguments(SubmissionQuerySchema, location="query")
@blp.response(200, PageSchema)
@blp.doc(security=BEARER)
def list_submissions(query: SubmissionQuery) -> dict[str, Any]:
    """Every submission, newest first: filter by exercise, student, status and date."""
    page = ops.list_submissions(services(), instructor(), query)
    return {"items": [{
        "id": s.public_id, "exercise": s.exercise, "exercise_version": s.exercise_version,
        "student": s.student, "status": s.status, "score": s.score, "created_at": s.created_at,
        "grading_ms": s.grading_ms,
        "links": {"self": link("submissions.submission", public_id=s.public_id)},
    } for s in page.items], "page": page.page, "page_size": page.page_size, "total": page.total}


@blp.route("/queue")
@blp.response(200, QueueSchema)
@blp.doc(security=BEARER)
def queue() -> dict[str, Any]:
    """The grading queue: submissions queued and the oldest one's age, the ones being
    graded, and the live workers (host, pid, jobs done, last heartbeat). On a server
    without a job queue (mode ``embedded``) only the database's part is filled in."""
    return asdict(ops.queue_stats(services(), instructor()))


@blp.route("/gradebook")
@blp.response(200, GradebookSchema)
@blp.doc(security=BEARER)
def gradebook() -> dict[str, Any]:
    """Best and latest score of every named student on every exercise they submitted to."""
    return {"items": ops.gradebook(services(), instructor())}


@blp.route("/gradebook.csv")
@blp.response(200, CSV_TEXT, description="student, exercise, best, latest, submissions, "
                                          "last_submitted", content_type="text/csv")
@blp.doc(security=BEARER)
def gradebook_csv() -> Response:
    """The gradebook as CSV, for a spreadsheet or an LMS."""
    response = Response(ops.gradebook_csv(services(), instructor()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="gradebook.csv"'
    return response
