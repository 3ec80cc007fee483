"""Class analytics for instructors: per exercise, the best scores, attempts until 100, the
common diagnoses and how they changed, the cases that fail most, submissions per hour.
The definitions are in :mod:`service.analytics`."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for
from marshmallow import Schema, fields, validate

from grader.plots import FORMATS, MEDIA_TYPES
from service import analytics
from service import operations as ops
from service.api.common import API_PREFIX, BEARER, Blueprint, instructor
from service.errors import ApiError, field_error
from service.schemas import BINARY, CSV_TEXT, ErrorSchema, StrictSchema
from service.state import services

blp = Blueprint("analytics", __name__, url_prefix=f"{API_PREFIX}/analytics",
                description="Class analytics for instructors (the instructor token)")


# --- schemas ---------------------------------------------------------------------------


class AnalyticsQuerySchema(StrictSchema):
    """The query of GET /api/v1/analytics/exercises/{id}."""

    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "json (everything) or csv (one table)"})
    table = fields.String(validate=validate.OneOf(analytics.TABLES),
                          metadata={"description": "With format=csv: the table to export"})
    bucket = fields.String(load_default="day", validate=validate.OneOf(analytics.BUCKETS),
                           metadata={"description": "The periods of the diagnoses' trend "
                                                    "(UTC; weeks start on Monday)"})


class PlotQuerySchema(StrictSchema):
    """The query of an analytics figure."""

    bucket = fields.String(load_default="day", validate=validate.OneOf(analytics.BUCKETS),
                           metadata={"description": "The periods of the diagnoses' figure"})


class ScoreBinSchema(Schema):
    """Students whose best score is in [low, high); the bin '100' is exactly 100."""

    label = fields.String(required=True)
    low = fields.Float(required=True)
    high = fields.Float(required=True)
    students = fields.Integer(required=True)


class AttemptCountSchema(Schema):
    """How many students reached 100 at exactly this many attempts."""

    attempts = fields.Integer(required=True)
    students = fields.Integer(required=True)


class DiagnosisCountSchema(Schema):
    """A diagnosis among the students whose best score is below 100."""

    diagnosis = fields.String(required=True)
    message = fields.String(required=True)
    students = fields.Integer(required=True, metadata={
        "description": "Students below 100 with a graded submission showing it"})
    share = fields.Float(required=True, metadata={
        "description": "students / the students below 100 (0-1)"})
    submissions = fields.Integer(required=True)


class TrendPointSchema(Schema):
    """A diagnosis in one period."""

    period = fields.DateTime(required=True, metadata={"description": "Start of the period, "
                                                                     "UTC"})
    diagnosis = fields.String(required=True)
    students = fields.Integer(required=True)
    of_students = fields.Integer(required=True, metadata={
        "description": "Students with a graded submission below 100 in the period"})
    share = fields.Float(required=True)


class CaseFailuresSchema(Schema):
    """How often a case failed (a run of it did not match the reference)."""

    case = fields.String(required=True)
    visible = fields.Boolean(required=True)
    submissions = fields.Integer(required=True, metadata={
        "description": "Graded submissions that recorded this case"})
    failed_submissions = fields.Integer(required=True)
    share = fields.Float(required=True)
    runs = fields.Integer(required=True)
    failed_runs = fields.Integer(required=True)


class HourCountSchema(Schema):
    """Submissions in the hour starting at ``hour`` (UTC)."""

    hour = fields.DateTime(required=True)
    submissions = fields.Integer(required=True)


class AnalyticsSchema(Schema):
    """GET /api/v1/analytics/exercises/{id}."""

    exercise = fields.String(required=True)
    students = fields.Integer(required=True, metadata={
        "description": "Named students with a graded submission"})
    reached_100 = fields.Integer(required=True)
    median_attempts = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Nearest-rank median of the attempts until the first 100"})
    p90_attempts = fields.Integer(required=True, allow_none=True)
    submissions = fields.Integer(required=True)
    bucket = fields.String(required=True)
    histogram = fields.List(fields.Nested(ScoreBinSchema), required=True)
    attempts = fields.List(fields.Nested(AttemptCountSchema), required=True)
    diagnoses = fields.List(fields.Nested(DiagnosisCountSchema), required=True)
    trend = fields.List(fields.Nested(TrendPointSchema), required=True)
    cases = fields.List(fields.Nested(CaseFailuresSchema), required=True)
    hourly = fields.List(fields.Nested(HourCountSchema), required=True)
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


# --- views -------------------------------------------------------------------------------


def computed(exercise_id: str, bucket: str = "day") -> analytics.ExerciseAnalytics:
    """The analytics of a loaded exercise (404 naming the known ones otherwise)."""
    exercise = ops.find_exercise(services(), exercise_id)
    with services().db.session() as session:
        return analytics.current(session, exercise.id, bucket)


def plot_links(exercise_id: str, bucket: str = "day",
               endpoint: str = "analytics.plot") -> dict[str, str]:
    """Where each figure of an exercise's analytics is, as SVG."""
    extra = {} if bucket == "day" else {"bucket": bucket}
    return {f"plot_{name}": url_for(endpoint, exercise_id=exercise_id, name=name, fmt="svg",
                                    **extra)
            for name in analytics.PLOTS}


def csv_response(text: str, filename: str) -> Response:
    """A CSV download."""
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def image_response(data: bytes, fmt: str, etag: str) -> Response:
    """A figure, answered conditionally; revalidated at every use (the numbers change
    with every submission)."""
    response = Response(data, mimetype=MEDIA_TYPES[fmt])
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


@blp.route("/exercises/<exercise_id>")
@blp.arguments(AnalyticsQuerySchema, location="query")
@blp.response(200, AnalyticsSchema)
@blp.alt_response(200, schema=CSV_TEXT, content_type="text/csv", success=True,
                  description="With format=csv: the chosen table, a header row first")
@blp.alt_response(404, schema=ErrorSchema, description="No such exercise")
@blp.doc(security=BEARER)
def exercise(query: dict[str, Any], exercise_id: str) -> Any:
    """The class analytics of an exercise: best scores per student (histogram), how many
    reached 100 and after how many attempts (median, p90), the most common diagnoses of the
    students below 100 and their trend per day or week, the cases that fail most (visible
    and hidden, by name), and submissions per hour. ``format=csv&table=...`` gives one
    table as CSV (histogram, attempts, diagnoses, trend, cases, hourly)."""
    instructor()  # before anything about the query is said: who asks comes first
    check_table(query)
    found = computed(exercise_id, query["bucket"])
    if query["format"] == "csv":
        return csv_response(analytics.table_csv(found, query["table"]),
                            f"{exercise_id}-{query['table']}.csv")
    return {**found.to_dict(), "links": plot_links(found.exercise, query["bucket"])}


@blp.route("/exercises/<exercise_id>/plots/<name>.<fmt>")
@blp.arguments(PlotQuerySchema, location="query")
@blp.response(200, BINARY, content_type="image/svg+xml",
              description=f"One figure: {', '.join(analytics.PLOTS)}; as .svg or .png")
@blp.alt_response(200, schema=BINARY, content_type="image/png", success=True,
                  description="The figure as PNG")
@blp.alt_response(304, schema=None, description="Not modified (If-None-Match)")
@blp.alt_response(404, schema=ErrorSchema, description="No such exercise, figure or format")
@blp.doc(security=BEARER)
def plot(query: dict[str, Any], exercise_id: str, name: str, fmt: str) -> Response:
    """A figure of an exercise's analytics: ``scores`` (best score per student), ``diagnoses``
    (the common diagnoses per day), ``cases`` (failures per case), ``hourly`` (the deadline
    curve)."""
    instructor()
    check_figure(name, fmt)
    data, etag = analytics.plot(computed(exercise_id, query["bucket"]), name, fmt)
    return image_response(data, fmt, etag)


def check_table(query: dict[str, Any]) -> None:
    """422 unless ``table`` comes with ``format=csv``, and only with it."""
    if query["format"] == "csv" and "table" not in query:
        raise field_error("table", f"CSV comes one table at a time: add table=, one of "
                                   f"{', '.join(analytics.TABLES)}.")
    if query["format"] == "json" and "table" in query:
        raise field_error("table", "table= chooses a CSV table: add format=csv, or leave "
                                   "table= out for the whole analytics as JSON.")


def check_figure(name: str, fmt: str) -> None:
    """404 for a figure or format the analytics do not draw."""
    if name not in analytics.PLOTS:
        raise ApiError(404, f"There is no analytics figure {name!r}; there are "
                            f"{', '.join(analytics.PLOTS)}.")
    if fmt not in FORMATS:
        raise ApiError(404, f"Figures come as {' or '.join(FORMATS)}, not {fmt!r}.")
