"""What the pages' editor and charts need from the server: the curves of a result as data
(``curves.json``, seen as the plot is), the editor's and the chart's libraries served by
gdlab itself (the files recorded in VENDORED.md, with every bundled package's licence), and
the pages' Content-Security-Policy."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from grader.plots.curves import distance_to_minimum
from service import submission_store as store

from .conftest import API, INSTRUCTOR, services_of
from .test_docs_page import CSS, JAVASCRIPT, addresses
from .test_web import ASCENT, HTML, JSON, SOLUTION, get_page, sign_in, submit_form

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "service" / "static" / "vendor"
BUILD = ROOT / "scripts" / "build-editor"
#: Gives up after two steps: the third returns infinite parameters (a run that blows up).
BLOWS_UP = ("def update(params, grad, lr, state, **hyper):\n"
            "    state['n'] = state.get('n', 0) + 1\n"
            "    return params - lr * grad if state['n'] < 3 else params * float('inf')\n")


def graded(app, code: str) -> tuple[FlaskClient, str]:
    """A browser that sent ``code`` by the form, and its result page's path."""
    author = app.test_client()
    response = submit_form(author, code)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return author, response.headers["Location"]


def curves_of(author: FlaskClient, location: str) -> dict:
    """The result page's curves.json, through the address the page gives its chart."""
    page = get_page(author, location)
    found = re.search(r'<figure class="plot" data-curves="([^"]+)"', page)
    assert found, "the result page gives its chart no address"
    assert found.group(1) == location + "/curves.json"
    answer = author.get(found.group(1), headers=JSON)
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return answer.get_json()


def test_the_curves_of_a_result_are_the_runs_the_plot_draws(app) -> None:
    author, location = graded(app, ASCENT)
    curves = curves_of(author, location)
    assert [case["case"] for case in curves["cases"]] == ["course"]
    course = curves["cases"][0]
    assert course["quantity"] == "loss - minimum"
    assert [run["lr"] for run in course["runs"]] == [0.01, 0.1, 0.5, 0.9]
    # the same numbers as the grader's own result, step for step (to 7 digits)
    state = services_of(app)
    with state.db.session() as session:
        found = store.find(session, location.rsplit("/", 1)[1])
    result = store._regraded(state, found)
    for run, trace in zip(course["runs"], result.traces, strict=True):
        assert run["verdict"] == "diverged" and run["student_outcome"] == "diverged"
        assert run["first_difference"] == trace.first_disagreement == 1
        expected = distance_to_minimum(trace.student.losses, trace.plan.target)
        assert len(run["student"]) == len(expected)
        pairs = zip(run["student"], expected, strict=True)
        assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in pairs)
        assert len(run["reference"]) == len(trace.reference.losses)


def test_a_correct_solution_has_no_first_difference(app) -> None:
    author, location = graded(app, SOLUTION)
    for run in curves_of(author, location)["cases"][0]["runs"]:
        assert run["first_difference"] is None
        assert run["student"] == run["reference"]


def test_the_curves_are_kept_by_the_browser_and_asked_again_conditionally(app) -> None:
    author, location = graded(app, SOLUTION)
    first = author.get(location + "/curves.json", headers=JSON)
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, max-age=86400"
    again = author.get(location + "/curves.json",
                       headers={**JSON, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    stale = author.get(location + "/curves.json", headers={**JSON, "If-None-Match": '"x"'})
    assert stale.status_code == 200 and stale.get_json() == first.get_json()


def test_a_run_that_blows_up_gives_json_without_nan(app) -> None:
    author, location = graded(app, BLOWS_UP)
    answer = author.get(location + "/curves.json", headers=JSON)
    text = answer.get_data(as_text=True)
    assert "NaN" not in text and "Infinity" not in text
    runs = json.loads(text)["cases"][0]["runs"]
    # the finite steps are there, the run stops where it blew up
    assert all(len(run["student"]) <= 3 for run in runs)
    assert all(value is None or math.isfinite(value) for run in runs for value in run["student"])


def test_the_curves_are_seen_only_by_who_sees_the_submission(app) -> None:
    name = "curves.owner"
    token = app.test_client().post(f"{API}/students", json={"name": name},
                                   headers=INSTRUCTOR).get_json()["token"]
    owner = app.test_client()
    sign_in(owner, token)
    location = submit_form(owner, SOLUTION).headers["Location"]
    assert owner.get(location + "/curves.json").status_code == 200
    assert app.test_client().get(location + "/curves.json").status_code == 404
    assert app.test_client().get("/submissions/no-such-one/curves.json").status_code == 404


def test_the_editor_and_chart_libraries_come_from_the_server(app) -> None:
    browser = app.test_client()
    exercise = get_page(browser, "/exercises/gd")
    _, location = graded(app, SOLUTION)
    result = get_page(browser, location)
    loaded = {url for page in (exercise, result) for url in addresses(page)
              if url.startswith("/static/")}
    assert {"/static/vendor/codemirror.min.js", "/static/vendor/uplot.min.js",
            "/static/vendor/uplot.min.css", "/static/gdlab.js"} <= loaded
    assert "/static/vendor/codemirror.min.js" not in addresses(result)  # no editor there
    for page in (exercise, result):
        assert not [url for url in addresses(page) if "://" in url]
    for url in loaded:
        answer = browser.get(url)
        assert answer.status_code == 200, url
        assert answer.mimetype in (CSS if url.endswith(".css") else JAVASCRIPT), url
        answer.close()


def vendored_hashes() -> dict[str, str]:
    """File name -> SHA-256, as VENDORED.md records them."""
    text = (VENDOR / "VENDORED.md").read_text()
    return {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", text, re.M)}


def test_the_vendored_files_are_the_ones_the_build_recorded() -> None:
    recorded = vendored_hashes()
    on_disk = {p.name for p in VENDOR.iterdir()} - {"VENDORED.md"}
    assert on_disk == set(recorded) == {"codemirror.min.js", "uplot.min.js", "uplot.min.css",
                                        "THIRD_PARTY_LICENSES.txt"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_every_bundled_package_has_its_licence_and_a_pinned_version() -> None:
    licences = (VENDOR / "THIRD_PARTY_LICENSES.txt").read_text()
    lock = json.loads((BUILD / "package-lock.json").read_text())["packages"]
    bundled = re.findall(r"^(\S+) (\S+) \((\S+)\)$", licences, re.M)
    names = {name for name, _, _ in bundled}
    assert {"@codemirror/view", "@codemirror/lang-python", "@lezer/python", "uplot"} <= names
    for name, version, licence in bundled:
        assert lock[f"node_modules/{name}"]["version"] == version, name
        assert licence == "MIT", name
    assert licences.count("Permission is hereby granted") >= len(bundled)


@pytest.mark.parametrize("path", ["/", "/exercises/gd", "/reference", "/login"])
def test_the_pages_send_a_strict_content_security_policy(app, path) -> None:
    answer = app.test_client().get(path, headers=HTML)
    policy = answer.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    nonce = re.fullmatch(r"'self' 'nonce-([\w-]{22,})'", directives["style-src"])
    assert nonce, policy
    assert directives["default-src"] == directives["connect-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    # the page script hands the nonce to the editor, and it is new for every response
    assert f'nonce="{nonce.group(1)}"' in answer.get_data(as_text=True)
    again = app.test_client().get(path, headers=HTML).headers["Content-Security-Policy"]
    assert again != policy
