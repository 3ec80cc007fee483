"""The web pages: exercises with an editor and in-place results, the reference explorer,
and the instructors' pages. Server-rendered (Jinja, autoescaped), so that everything works
without JavaScript; ``static/gdlab.js`` only improves it (drafts kept in the browser, Tab
indents, results without a page load).

Signing in stores the token in the session cookie (signed, HttpOnly, SameSite=Lax); every
form that changes something carries a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markdown_it import MarkdownIt
from marshmallow import ValidationError

from grader.engine import OPTIMIZERS, PROBLEMS, SpecError
from grader.engine.problems import REGISTERED
from grader.plots import FORMATS
from service import queue as jobs
from service import reference as runs
from service import submissions as store
from service.api.exercises import get_exercise
from service.api.submissions import (
    _checked_code,
    _exercise,
    _failure,
    _student_of,
    image_response,
    links,
    shown,
)
from service.auth import Caller, identify
from service.errors import ApiError
from service.models import Submission
from service.schemas import STUDENT_NAME, SubmissionQuerySchema
from service.state import services

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

#: CommonMark without raw HTML: an exercise's statement cannot inject markup.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


# --- who is signed in, and CSRF -----------------------------------------------------------


def web_caller() -> Caller:
    """The signed-in caller (anonymous without a token, or with one no longer valid)."""
    token = session.get("token")
    if not token:
        return Caller()
    state = services()
    try:
        with state.db.session() as db_session:
            return identify(db_session, state.instructor_hash, token)
    except ApiError:
        session.pop("token", None)
        return Caller()


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a form POST without this session's CSRF token (403)."""
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(403, "This form has expired (or came from another site): reload the page "
                   "and send it again.")


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "caller": web_caller}


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


# --- exercises and submissions ----------------------------------------------------------


@bp.route("/")
def index() -> str:
    """The exercises."""
    # The catalog is in course order already.
    return render_template("index.html", exercises=list(services().catalog.exercises.values()))


@bp.route("/exercises/<exercise_id>")
def exercise_page(exercise_id: str) -> str:
    """An exercise: statement, contract, visible cases, and the editor."""
    exercise = _page_exercise(exercise_id)
    return render_template("exercise.html", exercise=exercise,
                           statement=_MARKDOWN.render(exercise.statement),
                           code=exercise.starter, student=session.get("student", ""),
                           error=None)


def _page_exercise(exercise_id: str):
    try:
        return get_exercise(exercise_id)
    except ApiError as error:
        abort(404, error.message)


@bp.route("/exercises/<exercise_id>/submit", methods=["POST"])
def submit(exercise_id: str):
    """Grade the form's code: a redirect to the result page, or (asked for JSON by the
    page's script) the result itself. Errors re-render the editor with the code kept."""
    check_csrf()
    exercise = _page_exercise(exercise_id)
    code = request.form.get("code", "")
    student = request.form.get("student", "").strip() or None
    try:
        if student is not None:
            try:
                STUDENT_NAME(student)
            except ValidationError as error:
                raise ApiError(422, f"Name: {error.messages[0]}",
                               {"student": error.messages}) from None
            session["student"] = student
        who, student_id = _student_of(web_caller(), student)
        _exercise(exercise.id)
        if services().queue is not None:
            return _queued(store.keep(services(), exercise, _checked_code(code), who,
                                      student_id, queued=True))
        graded = store.grade(services(), exercise, _checked_code(code), who, student_id)
    except store.GradingFailedError as failed:
        return _form_error(exercise, code, student, _failure(failed))
    except ApiError as error:
        return _form_error(exercise, code, student, error)
    result = store.representation(graded.submission, links(graded.submission))
    _remember(graded.submission)
    if _wants_json():
        result["page"] = url_for("web.submission_page", public_id=graded.submission.public_id)
        result["plot"] = url_for("web.submission_plot", public_id=graded.submission.public_id,
                                 fmt="png")
        return jsonify(result), 201
    return redirect(url_for("web.submission_page", public_id=graded.submission.public_id),
                    303)


def _queued(kept: Submission):
    """A submission kept for the queue: enqueued, and its page (which follows it until it
    is graded), or for the page's script, its state (202)."""
    jobs.try_enqueue(services().queue, kept.id, 1, jobs.timeout_of(services().config))
    _remember(kept)
    page = url_for("web.submission_page", public_id=kept.public_id)
    if _wants_json():
        return jsonify({**shown(kept), "page": page}), 202
    return redirect(page, 303)


def _form_error(exercise, code: str, student: str | None, error: ApiError):
    if _wants_json():
        response = jsonify(code=error.status, message=error.message, errors=error.errors)
        response.status_code = error.status
        response.headers.update(error.headers)
        return response
    page = render_template("exercise.html", exercise=exercise,
                           statement=_MARKDOWN.render(exercise.statement), code=code,
                           student=student or "", error=error)
    return Response(page, status=error.status, headers=error.headers)


def _remember(submission: Submission) -> None:
    """This browser made this submission: it may see it again (and its code)."""
    mine = session.get("mine", [])[-49:]
    session["mine"] = [*mine, submission.public_id]


@bp.route("/submissions/<public_id>")
def submission_page(public_id: str) -> str:
    """A submission's result: score, verdicts, diagnosis, plot, and the code (for its
    author and the instructors)."""
    who = web_caller()
    with services().db.session() as db_session:
        found = store.find(db_session, public_id)
    if found is None or not _may_see(who, found):
        abort(404, "There is no such submission that you can see.")
    result = shown(found, instructor=who.is_instructor)
    if _wants_json():  # the page's script following a queued submission
        return jsonify({**result, "page": url_for("web.submission_page", public_id=public_id),
                        "plot": url_for("web.submission_plot", public_id=public_id,
                                        fmt="png")})
    show_code = who.is_instructor or public_id in session.get("mine", []) or (
        found.student_id is not None and found.student_id == who.student_id)
    exercise = services().catalog.exercises.get(found.exercise)
    return render_template("submission.html", result=result, submission=found,
                           title=exercise.title if exercise else found.exercise,
                           code=found.code if show_code else None,
                           alt=_plot_alt(result),
                           plot_png=url_for("web.submission_plot", public_id=public_id,
                                            fmt="png"),
                           plot_svg=url_for("web.submission_plot", public_id=public_id,
                                            fmt="svg"))


@bp.route("/submissions/<public_id>/plot.<fmt>")
def submission_plot(public_id: str, fmt: str) -> Response:
    """A submission's plot for the pages: seen as the signed-in browser may see it (the
    API's plot needs a bearer token, which an ``<img>`` cannot send)."""
    if fmt not in FORMATS:
        abort(404, f"Plots come as {' or '.join(FORMATS)}, not {fmt!r}.")
    who = web_caller()
    with services().db.session() as db_session:
        found = store.find(db_session, public_id)
    if found is None or not _may_see(who, found):
        abort(404, "There is no such submission that you can see.")
    try:
        drawn = store.plot(services(), found, fmt)
    except store.PlotUnavailableError as error:
        abort(409, str(error))
    return image_response(drawn.data, drawn.media_type, drawn.etag)


def _may_see(who: Caller, submission: Submission) -> bool:
    if who.is_instructor or submission.student_id is None:
        return True
    return submission.student_id == who.student_id


def _plot_alt(result: dict[str, Any]) -> str:
    runs_text = "; ".join(f"learning rate {run['lr']:g}: {run['verdict']}"
                          for run in result.get("runs", []))
    score = result.get("score")
    return (f"Loss curves of this submission (solid) over the reference's (dashed), score "
            f"{'-' if score is None else f'{score:g}'} of 100. {runs_text}.")


# --- signing in ------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with a student's or the instructors' token."""
    error = None
    if request.method == "POST":
        check_csrf()
        token = request.form.get("token", "").strip()
        state = services()
        try:
            with state.db.session() as db_session:
                who = identify(db_session, state.instructor_hash, token) if token else Caller()
        except ApiError as refused:
            who, error = Caller(), refused.message
        if who.role != "anonymous":
            session["token"] = token
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("web.instructor_page" if who.is_instructor else "web.index")
            return redirect(target, 303)
        error = error or "Enter your token."
    status = 401 if error else 200
    return render_template("login.html", error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Forget the token."""
    check_csrf()
    session.pop("token", None)
    return redirect(url_for("web.index"), 303)


def _instructor_or_login() -> Response | None:
    if web_caller().is_instructor:
        return None
    return redirect(url_for("web.login", next=request.full_path.rstrip("?")), 303)


# --- instructors -----------------------------------------------------------------------


@bp.route("/instructor")
def instructor_page():
    """Submissions (filtered, paginated) and the gradebook."""
    if (redirection := _instructor_or_login()) is not None:
        return redirection
    raw = {key: value for key, value in request.args.items() if value}
    try:
        query = SubmissionQuerySchema().load(raw)
    except ValidationError as error:
        query, problem = {"page": 1, "page_size": 50}, "; ".join(
            f"{field}: {' '.join(map(str, texts))}" for field, texts in error.messages.items())
    else:
        problem = None
    page_size = min(query.pop("page_size"), services().config.service_limits.max_page_size)
    with services().db.session() as db_session:
        items, total = store.listing(db_session, page_size=page_size, **query)
        book = store.gradebook(db_session)
    pages = max(1, -(-total // page_size))
    page = query["page"]

    def page_link(number: int) -> str:
        return url_for("web.instructor_page") + "?" + urlencode({**raw, "page": number})

    return render_template("instructor.html", items=items, total=total, page=page,
                           pages=pages, filters=raw, problem=problem, gradebook=book,
                           previous=page_link(page - 1) if page > 1 else None,
                           next=page_link(page + 1) if page < pages else None,
                           exercises=list(services().catalog.exercises),
                           queue=jobs.stats(services().db, services().queue))


@bp.route("/instructor/gradebook.csv")
def gradebook_csv():
    """The gradebook as CSV (the instructors' session, for a download link)."""
    if (redirection := _instructor_or_login()) is not None:
        return redirection
    with services().db.session() as db_session:
        text = store.gradebook_csv(db_session)
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="gradebook.csv"'})


# --- the reference explorer ---------------------------------------------------------------


def _parse_settings(text: str) -> dict[str, Any]:
    """``momentum=0.9, nesterov=true`` as a dict (numbers and booleans)."""
    settings: dict[str, Any] = {}
    for item in text.replace("\n", ",").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise SpecError("hyper", f"write settings as name=value, got {item.strip()!r}")
        value = value.strip().lower()
        if value in ("true", "false"):
            settings[name.strip()] = value == "true"
            continue
        try:
            settings[name.strip()] = json.loads(value)
        except ValueError:
            raise SpecError(f"hyper.{name.strip()}", f"not a number: {value!r}") from None
    return settings


def _parse_rates(text: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise SpecError("learning_rates", "write numbers separated by commas, e.g. "
                                          "0.01, 0.1, 0.5") from None


@bp.route("/reference")
def reference_page():
    """Choose a problem, an optimizer, its settings and learning rates; see the curves,
    the outcomes and the stability limit, and the same query as JSON."""
    form = {"problem": request.args.get("problem", "linear-regression"),
            "optimizer": request.args.get("optimizer", "sgd"),
            "hyper": request.args.get("hyper", ""),
            "learning_rates": request.args.get("learning_rates", "0.01, 0.1, 0.5"),
            "epochs": request.args.get("epochs", "100")}
    stored, error, body = None, None, None
    if "problem" in request.args:
        try:
            body = {"problem": form["problem"], "optimizer": form["optimizer"],
                    "hyper": _parse_settings(form["hyper"]),
                    "learning_rates": _parse_rates(form["learning_rates"]),
                    "epochs": _epochs(form["epochs"])}
            stored = runs.run_reference(services().db, services().config.limits, body)
        except SpecError as refused:
            error = f"{refused.field}: {refused.message}"
    return render_template(
        "reference.html", form=form, stored=stored, error=error,
        problems=[*sorted(PROBLEMS), *sorted(REGISTERED)], optimizers=OPTIMIZERS,
        request_json=json.dumps(body) if body else None,
        run_url=(url_for("reference.run", run_id=stored.id, _external=True)
                 if stored else None),
        post_url=url_for("reference.runs_", _external=True))


def _epochs(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SpecError("epochs", f"a whole number, got {text!r}") from None
