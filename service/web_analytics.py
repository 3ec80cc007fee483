"""The instructors' analytics pages: per exercise, the numbers and figures of
:mod:`service.analytics`, behind the instructors' sign-in (the figures and CSV tables are
served here too, because an ``<img>`` or a download link cannot send a bearer token)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from service import analytics, csp
from service.api.analytics import (
    check_figure,
    computed,
    csv_response,
    image_response,
    plot_links,
)
from service.errors import ApiError
from service.state import services
from service.web import web_caller

bp = Blueprint("analytics_web", __name__, template_folder="templates")
# the same Content-Security-Policy as every other page
csp.protect(bp)


def _signed_in_instructor() -> BaseResponse | None:
    """None for a signed-in instructor; otherwise the redirect to the sign-in page."""
    if web_caller().is_instructor:
        return None
    return redirect(url_for("web.login", next=request.full_path.rstrip("?")), 303)


def _bucket() -> str:
    bucket = request.args.get("bucket", "day")
    if bucket not in analytics.BUCKETS:
        abort(400, f"The diagnoses can be counted per {' or per '.join(analytics.BUCKETS)}, "
                   f"not per {bucket!r}.")
    return bucket


def _computed(exercise_id: str, bucket: str) -> analytics.ExerciseAnalytics:
    try:
        return computed(exercise_id, bucket)
    except ApiError as error:
        abort(error.status, error.message)


@bp.route("/instructor/analytics")
def index() -> Any:
    """The analytics of the exercise the form chose (``?exercise=``; default: the first
    one), per the period it chose."""
    exercises = list(services().catalog.exercises)
    chosen = request.args.get("exercise") or (exercises[0] if exercises else None)
    if chosen is None:
        abort(404, "There is no exercise loaded yet.")
    bucket = _bucket()
    extra = {} if bucket == "day" else {"bucket": bucket}
    return redirect(url_for("analytics_web.page", exercise_id=chosen, **extra), 303)


@bp.route("/instructor/analytics/<exercise_id>")
def page(exercise_id: str) -> Any:
    """An exercise's class analytics: the numbers, the four figures, the tables. The
    figures are drawn by the browser from the numbers in the page (uPlot); their pictures,
    drawn here on request, are for a browser without JavaScript."""
    if (redirection := _signed_in_instructor()) is not None:
        return redirection
    bucket = _bucket()
    found = _computed(exercise_id, bucket)
    exercise = services().catalog.exercises[exercise_id]
    return render_template(
        "analytics.html", a=found, title=exercise.title, bucket=bucket,
        exercises=list(services().catalog.exercises.values()),
        plots=plot_links(exercise_id, bucket, "analytics_web.plot"),
        followed=analytics.top_diagnoses(found), tables=analytics.TABLES,
        charts=analytics.chart_data(found))


@bp.route("/instructor/analytics/<exercise_id>/plots/<name>.<fmt>")
def plot(exercise_id: str, name: str, fmt: str) -> Any:
    """A figure of the page."""
    if (redirection := _signed_in_instructor()) is not None:
        return redirection
    try:
        check_figure(name, fmt)
    except ApiError as error:
        abort(error.status, error.message)
    data, etag = analytics.plot(_computed(exercise_id, _bucket()), name, fmt)
    return image_response(data, fmt, etag)


@bp.route("/instructor/analytics/<exercise_id>/<table>.csv")
def table(exercise_id: str, table: str) -> Response | BaseResponse:
    """One table of the page as CSV."""
    if (redirection := _signed_in_instructor()) is not None:
        return redirection
    if table not in analytics.TABLES:
        abort(404, f"There is no table {table!r}; there are {', '.join(analytics.TABLES)}.")
    found = _computed(exercise_id, _bucket())
    return csv_response(analytics.table_csv(found, table), f"{exercise_id}-{table}.csv")
