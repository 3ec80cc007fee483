"""The shape of ``exercise.toml``, checked with marshmallow.

Structure only: types, required fields, ranges. Whether a case's problem, hyper-parameters
and reference actually make a valid engine run is checked afterwards by the loader, with
the engine's own validation.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from grader.catalog.custom import ProblemSchema
from grader.catalog.model import Case, Mistake, Reference, Scoring
from grader.kinds import NAMES as KINDS

_ID = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,62}\Z",
                      error="must be lower-case letters, digits and dashes, e.g. 'adam'")
_POSITIVE = validate.Range(min=0, min_inclusive=False)


class ComponentSchema(Schema):
    """A schedule, regulariser or clipping: a name and options (``$name`` allowed)."""

    name = fields.String(required=True)
    options = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)


class ReferenceSchema(Schema):
    """``[reference]``: the engine optimizer and components a case is graded against."""

    optimizer = fields.String(load_default="sgd")
    hyper = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    schedule = fields.Nested(ComponentSchema, load_default=lambda: {"name": "constant"})
    regularizer = fields.Nested(ComponentSchema, load_default=lambda: {"name": "none"})
    clip = fields.Nested(ComponentSchema, load_default=lambda: {"name": "none"})

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> Reference:
        return Reference(**data)


class WeightsSchema(Schema):
    """``[scoring.weights]``: how agreement, outcome and progress make the score."""

    agreement = fields.Float(load_default=0.6, validate=validate.Range(min=0, max=1))
    outcome = fields.Float(load_default=0.2, validate=validate.Range(min=0, max=1))
    progress = fields.Float(load_default=0.2, validate=validate.Range(min=0, max=1))

    @validates_schema
    def add_up_to_one(self, data: dict[str, Any], **_: Any) -> None:
        total = sum(data.values())
        if abs(total - 1) > 1e-9:
            raise ValidationError(f"the weights must add up to 1, they add up to {total:g}")


class ScoringSchema(Schema):
    """``[scoring]``: tolerances of the step-by-step comparison, and the weights."""

    atol = fields.Float(load_default=1e-9, validate=validate.Range(min=0))
    rtol = fields.Float(load_default=1e-7, validate=validate.Range(min=0))
    weights = fields.Nested(WeightsSchema, load_default=lambda: WeightsSchema().load({}))

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> Scoring:
        weights = data.pop("weights")
        return Scoring(**data, **weights)


class CaseSchema(Schema):
    """``[[cases]]``: one problem set-up; unset fields come from the exercise's defaults."""

    name = fields.String(required=True, validate=_ID)
    visible = fields.Boolean(load_default=False)
    problem = fields.String(required=True)
    problem_options = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    seed = fields.Integer(strict=True, load_default=None, allow_none=True,
                          validate=validate.Range(min=0, max=2**32 - 1))
    x0 = fields.List(fields.Float(), load_default=None, allow_none=True)
    init = fields.String(load_default="shared", validate=validate.OneOf(["shared", "legacy"]))
    learning_rates = fields.List(fields.Float(validate=_POSITIVE), load_default=None,
                                 validate=validate.Length(min=1, max=12))
    epochs = fields.Integer(strict=True, load_default=None,
                            validate=validate.Range(min=1, max=5000))
    hyper = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    batch_size = fields.Integer(strict=True, load_default=None, allow_none=True,
                                validate=validate.Range(min=1))


class MistakeSchema(Schema):
    """``[[mistakes]]``: a known wrong solution, its diagnosis and its score ceiling."""

    file = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_\-]+\.py\Z"))
    diagnosis = fields.String(required=True, validate=_ID)
    max_score = fields.Float(required=True, validate=validate.Range(min=0, max=100))


class DiagnosisSchema(Schema):
    """``[[diagnoses]]``: a mistake particular to this exercise, with its sentence."""

    id = fields.String(required=True, validate=_ID)
    message = fields.String(required=True, validate=validate.Length(min=10, max=400))


class ExerciseSchema(Schema):
    """The whole ``exercise.toml``."""

    id = fields.String(required=True, validate=_ID)
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    version = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    summary = fields.String(required=True, validate=validate.Length(min=1, max=400))
    # Where the exercise comes in the course; exercises without one follow, by id.
    order = fields.Integer(strict=True, load_default=None, allow_none=True,
                           validate=validate.Range(min=0, max=1_000_000))
    epochs = fields.Integer(strict=True, load_default=100, validate=validate.Range(min=1, max=5000))
    learning_rates = fields.List(fields.Float(validate=_POSITIVE), load_default=None,
                                 validate=validate.Length(min=1, max=12))
    reference = fields.Nested(ReferenceSchema, load_default=Reference)
    scoring = fields.Nested(ScoringSchema, load_default=Scoring)
    cases = fields.List(fields.Nested(CaseSchema), required=True,
                        validate=validate.Length(min=1, max=20))
    mistakes = fields.List(fields.Nested(MistakeSchema), load_default=list)
    diagnoses = fields.List(fields.Nested(DiagnosisSchema), load_default=list)
    # the exercise's own data sets and problems (grader/catalog/custom.py)
    problems = fields.List(fields.Nested(ProblemSchema), load_default=list,
                           validate=validate.Length(max=10))

    @validates_schema
    def cases_are_complete(self, data: dict[str, Any], **_: Any) -> None:
        names = [case["name"] for case in data.get("cases", [])]
        if len(set(names)) != len(names):
            raise ValidationError("case names must be unique", "cases")
        if not any(case["visible"] for case in data.get("cases", [])):
            raise ValidationError("at least one case must be visible", "cases")
        for index, case in enumerate(data.get("cases", [])):
            if case["learning_rates"] is None and data.get("learning_rates") is None:
                raise ValidationError(
                    {"cases": {index: {"learning_rates": ["needed (no exercise default)"]}}})


def build_cases(data: dict[str, Any]) -> tuple[Case, ...]:
    """Cases with the exercise's defaults (epochs, learning rates) filled in."""
    cases = []
    for case in data["cases"]:
        values = dict(case)
        values["learning_rates"] = tuple(values["learning_rates"] or data["learning_rates"])
        values["epochs"] = values["epochs"] or data["epochs"]
        values["x0"] = None if values["x0"] is None else tuple(values["x0"])
        cases.append(Case(**values))
    return tuple(cases)


def build_mistakes(data: dict[str, Any], sources: dict[str, str]) -> tuple[Mistake, ...]:
    """Mistakes with their source code attached."""
    return tuple(Mistake(m["file"], sources[m["file"]], m["diagnosis"], m["max_score"])
                 for m in data["mistakes"])
