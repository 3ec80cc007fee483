"""The API's request and response schemas (marshmallow 4): what clients may send, checked
before anything runs, and what they get back, as the OpenAPI document describes it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)


class WholeRegexp(validate.Regexp):
    """marshmallow's Regexp, matching the whole value: its ``re.match`` lets ``$`` match
    before a final newline ("ada\\n"), which the documented pattern (JSON Schema's regex
    dialect) refuses."""

    def __call__(self, value: str) -> str:  # type: ignore[override]
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


#: A student name: letters, digits and a few separators, as in a gradebook column. Python's
#: Unicode ``\w`` is exactly JSON Schema's ``[\p{L}\p{N}_]`` (ECMA's ``\w`` is ASCII only):
#: STUDENT_NAME_PATTERN documents what STUDENT_NAME checks.
STUDENT_NAME = WholeRegexp(
    r"[\w][\w .@+\-]{0,99}",
    error="Use 1 to 100 letters, digits, spaces or . @ + - _ (starting with a letter or digit).")
STUDENT_NAME_PATTERN = r"^[\p{L}\p{N}_][\p{L}\p{N}_ .@+\-]{0,99}$"
EXERCISE_ID = WholeRegexp(r"^[a-z0-9][a-z0-9\-]{0,63}$",
                          error="Exercise ids are lower-case letters, digits and dashes.")


def student_name(**kwargs: Any) -> fields.String:
    """A student-name field: checked by STUDENT_NAME, documented with its pattern."""
    metadata = {**kwargs.pop("metadata", {}), "pattern": STUDENT_NAME_PATTERN}
    return fields.String(validate=STUDENT_NAME, metadata=metadata, **kwargs)


class UtcDateTime(fields.DateTime):
    """A moment written as RFC 3339 in UTC (``2025-01-31T12:00:00.5Z``): the database keeps
    naive UTC, and a date-time without its offset is not RFC 3339."""

    def _serialize(self, value: dt.datetime | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class StrictSchema(Schema):
    """Unknown fields are an error (a misspelt field must not be silently ignored)."""

    class Meta:
        """marshmallow's options."""

        unknown = RAISE


# --- NAME=VALUE: the one syntax of settings typed as text (the CLI, the web forms) ---------


def parse_value(text: str) -> float | int | bool:
    """A value typed as text: ``true``/``false``, an integer, or a float.

    Raises
    ------
    ValidationError
        Saying that the text is none of these.

    Examples
    --------
    >>> parse_value("true"), parse_value("10"), parse_value("1e-3")
    (True, 10, 0.001)
    >>> parse_value("[1]")
    Traceback (most recent call last):
    ...
    marshmallow.exceptions.ValidationError: '[1]' is not a number or true/false
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(lowered)
    except ValueError:
        pass
    try:
        return float(lowered)
    except ValueError:
        raise ValidationError(f"{text!r} is not a number or true/false") from None


def parse_assignment(text: str) -> tuple[str, float | int | bool]:
    """``NAME=VALUE`` into a pair.

    Raises
    ------
    ValidationError
        Without the ``=``, a name or a value; or with a value :func:`parse_value` refuses
        (then keyed by the name).

    Examples
    --------
    >>> parse_assignment(" momentum = 0.9 ")
    ('momentum', 0.9)
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValidationError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), parse_value(value)
    except ValidationError as error:
        raise ValidationError({name.strip(): error.messages}) from None


def parse_assignments(text: str) -> dict[str, float | int | bool]:
    """``NAME=VALUE`` pairs separated by commas or lines into a dict.

    Examples
    --------
    >>> parse_assignments("momentum=0.9, nesterov=true\\nweight_decay=0")
    {'momentum': 0.9, 'nesterov': True, 'weight_decay': 0}
    >>> parse_assignments("")
    {}
    """
    return dict(parse_assignment(part)
                for part in text.replace("\n", ",").split(",") if part.strip())


class Assignments(fields.Field):
    """A dict of settings written as text: ``momentum=0.9, nesterov=true``
    (:func:`parse_assignments`); a bad value is blamed on ``<field>.<name>``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any,
                     **kwargs: Any) -> dict[str, float | int | bool]:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        return parse_assignments(value)


def _option_value() -> fields.Raw:
    return fields.Raw(metadata={"oneOf": [{"type": "number"}, {"type": "boolean"}]})


# --- files -----------------------------------------------------------------------------

#: The body of a plot (PNG or SVG) or of a CSV download, as the document describes it.
BINARY = {"type": "string", "format": "binary"}
CSV_TEXT = {"type": "string", "description": "CSV with a header row"}
PLOT_DESCRIPTION = "The plot: PNG at plot.png, SVG at plot.svg"


# --- errors ----------------------------------------------------------------------------


class ErrorSchema(Schema):
    """Every error the API returns."""

    code = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = fields.String(required=True, metadata={"description": "HTTP status phrase"})
    message = fields.String(required=True, metadata={"description": "What went wrong"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         required=True,
                         metadata={"description": "Messages per field (may be empty)"})


# --- health and limits -------------------------------------------------------------------


class SandboxHealthSchema(Schema):
    """The sandbox as /health shows it."""

    runner = fields.String(required=True, validate=validate.OneOf(["web", "workers"]),
                           metadata={"description": "whose runner: the web server's own "
                                     "(grading in-process), or the grading workers' (with "
                                     "a job queue, as their heartbeats report it)"})
    reachable = fields.Boolean(allow_none=True, required=True, metadata={
        "description": "the runner answers (workers: at least one worker's does; null while "
                       "no worker is alive to say)"})
    layers_active = fields.List(fields.String(), required=True)
    layers_missing = fields.List(fields.String(), required=True)
    slots = fields.Integer(allow_none=True, required=True)
    running = fields.Integer(allow_none=True, required=True)
    waiting = fields.Integer(allow_none=True, required=True)


class QueueHealthSchema(Schema):
    """The job queue as /health shows it."""

    configured = fields.Boolean(required=True, metadata={
        "description": "whether grading goes through a job queue (GDLAB_REDIS_URL)"})
    redis = fields.Boolean(allow_none=True, required=True,
                           metadata={"description": "Redis answers (null: no queue)"})
    workers = fields.Integer(allow_none=True, required=True,
                             metadata={"description": "grading workers alive"})


class HealthSchema(Schema):
    """GET /health."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded"]))
    down = fields.List(fields.String(), required=True,
                       metadata={"description": "The parts not working (e.g. `database`, "
                                                "`sandbox`); empty when the status is ok"})
    version = fields.String(required=True)
    engine_version = fields.String(required=True)
    exercises = fields.Integer(required=True)
    exercise_errors = fields.Integer(required=True)
    database = fields.Boolean(required=True)
    sandbox = fields.Nested(SandboxHealthSchema, required=True)
    queue = fields.Nested(QueueHealthSchema, required=True)


class LimitsSchema(Schema):
    """GET /api/v1/limits."""

    reference = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    sandbox = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    service = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    student_auth = fields.String(required=True)


# --- catalogues --------------------------------------------------------------------------


class OptionSchema(Schema):
    """A setting of a problem, optimizer, schedule, regulariser or clipping."""

    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["float", "int", "bool"]))
    default = fields.Raw(allow_none=True, metadata={"description": "None: required"})
    range = fields.String(required=True)
    minimum = fields.Float(allow_none=True)
    maximum = fields.Float(allow_none=True)
    exclusive_minimum = fields.Boolean(required=True)
    exclusive_maximum = fields.Boolean(required=True)
    required = fields.Boolean(required=True)
    help = fields.String(required=True)


class CatalogueEntrySchema(Schema):
    """A problem or an optimizer, with its settings."""

    name = fields.String(required=True)
    summary = fields.String(required=True)
    options = fields.List(fields.Nested(OptionSchema), required=True)
    default_lr = fields.Float(metadata={"description": "optimizers: torch's default"})


class CatalogueSchema(Schema):
    """GET /api/v1/problems, /api/v1/optimizers."""

    items = fields.List(fields.Nested(CatalogueEntrySchema), required=True)


# --- exercises ---------------------------------------------------------------------------


class ContractSchema(Schema):
    """How the student's function is called."""

    entry = fields.String(required=True)
    signature = fields.String(required=True)
    hyper = fields.List(fields.String(), required=True)


class VisibleCaseSchema(Schema):
    """A case whose inputs the student may see."""

    name = fields.String(required=True)
    problem = fields.String(required=True)
    problem_options = fields.Dict(keys=fields.String(), values=_option_value(), required=True)
    seed = fields.Integer(allow_none=True)
    x0 = fields.List(fields.Float(), allow_none=True)
    learning_rates = fields.List(fields.Float(), required=True)
    epochs = fields.Integer(required=True)
    hyper = fields.Dict(keys=fields.String(), values=_option_value(), required=True)
    batch_size = fields.Integer(allow_none=True)


class WeightsSchema(Schema):
    """How a run's score is weighted."""

    agreement = fields.Float(required=True)
    outcome = fields.Float(required=True)
    progress = fields.Float(required=True)


class ScoringSchema(Schema):
    """The exercise's tolerances and weights."""

    atol = fields.Float(required=True)
    rtol = fields.Float(required=True)
    weights = fields.Nested(WeightsSchema, required=True)


class ExerciseSummarySchema(Schema):
    """An exercise in the list."""

    id = fields.String(required=True)
    title = fields.String(required=True)
    version = fields.Integer(required=True)
    kind = fields.String(required=True)
    summary = fields.String(required=True)
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class ExerciseListSchema(Schema):
    """GET /api/v1/exercises."""

    items = fields.List(fields.Nested(ExerciseSummarySchema), required=True)


class ExerciseSchema(ExerciseSummarySchema):
    """GET /api/v1/exercises/{id}: never the hidden cases' inputs, never the solution."""

    statement = fields.String(required=True, metadata={"description": "Markdown"})
    starter = fields.String(required=True)
    contract = fields.Nested(ContractSchema, required=True)
    visible_cases = fields.List(fields.Nested(VisibleCaseSchema), required=True)
    hidden_cases = fields.Integer(required=True, metadata={"description": "how many"})
    scoring = fields.Nested(ScoringSchema, required=True)


class ReloadSchema(Schema):
    """POST /api/v1/exercises/reload."""

    exercises = fields.Integer(required=True)
    errors = fields.List(fields.String(), required=True)


# --- submissions -------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionRequest:
    """A submission as sent (through :class:`SubmissionRequestSchema`)."""

    exercise: str
    code: str
    student: str | None = None
    callback_url: str | None = None


class SubmissionRequestSchema(StrictSchema):
    """POST /api/v1/submissions; loads a :class:`SubmissionRequest`."""

    exercise = fields.String(required=True, validate=EXERCISE_ID,
                             metadata={"example": "gd"})
    code = fields.String(required=True, metadata={
        "description": "The Python source, UTF-8",
        "example": "def update(params, grad, lr, state, **hyper):\n"
                   "    return params - lr * grad\n"})
    student = student_name(metadata={
        "description": "Your name (open mode; with a student token it is the token's)"})
    callback_url = fields.String(validate=validate.Length(min=1, max=2000), metadata={
        "description": "Where to POST the result once graded (http or https; signed with "
                       "HMAC-SHA256 of the body in X-Gdlab-Signature: sha256=<hex>). The "
                       "delivery is kept with the result and retried with backoff (6 "
                       "attempts over about 6 minutes), also by another process if the one "
                       "that graded stops: delivered at least once, every attempt with the "
                       "same body, signature and X-Gdlab-Delivery id (drop a repeated id). "
                       "Addresses of private networks are refused unless the server allows "
                       "them.",
        "example": "https://lms.example.org/gdlab-hook"})

    @post_load
    def _request(self, data: dict[str, Any], **_: object) -> SubmissionRequest:
        return SubmissionRequest(**data)


class PreferHeaderSchema(Schema):
    """POST /api/v1/submissions: the ``Prefer`` header (RFC 7240); other headers pass."""

    prefer = fields.String(data_key="Prefer", metadata={
        "description": "'respond-async': answer 202 at once (as ?wait=false); "
                       "'wait=<seconds>': wait at most that long (within the server's "
                       "bound). Another value is refused (400).",
        "example": "respond-async"})


class SubmitQuerySchema(StrictSchema):
    """POST /api/v1/submissions: how long to wait for the grade."""

    wait = fields.Boolean(metadata={
        "description": "false: answer 202 (queued) at once and let the client poll the "
                       "submission's URL; true (the default): wait for the grade up to the "
                       "server's bound (GDLAB_SUBMIT_WAIT), then 202 if it is not done. A "
                       "server without a job queue grades in the request and always "
                       "answers 201."})


class DisagreementSchema(Schema):
    """Where a visible run first left the reference's path."""

    step = fields.Integer(required=True)
    student = fields.List(fields.Raw(), allow_none=True, required=True,
                          metadata={"description": "numbers, or 'nan'/'inf'/'-inf'"})
    reference = fields.List(fields.Raw(), required=True)


class RunSchema(Schema):
    """One visible case at one learning rate."""

    case = fields.String(required=True)
    lr = fields.Float(required=True)
    verdict = fields.String(required=True)
    score = fields.Float(required=True)
    agreement = fields.Float(required=True)
    outcome = fields.String(allow_none=True, required=True)
    reference_outcome = fields.String(required=True)
    progress = fields.Float(required=True)
    first_disagreement = fields.Nested(DisagreementSchema, allow_none=True, required=True)


class HiddenSchema(Schema):
    """The hidden runs, as an aggregate only."""

    runs = fields.Integer(required=True)
    score = fields.Float(allow_none=True, required=True)
    verdicts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class DiagnosisSchema(Schema):
    """A named mistake and how to fix it."""

    id = fields.String(required=True)
    message = fields.String(required=True)


class SandboxVerdictSchema(Schema):
    """How the sandbox job ended."""

    verdict = fields.String(required=True)
    detail = fields.String(required=True)


class StudentErrorSchema(Schema):
    """An exception the student's code raised."""

    type = fields.String(required=True)
    message = fields.String(required=True)
    line = fields.Integer(allow_none=True, required=True)


class HiddenJobSchema(Schema):
    """How the hidden runs' job ended, in full (instructors only)."""

    verdict = fields.String(required=True)
    detail = fields.String(required=True)
    stdout = fields.String(required=True)
    error = fields.Nested(StudentErrorSchema, allow_none=True, required=True)


class InstructorViewSchema(Schema):
    """What only instructors see of a result."""

    replay = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True, metadata={
        "description": "the replay information with every case's seed, hidden ones too"})
    hidden_job = fields.Nested(HiddenJobSchema, allow_none=True, required=True, metadata={
        "description": "the hidden runs' job: verdict, sentence, printed output, error "
                       "(null for an exercise without hidden cases)"})


SUBMISSION_STATUSES = ["queued", "grading", "graded", "rejected", "failed"]


class CallbackDeliverySchema(Schema):
    """How the delivery of a result to its callback URL stands (instructors only)."""

    delivery_id = fields.String(required=True, metadata={
        "description": "sent as X-Gdlab-Delivery at every attempt"})
    status = fields.String(required=True,
                           validate=validate.OneOf(["pending", "delivered", "failed"]))
    attempts = fields.Integer(required=True)
    outcome = fields.String(allow_none=True, required=True,
                            metadata={"description": "how the last attempt went"})
    next_attempt_at = UtcDateTime(allow_none=True, required=True)
    delivered_at = UtcDateTime(allow_none=True, required=True)


class SubmissionSchema(Schema):
    """A submission and, once graded, its result (the shape of ``gdlab grade --json``)."""

    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(SUBMISSION_STATUSES),
                           metadata={"description": "queued (waiting for a grading worker), "
                                                    "grading, then graded, rejected or failed"})
    position = fields.Integer(allow_none=True, metadata={
        "description": "while queued: its place in the queue (1: next)"})
    attempts = fields.Integer(metadata={"description": "times grading was started"})
    student = fields.String(allow_none=True, required=True)
    created_at = UtcDateTime(required=True)
    graded_at = UtcDateTime(allow_none=True)
    exercise = fields.String(required=True)
    exercise_version = fields.Integer(required=True)
    score = fields.Float(allow_none=True, required=True)
    runs = fields.List(fields.Nested(RunSchema))
    hidden = fields.Nested(HiddenSchema)
    diagnosis = fields.List(fields.Nested(DiagnosisSchema))
    feedback = fields.String()
    sandbox = fields.Nested(SandboxVerdictSchema)
    stdout = fields.String()
    error = fields.Nested(StudentErrorSchema, allow_none=True)
    replay = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={
        "description": "how to grade it again: exercise version, engine and numpy versions, "
                       "the visible cases' seeds"})
    instructor = fields.Nested(InstructorViewSchema, metadata={
        "description": "only with the instructor token: the hidden runs' output and errors, "
                       "every case's seed"})
    failure = fields.String(allow_none=True,
                            metadata={"description": "why it was rejected or failed"})
    callback = fields.Nested(CallbackDeliverySchema, allow_none=True, metadata={
        "description": "only with the instructor token, for a submission with a "
                       "callback_url: how the delivery of its result stands"})
    timings = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class SubmissionRowSchema(Schema):
    """A submission in an instructor's listing."""

    id = fields.String(required=True)
    exercise = fields.String(required=True)
    exercise_version = fields.Integer(required=True)
    student = fields.String(allow_none=True, required=True)
    status = fields.String(required=True)
    score = fields.Float(allow_none=True, required=True)
    created_at = UtcDateTime(required=True)
    grading_ms = fields.Float(allow_none=True, required=True)
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class PageSchema(Schema):
    """A page of a listing."""

    items = fields.List(fields.Nested(SubmissionRowSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


@dataclass(frozen=True)
class SubmissionQuery:
    """Filters and page of the submission listing (through :class:`SubmissionQuerySchema`)."""

    exercise: str | None = None
    student: str | None = None
    status: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    page: int = 1
    page_size: int = 50


class SubmissionQuerySchema(StrictSchema):
    """Filters of the submission listing; loads a :class:`SubmissionQuery`."""

    exercise = fields.String(validate=EXERCISE_ID)
    student = student_name()
    status = fields.String(validate=validate.OneOf(SUBMISSION_STATUSES))
    since = fields.DateTime(metadata={"description": "ISO 8601, UTC"})
    until = fields.DateTime(metadata={"description": "ISO 8601, UTC"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))

    @post_load
    def _query(self, data: dict[str, Any], **_: object) -> SubmissionQuery:
        return SubmissionQuery(**data)


# --- gradebook and students --------------------------------------------------------------


class GradeSchema(Schema):
    """One student's standing on one exercise."""

    student = fields.String(required=True)
    exercise = fields.String(required=True)
    best = fields.Float(required=True)
    latest = fields.Float(required=True)
    submissions = fields.Integer(required=True)
    last_submitted = UtcDateTime(required=True)


class GradebookSchema(Schema):
    """GET /api/v1/gradebook."""

    items = fields.List(fields.Nested(GradeSchema), required=True)


class StudentRequestSchema(StrictSchema):
    """POST /api/v1/students."""

    name = student_name(required=True)


class StudentCreatedSchema(Schema):
    """A registered student and their token, shown this once."""

    name = fields.String(required=True)
    token = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class StudentRowSchema(Schema):
    """A registered student (never the token)."""

    name = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class StudentListSchema(Schema):
    """GET /api/v1/students."""

    items = fields.List(fields.Nested(StudentRowSchema), required=True)


# --- reference runs ----------------------------------------------------------------------


#: What apispec does not say of the option dicts' Length validator (it writes maxLength,
#: which does not apply to objects).
_OPTIONS_DOC = {"maxProperties": 20}


class ComponentSchema(StrictSchema):
    """A schedule, regulariser or clipping, with its options."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    options = fields.Dict(keys=fields.String(validate=validate.Length(max=40)),
                          values=_option_value(), load_default=dict,
                          validate=validate.Length(max=20), metadata=_OPTIONS_DOC)


class ReferenceRequestSchema(StrictSchema):
    """POST /api/v1/reference/runs: a sweep of the reference engine."""

    # an exercise's own problem is named "<exercise-id>/<name>" (up to 63 + 1 + 63)
    problem = fields.String(required=True, validate=validate.Length(min=1, max=128),
                            metadata={"example": "linear-regression"})
    optimizer = fields.String(required=True, validate=validate.Length(min=1, max=40),
                              metadata={"example": "sgd"})
    problem_options = fields.Dict(keys=fields.String(validate=validate.Length(max=40)),
                                  values=_option_value(), load_default=dict,
                                  validate=validate.Length(max=20), metadata=_OPTIONS_DOC)
    hyper = fields.Dict(keys=fields.String(validate=validate.Length(max=40)),
                        values=_option_value(), load_default=dict,
                        validate=validate.Length(max=20), metadata=_OPTIONS_DOC)
    schedule = fields.Nested(ComponentSchema, load_default=None)
    regularizer = fields.Nested(ComponentSchema, load_default=None)
    clip = fields.Nested(ComponentSchema, load_default=None)
    learning_rates = fields.List(fields.Float(allow_nan=False,
                                              metadata={"exclusiveMinimum": 0}),
                                 load_default=None,
                                 validate=validate.Length(min=1),
                                 metadata={"example": [0.01, 0.1, 0.5]})
    epochs = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1))
    init = fields.String(load_default="shared", validate=validate.OneOf(["shared", "legacy"]))
    seed = fields.Integer(strict=True, load_default=None, allow_none=True,
                          validate=validate.Range(min=0, max=2**32 - 1))
    x0 = fields.List(fields.Float(allow_nan=False), load_default=None, allow_none=True,
                     validate=validate.Length(min=1, max=100))
    batch_size = fields.Integer(strict=True, load_default=None, allow_none=True,
                                validate=validate.Range(min=1))
    tolerance = fields.Float(load_default=None, allow_nan=False,
                             validate=validate.Range(min=0, max=1, min_inclusive=False,
                                                     max_inclusive=False),
                             metadata={"description": "relative tolerance of 'converged' "
                                                      "and steps_to_tolerance",
                                       # apispec writes Range's bounds as inclusive
                                       "exclusiveMinimum": 0, "exclusiveMaximum": 1})

    @validates_schema
    def _learning_rates_positive(self, data: dict, **_: object) -> None:
        for lr in data.get("learning_rates") or ():
            if not lr > 0:
                raise ValidationError("Every learning rate must be a number above 0.",
                                      "learning_rates")


class NumbersText(fields.Field):
    """A list of numbers written as text, separated by commas or spaces (``0.01, 0.1``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any,
                     **kwargs: Any) -> list[float]:
        try:
            return [float(part) for part in str(value).replace(",", " ").split()]
        except ValueError:
            raise ValidationError("write numbers separated by commas, e.g. "
                                  "0.01, 0.1, 0.5") from None


class ReferenceFormSchema(StrictSchema):
    """The reference explorer's form (text fields) as the body of
    :class:`ReferenceRequestSchema`, which then validates it like any other request."""

    problem = fields.String(required=True)
    optimizer = fields.String(required=True)
    hyper = Assignments(load_default=dict)
    learning_rates = NumbersText(required=True)
    epochs = fields.Integer(required=True)


class ReferenceRunSchema(Schema):
    """A reference sweep: the request as resolved, every run, stability facts, links."""

    id = fields.String(required=True)
    cached = fields.Boolean(required=True)
    request = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    result = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True, metadata={
        "description": "problem, optimizer, hyper, runs (lr, losses, params, final_params, "
                       "final_loss, outcome, steps_to_tolerance, diverged_at, expected_stable), "
                       "stability, versions"})
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


# --- the job queue -----------------------------------------------------------------------


class RunningJobSchema(Schema):
    """A submission being graded."""

    id = fields.String(required=True)
    exercise = fields.String(required=True)
    worker = fields.String(allow_none=True, required=True)
    started_at = UtcDateTime(allow_none=True, required=True)
    attempts = fields.Integer(required=True)


class WorkerSchema(Schema):
    """A live grading worker."""

    name = fields.String(required=True)
    host = fields.String(required=True)
    pid = fields.Integer(required=True)
    jobs_done = fields.Integer(required=True)
    last_heartbeat = UtcDateTime(required=True)
    current = fields.String(allow_none=True, required=True,
                            metadata={"description": "the submission it grades (its number)"})


class QueueSchema(Schema):
    """GET /api/v1/queue."""

    mode = fields.String(required=True, validate=validate.OneOf(["embedded", "queue"]),
                         metadata={"description": "embedded: graded in the web server"})
    redis = fields.Boolean(allow_none=True, required=True)
    queued = fields.Integer(required=True)
    oldest_queued_seconds = fields.Float(allow_none=True, required=True)
    in_redis = fields.Integer(allow_none=True, required=True,
                              metadata={"description": "jobs waiting in Redis"})
    running = fields.List(fields.Nested(RunningJobSchema), required=True)
    workers = fields.List(fields.Nested(WorkerSchema), required=True)
    callbacks = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                            metadata={"description": "callback deliveries pending and "
                                                     "failed (every attempt used)"})
