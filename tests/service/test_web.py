"""The web pages, through Flask's test client: they render, the form POSTs work without
JavaScript (a 303 to the result page), the page script's JSON submit, errors re-rendered
with the code kept, CSRF, signing in, the instructors' pages, HTML error pages (while /api
stays JSON), the reference explorer's bad input, and escaping of what students write."""

from __future__ import annotations

import csv
import html
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from .conftest import API, INSTRUCTOR, INSTRUCTOR_TOKEN, assert_error, source

SOLUTION = source("gd")
ASCENT = source("gd", "mistakes/ascent.py")
SYNTAX_ERROR = "def update(params, grad, lr, state, **hyper)\n    return params\n"
#: A correct solution whose comment and string would run if the pages did not escape them.
HOSTILE = ('# </textarea><script>window.pwned = 1</script> & "quotes" \'too\'\n'
           + SOLUTION + 'NOTE = "<img src=x onerror=alert(1)>"\n')
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def csrf_of(page: str) -> str:
    """The CSRF token of a page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def get_page(client: FlaskClient, path: str, status: int = 200) -> str:
    """GET ``path`` as a browser does: an HTML page with ``status``."""
    response = client.get(path, headers=HTML)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def form_post(client: FlaskClient, path: str, data: dict[str, str], csrf_from: str,
              headers: dict[str, str] | None = None):
    """POST a form as its page would, with the CSRF token of the page at ``csrf_from``."""
    token = csrf_of(get_page(client, csrf_from))
    return client.post(path, data={"csrf": token, **data}, headers=headers or HTML)


def submit_form(client: FlaskClient, code: str, student: str = "",
                headers: dict[str, str] | None = None):
    """Send the gd exercise's form."""
    return form_post(client, "/exercises/gd/submit", {"code": code, "student": student},
                     "/exercises/gd", headers)


def sign_in(client: FlaskClient, token: str, next_page: str = ""):
    """Send the sign-in form."""
    path = "/login" + (f"?next={next_page}" if next_page else "")
    return form_post(client, path, {"token": token}, "/login")


def textarea(page: str) -> str:
    """The editor's content, unescaped (what the browser shows)."""
    found = re.search(r'<textarea id="code"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, page[:2000]
    return html.unescape(found.group(1))


@pytest.fixture
def browser(app) -> FlaskClient:
    """A client of its own (its own cookies: session, CSRF token, sign-in)."""
    return app.test_client()


@pytest.fixture(scope="module")
def result_page(app) -> dict[str, str]:
    """The gd solution sent by the form (no JavaScript) by 'ada.lovelace': the redirect's
    target, and the page it shows its author."""
    author = app.test_client()
    response = submit_form(author, SOLUTION, student="ada.lovelace")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    location = response.headers["Location"]
    return {"location": location, "page": get_page(author, location)}


# --- pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/exercises/gd", "/exercises/momentum", "/reference",
                                  "/login"])
def test_the_pages_render(browser, path):
    page = get_page(browser, path)
    assert page.startswith("<!doctype html>")
    assert "Traceback" not in page


def test_the_index_links_every_exercise(browser, app):
    page = get_page(browser, "/")
    for exercise_id in app.extensions["gdlab"].catalog.exercises:
        assert f'href="/exercises/{exercise_id}"' in page


def test_the_index_lists_the_exercises_in_course_order(browser):
    page = get_page(browser, "/")
    links = re.findall(r'href="/exercises/([a-z0-9-]+)"', page)
    assert links[:4] == ["gd", "mse-gradient", "anscombe-gradient", "l2-gd"]
    assert links.index("momentum") < links.index("adam") < links.index("adamw")
    assert links[-1] == "himmelblau-momentum" and len(links) == 15


def test_the_exercise_page_has_the_starter_in_its_editor(browser):
    page = get_page(browser, "/exercises/gd")
    assert textarea(page) == source("gd", "starter.py")
    assert 'action="/exercises/gd/submit"' in page and 'method="post"' in page


# --- submitting ---------------------------------------------------------------------------


def test_a_form_submit_redirects_to_the_result_page(result_page):
    assert re.fullmatch(r"/submissions/[\w-]+", result_page["location"])
    page = result_page["page"]
    assert re.search(r'<span class="score" id="score">100</span> / 100', page)
    assert "by ada.lovelace" in page
    assert f'<a href="{API}/submissions/{result_page["location"].rsplit("/", 1)[1]}">as JSON</a>' \
        in page
    assert textarea_free_code(page) == SOLUTION  # its author sees the code


def textarea_free_code(page: str) -> str:
    """The code shown on a result page, unescaped."""
    found = re.search(r'<pre class="code"><code>(.*?)</code></pre>', page, re.S)
    assert found, "the code is not on the page"
    return html.unescape(found.group(1))


def test_the_result_page_shows_its_plot_to_a_browser(result_page, app):
    plot = re.search(r'<img src="([^"]+)" alt="([^"]+)"', result_page["page"])
    assert plot, "no plot with alt text"
    assert "score 100 of 100" in plot.group(2)
    response = app.test_client().get(plot.group(1))
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG")


def test_someone_else_sees_the_result_but_not_the_code(result_page, browser):
    page = get_page(browser, result_page["location"])
    assert 'id="score">100<' in page
    assert 'id="code-title"' not in page and "return params - lr * grad" not in page


def test_the_page_scripts_submit_gets_the_result_as_json(browser):
    response = submit_form(browser, ASCENT, headers=JSON)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "graded" and body["score"] < 100
    assert "sign-flip" in [d["id"] for d in body["diagnosis"]]
    assert body["page"] == f"/submissions/{body['id']}"
    plot = browser.get(body["plot"])
    assert plot.status_code == 200 and plot.mimetype == "image/png"
    # and its result page says what went wrong
    assert "sign-flip" in get_page(browser, body["page"])


def test_a_syntax_error_rerenders_the_editor_with_the_code_and_its_line(browser):
    response = submit_form(browser, SYNTAX_ERROR, student="bob")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert textarea(page) == SYNTAX_ERROR
    error = re.search(r'<div class="alert" role="alert" id="error">(.*?)</div>', page, re.S)
    assert error and "line 1" in error.group(1).lower()
    assert 'name="student" value="bob"' in page


def test_a_syntax_error_asked_as_json_is_a_json_422(browser):
    response = submit_form(browser, SYNTAX_ERROR, headers=JSON)
    assert response.status_code == 422
    body = response.get_json()
    assert "line 1" in body["message"].lower()
    assert "line 1" in body["errors"]["code"][0].lower()


def test_an_unknown_exercise_has_no_page_and_no_form(browser):
    get_page(browser, "/exercises/no-such-thing", 404)
    token = csrf_of(get_page(browser, "/exercises/gd"))
    response = browser.post("/exercises/no-such-thing/submit",
                            data={"csrf": token, "code": SOLUTION}, headers=HTML)
    assert response.status_code == 404 and response.mimetype == "text/html"


# --- CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/exercises/gd/submit", "/login", "/logout"])
@pytest.mark.parametrize("sent", [None, "", "forged-token"])
def test_a_form_without_this_sessions_csrf_token_is_a_403(browser, path, sent):
    get_page(browser, "/exercises/gd")  # the session has a CSRF token of its own
    data = {"code": SOLUTION, "token": INSTRUCTOR_TOKEN}
    if sent is not None:
        data["csrf"] = sent
    response = browser.post(path, data=data, headers=HTML)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "reload the page" in response.get_data(as_text=True)
    assert browser.get("/instructor").status_code == 303  # not signed in


def test_another_sessions_csrf_token_is_a_403(app):
    first, second = app.test_client(), app.test_client()
    token = csrf_of(get_page(first, "/exercises/gd"))
    get_page(second, "/exercises/gd")
    response = second.post("/exercises/gd/submit", data={"csrf": token, "code": SOLUTION},
                           headers=HTML)
    assert response.status_code == 403


# --- escaping -----------------------------------------------------------------------------


def test_code_with_markup_is_shown_as_text(app):
    author = app.test_client()
    response = submit_form(author, HOSTILE, student="mallory")
    assert response.status_code == 303
    for viewer in (author, instructor_client(app)):
        page = get_page(viewer, response.headers["Location"])
        assert "<script>window.pwned" not in page and "<img src=x" not in page
        assert "&lt;/textarea&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt; &amp;" in page
        assert textarea_free_code(page) == HOSTILE


def test_code_with_markup_is_kept_as_text_in_the_editor_after_an_error(browser):
    code = "</textarea><script>window.pwned = 1</script>\ndef update(:\n"
    response = submit_form(browser, code)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<script>window.pwned" not in page
    assert textarea(page) == code


def test_a_name_with_markup_is_refused_and_shown_back_as_text(browser):
    name = 'Tom & Jerry "<b>"'
    response = submit_form(browser, SOLUTION, student=name)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Name:" in page
    assert 'value="Tom &amp; Jerry &#34;&lt;b&gt;&#34;"' in page
    assert "<b>" not in page


def test_the_instructors_filter_is_shown_back_as_text(app):
    page = get_page(instructor_client(app), "/instructor?student=%22%3E%3Cscript%3Ex%3C/script%3E")
    assert "<script>x" not in page
    assert 'value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in page


# --- signing in and the instructors' pages ----------------------------------------------------


def instructor_client(app) -> FlaskClient:
    """A client signed in with the instructors' token."""
    client = app.test_client()
    response = sign_in(client, INSTRUCTOR_TOKEN)
    assert response.status_code == 303 and response.headers["Location"] == "/instructor"
    return client


@pytest.mark.parametrize("path", ["/instructor", "/instructor/gradebook.csv",
                                  "/instructor?exercise=gd"])
def test_the_instructors_pages_send_others_to_the_sign_in(browser, path):
    response = browser.get(path, headers=HTML)
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query) == {"next": [path]}


def test_a_wrong_token_is_a_401_page(browser):
    response = sign_in(browser, "not-the-token")
    assert response.status_code == 401
    assert response.mimetype == "text/html"
    assert "This token is not valid" in response.get_data(as_text=True)
    assert browser.get("/instructor").status_code == 303


def test_an_empty_token_is_refused(browser):
    response = sign_in(browser, "")
    assert response.status_code == 401
    assert "Enter your token" in response.get_data(as_text=True)


def test_signing_in_goes_back_to_the_page_asked_for_but_never_off_site(app):
    client = app.test_client()
    assert sign_in(client, INSTRUCTOR_TOKEN, "/instructor?exercise=gd"
                   ).headers["Location"] == "/instructor?exercise=gd"
    for target in ("//evil.example/x", "https://evil.example/"):
        client = app.test_client()
        assert sign_in(client, INSTRUCTOR_TOKEN, target).headers["Location"] == "/instructor"


def test_the_instructors_see_submissions_and_the_gradebook(app, result_page):
    client = instructor_client(app)
    page = get_page(client, "/instructor")
    public_id = result_page["location"].rsplit("/", 1)[1]
    assert f'href="/submissions/{public_id}"' in page
    gradebook = re.search(r'<table id="gradebook".*?</table>', page, re.S)
    assert gradebook and "<td>ada.lovelace</td><td>gd</td><td>100</td>" in gradebook.group(0)
    assert 'href="/instructor/gradebook.csv"' in page
    # the instructors see a student's code
    assert textarea_free_code(get_page(client, result_page["location"])) == SOLUTION


def test_the_gradebook_downloads_as_csv(app, result_page):
    response = instructor_client(app).get("/instructor/gradebook.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="gradebook.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == ["student", "exercise", "best", "latest", "submissions",
                             "last_submitted"]
    ada = [row for row in rows if row["student"] == "ada.lovelace"]
    assert len(ada) == 1 and ada[0]["exercise"] == "gd" and float(ada[0]["best"]) == 100
    assert ada[0]["last_submitted"].endswith("Z")


def test_a_bad_filter_is_shown_not_a_500(app):
    page = get_page(instructor_client(app), "/instructor?since=yesterday&page=0")
    assert re.search(r'<div class="alert" role="alert">[^<]*since', page)


def test_signing_out_forgets_the_token(app):
    client = instructor_client(app)
    response = form_post(client, "/logout", {}, "/instructor")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get("/instructor").status_code == 303


def test_a_signed_in_student_submits_under_their_name_and_sees_their_plot(app):
    name = "grace.hopper"
    answer = app.test_client().post(f"{API}/students", json={"name": name}, headers=INSTRUCTOR)
    assert answer.status_code == 201
    student = app.test_client()
    assert sign_in(student, answer.get_json()["token"]).headers["Location"] == "/"
    assert f"Submitting as <strong>{name}</strong>" in get_page(student, "/exercises/gd")
    response = submit_form(student, SOLUTION)
    assert response.status_code == 303
    location = response.headers["Location"]
    page = get_page(student, location)
    assert f"by {name}" in page
    assert ">as JSON</a>" not in page  # the API would ask for the bearer token
    plot = re.search(r'<img src="([^"]+)"', page).group(1)
    assert student.get(plot).status_code == 200  # the browser sends no bearer token
    # nobody else sees a registered student's submission, its plot or its code
    stranger = app.test_client()
    get_page(stranger, location, 404)
    assert stranger.get(plot, headers=HTML).status_code == 404
    # but the instructors do
    teacher = instructor_client(app)
    assert teacher.get(plot).status_code == 200
    assert textarea_free_code(get_page(teacher, location)) == SOLUTION


def test_a_plot_in_another_format_is_a_404(result_page, browser):
    assert browser.get(result_page["location"] + "/plot.gif",
                       headers=HTML).status_code == 404
    svg = browser.get(result_page["location"] + "/plot.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"


# --- error pages ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/no-such-page", "/exercises/no-such-thing",
                                  "/submissions/no-such-id"])
def test_the_web_error_pages_are_html(browser, path):
    page = get_page(browser, path, 404)
    assert "<h1>404 Not Found</h1>" in page


@pytest.mark.parametrize("path", [f"{API}/no-such-thing", f"{API}/submissions/no-such-id",
                                  f"{API}/exercises/no-such-thing"])
def test_the_api_errors_stay_json_even_for_a_browser(browser, path):
    assert_error(browser.get(path, headers=HTML), 404)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_a_program_asking_for_a_missing_page_gets_json(browser, accept):
    headers = {"Accept": accept} if accept else {}
    assert_error(browser.get("/no-such-page", headers=headers), 404)


def test_a_wrong_method_on_a_page_is_an_html_405(browser):
    response = browser.get("/exercises/gd/submit", headers=HTML)
    assert response.status_code == 405 and response.mimetype == "text/html"


# --- the reference explorer -------------------------------------------------------------


def test_the_reference_explorer_runs_and_links_its_json(browser):
    page = get_page(browser, "/reference?problem=quadratic&optimizer=sgd&hyper=momentum%3D0.9"
                             "&learning_rates=0.01%2C+0.1&epochs=50")
    assert 'id="error"' not in page
    table = re.search(r'<table class="runs">.*?</table>', page, re.S).group(0)
    assert table.count("<tr>") == 3  # a header and a row per learning rate
    image = re.search(r'<img src="([^"]+)"[^>]*alt="([^"]+)"', page, re.S)
    assert image and "0.01" in image.group(2) and "0.1" in image.group(2)
    assert browser.get(image.group(1)).mimetype == "image/png"
    run = re.search(r'<a href="([^"]+)" id="json-link">', page).group(1)
    body = browser.get(run).get_json()
    assert body["result"]["optimizer"] == "sgd"
    assert [r["lr"] for r in body["result"]["runs"]] == [0.01, 0.1]


@pytest.mark.parametrize(("query", "message"), [
    ("problem=no-such-problem", "problem"),
    ("optimizer=no-such-optimizer", "optimizer"),
    ("learning_rates=fast", "learning_rates"),
    ("learning_rates=", "learning_rates"),
    ("learning_rates=nan", "learning_rates"),
    ("learning_rates=1e999", "learning_rates"),
    ("epochs=many", "epochs"),
    ("epochs=99999999999", "epochs"),
    ("hyper=momentum", "hyper"),
    ("hyper=momentum%3Dnan", "hyper.momentum"),
    ("hyper=momentum%3D1e999", "hyper.momentum"),
    ("hyper=unknown%3D1", "hyper.unknown"),
    ("hyper=momentum%3D%5B1%5D", "hyper.momentum"),
    ("hyper=%3C/textarea%3E%3Cscript%3Ex%3D1", "hyper"),
])
def test_bad_input_to_the_reference_explorer_is_shown(browser, query, message):
    defaults = {"problem": "linear-regression", "optimizer": "sgd", "epochs": "20"}
    given = dict(part.split("=", 1) for part in query.split("&"))
    path = "/reference?" + "&".join(f"{k}={v}" for k, v in {**defaults, **given}.items())
    page = get_page(browser, path)
    error = re.search(r'<div class="alert" role="alert" id="error">(.*?)</div>', page, re.S)
    assert error, "no error shown"
    assert html.unescape(error.group(1)).startswith(message)
    assert "<script>" not in page and "<table class=\"runs\">" not in page
