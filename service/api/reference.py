"""Reference runs of the engine over HTTP: run (or find) a sweep, read it, its plot and its
CSV (the operations are :mod:`service.operations`)."""

from __future__ import annotations

from typing import Any

from flask import Response

from service import operations as ops
from service import reference_store as runs
from service.api.common import API_PREFIX, Blueprint, image_response, link
from service.schemas import (
    BINARY,
    CSV_TEXT,
    PLOT_DESCRIPTION,
    ErrorSchema,
    ReferenceRequestSchema,
    ReferenceRunSchema,
)
from service.state import services

blp = Blueprint("reference", __name__, url_prefix=f"{API_PREFIX}/reference",
                description="Runs of the reference gradient-descent engine")


def _representation(stored: runs.Stored) -> dict[str, Any]:
    return {"id": stored.id, "cached": stored.cached, "request": stored.request,
            "result": stored.result, "links": {
                "self": link("reference.run", run_id=stored.id),
                "plot_png": link("reference.plot", run_id=stored.id, fmt="png"),
                "plot_svg": link("reference.plot", run_id=stored.id, fmt="svg"),
                "csv": link("reference.run_csv", run_id=stored.id)}}


@blp.route("/runs", methods=["POST"])
@blp.arguments(ReferenceRequestSchema)
@blp.response(201, ReferenceRunSchema)
@blp.alt_response(200, schema=ReferenceRunSchema, description="The same run, already kept")
@blp.alt_response(422, schema=ErrorSchema, description="The request is not a valid run")
def runs_(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Run a sweep: a problem, an optimizer with its hyper-parameters, a schedule, learning
    rates and epochs. Returns every run's losses and parameters, its outcome, and the
    problem's stability facts. The same request (in any spelling that resolves to the same
    run) is answered from the store, with status 200."""
    stored = ops.run_reference(services(), body)
    data = _representation(stored)
    return data, 200 if stored.cached else 201, {"Location": data["links"]["self"]}


@blp.route("/runs/<run_id>")
@blp.response(200, ReferenceRunSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such run")
def run(run_id: str) -> dict[str, Any]:
    """A kept reference run."""
    return _representation(ops.reference_run(services(), run_id))


@blp.route("/runs/<run_id>.csv")
@blp.response(200, CSV_TEXT, description="lr, step, loss, then each parameter",
              content_type="text/csv")
@blp.alt_response(404, schema=ErrorSchema, description="No such run")
def run_csv(run_id: str) -> Response:
    """A kept run as CSV: one row per learning rate and step."""
    stored = ops.reference_run(services(), run_id)
    response = Response(runs.to_csv(stored), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="reference-{run_id}.csv"'
    return response


@blp.route("/runs/<run_id>/plot.<fmt>")
@blp.response(200, BINARY, description=PLOT_DESCRIPTION, content_type="image/png")
@blp.alt_response(200, schema=BINARY, description=PLOT_DESCRIPTION, content_type="image/svg+xml",
                  success=True)
@blp.alt_response(304, schema=None, description="Not modified (If-None-Match)")
@blp.alt_response(404, schema=ErrorSchema, description="No such run or format")
def plot(run_id: str, fmt: str) -> Response:
    """The loss curves per learning rate (and, for two parameters, the paths)."""
    drawn = ops.reference_plot(services(), run_id, fmt)
    return image_response(drawn.data, drawn.media_type, drawn.etag)
