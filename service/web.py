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
from typing import Any, NoReturn
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

from grader.catalog import Exercise
from grader.engine import OPTIMIZERS, PROBLEMS
from grader.engine.problems import REGISTERED
from service import csp
from service import operations as ops
from service.api.common import image_response, submission_links
from service.auth import Caller, identify
from service.errors import ApiError
from service.models import Submission
from service.schemas import SubmissionQuery
from service.state import services

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")
csp.protect(bp)

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


def _page_exercise(exercise_id: str) -> Exercise:
    try:
        return ops.find_exercise(services(), exercise_id)
    except ApiError as error:
        _abort(error)


def _abort(error: ApiError) -> NoReturn:
    """An operation's refusal as this page's error (an HTML page, or JSON for a script)."""
    abort(error.status, error.message)


@bp.route("/exercises/<exercise_id>/submit", methods=["POST"])
def submit(exercise_id: str):
    """Grade the form's code: a redirect to the result page, or (asked for JSON by the
    page's script) the result itself. Errors re-render the editor with the code kept."""
    check_csrf()
    exercise = _page_exercise(exercise_id)
    code = request.form.get("code", "")
    student = request.form.get("student", "").strip() or None
    who = web_caller()
    try:
        sent = ops.submission_request({"exercise": exercise.id, "code": code,
                                       **({"student": student} if student else {})})
        if student is not None:
            session["student"] = student
        # the page does not wait for a queue worker: its page follows the submission
        submission = ops.submit(services(), who, sent, wait=0.0)
    except ApiError as error:
        return _form_error(exercise, code, student, _labelled(error))
    _remember(submission)
    page = url_for("web.submission_page", public_id=submission.public_id)
    status = 201 if submission.status == "graded" else 202
    if _wants_json():
        result = {**_view(who, submission), "page": page}
        if status == 201:
            result["plot"] = url_for("web.submission_plot", public_id=submission.public_id,
                                     fmt="png")
        return jsonify(result), status
    return redirect(page, 303)


def _view(who: Caller, submission: Submission) -> dict[str, Any]:
    """The submission as ``who`` may see it, with the API's links."""
    return ops.submission_view(services(), who, submission,
                               submission_links(submission.public_id, submission.exercise))


def _labelled(error: ApiError) -> ApiError:
    """A refused form field under the form's label (the student field reads "Name")."""
    if error.status == 422 and "student" in error.errors:
        return ApiError(422, f"Name: {error.errors['student'][0]}", error.errors,
                        error.headers)
    return error


def _form_error(exercise: Exercise, code: str, student: str | None, error: ApiError):
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
    try:
        found = ops.visible_submission(services(), who, public_id)
    except ApiError as error:
        _abort(error)
    result = _view(who, found)
    if _wants_json():  # the page's script following a queued submission
        return jsonify({**result, "page": url_for("web.submission_page", public_id=public_id),
                        "plot": url_for("web.submission_plot", public_id=public_id,
                                        fmt="png")})
    show_code = ops.may_see_code(who, found, made_here=public_id in session.get("mine", []))
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
    try:
        drawn = ops.submission_plot(services(), web_caller(), public_id, fmt)
    except ApiError as error:
        _abort(error)
    return image_response(drawn.data, drawn.media_type, drawn.etag)


@bp.route("/submissions/<public_id>/curves.json")
def submission_curves(public_id: str) -> Response:
    """A submission's visible loss curves as data, for the page's interactive chart (seen
    as the signed-in browser may see it, like its plot)."""
    try:
        curves = ops.submission_curves(services(), web_caller(), public_id)
    except ApiError as error:
        _abort(error)
    # a graded submission's curves never change: kept by the browser, like its plot
    response = jsonify(curves)
    response.add_etag()
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response.make_conditional(request)


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
    state, who = services(), web_caller()
    try:
        query = ops.submission_query(raw)
    except ApiError as error:
        query, problem = SubmissionQuery(), "; ".join(
            f"{field}: {' '.join(map(str, texts))}" for field, texts in error.errors.items())
    else:
        problem = None
    listed = ops.list_submissions(state, who, query)
    book = ops.gradebook(state, who)
    pages, page = listed.pages, listed.page

    def page_link(number: int) -> str:
        return url_for("web.instructor_page") + "?" + urlencode({**raw, "page": number})

    return render_template("instructor.html", items=listed.items, total=listed.total,
                           page=page, pages=pages, filters=raw, problem=problem,
                           gradebook=book,
                           previous=page_link(page - 1) if page > 1 else None,
                           next=page_link(page + 1) if page < pages else None,
                           exercises=list(state.catalog.exercises),
                           queue=ops.queue_stats(state, who))


@bp.route("/instructor/gradebook.csv")
def gradebook_csv():
    """The gradebook as CSV (the instructors' session, for a download link)."""
    if (redirection := _instructor_or_login()) is not None:
        return redirection
    text = ops.gradebook_csv(services(), web_caller())
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="gradebook.csv"'})


# --- the reference explorer ---------------------------------------------------------------


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
            # the same schema (and NAME=VALUE syntax) as the API's and the CLI's
            body = ops.reference_request_from_form(form)
            stored = ops.run_reference(services(), body)
        except ApiError as refused:
            error = refused.message
    return render_template(
        "reference.html", form=form, stored=stored, error=error,
        problems=[*sorted(PROBLEMS), *sorted(REGISTERED)], optimizers=OPTIMIZERS,
        request_json=json.dumps({name: body[name] for name in form}) if body else None,
        run_url=(url_for("reference.run", run_id=stored.id, _external=True)
                 if stored else None),
        post_url=url_for("reference.runs_", _external=True))
