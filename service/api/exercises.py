"""The exercises: list, one in full (what a student may see), reload (instructors)."""

from __future__ import annotations

from typing import Any

from grader.catalog import Exercise
from service import operations as ops
from service.api.common import API_PREFIX, BEARER, Blueprint, instructor, link
from service.schemas import ErrorSchema, ExerciseListSchema, ExerciseSchema, ReloadSchema
from service.state import services

blp = Blueprint("exercises", __name__, url_prefix=f"{API_PREFIX}/exercises",
                description="The exercises students can submit to")


def _links(exercise: Exercise) -> dict[str, str]:
    return {"self": link("exercises.exercise", exercise_id=exercise.id),
            "submit": link("submissions.submissions")}


@blp.route("")
@blp.response(200, ExerciseListSchema)
def exercises() -> dict[str, Any]:
    """Every exercise, in the order the course teaches them: id, title, version, kind,
    one line."""
    catalog = services().catalog
    return {"items": [{**exercise.describe(full=False), "links": _links(exercise)}
                      for exercise in catalog.exercises.values()]}


@blp.route("/<exercise_id>")
@blp.response(200, ExerciseSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such exercise")
def exercise(exercise_id: str) -> dict[str, Any]:
    """An exercise in full: statement, starter code, contract, visible cases and scoring
    weights. Never the hidden cases' inputs, never the solution."""
    found = ops.find_exercise(services(), exercise_id)
    return {**found.describe(full=True), "links": _links(found)}


@blp.route("/reload", methods=["POST"])
@blp.response(200, ReloadSchema)
@blp.doc(security=BEARER)
def reload() -> dict[str, Any]:
    """Read the exercise folders again (instructors). A broken exercise is refused, naming
    its file and field; the others load."""
    instructor()
    catalog = services().reload_catalog()
    return {"exercises": len(catalog.exercises), "errors": [str(e) for e in catalog.errors]}
