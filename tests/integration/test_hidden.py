"""Hidden cases stay hidden against the live service: hostile submissions that read
their own process (every object, every frame), print or raise what they are given, look
for the minimum or flood their /tmp, each answered as a graded 201 quickly, never a 5xx,
and with nothing of a hidden run in what the student gets."""

from __future__ import annotations

from typing import Any

import pytest

from grader.catalog import load_catalog
from grader.preparation import prepare_runs
from tests.integration.server import (
    API,
    SOLUTION,
    GdlabServer,
    graded,
    server_errors,
    source,
    submit,
)
from tests.spies import found, input_patterns, inputs_spy, minimum_spy

HIDDEN_NAMES = ("regression-other-data", "bowl", "banana")
#: Each of these requests must be answered well within this bound (the job limit is 5 s).
QUICK = 15


def post(server: GdlabServer, code: str) -> dict[str, Any]:
    return graded(submit(server, code))


def as_instructor(server: GdlabServer, body: dict[str, Any],
                  instructor: dict[str, str]) -> dict[str, Any]:
    answer = server.get(f"{API}/submissions/{body['id']}", headers=instructor, timeout=QUICK)
    assert answer.status_code == 200
    return answer.json()


def assert_nothing_hidden(server: GdlabServer, body: dict[str, Any]) -> None:
    """No hidden case in the replay block (its seed and problem would let the student
    rebuild its inputs), and no instructors' view. The feedback may name a hidden case
    that failed, and say what differs there by name only (grading's own tests check it
    never gives a value)."""
    again = server.get(f"{API}/submissions/{body['id']}", timeout=QUICK)
    for shown in (body, again.json()):
        assert not set(shown["replay"]["cases"]) & set(HIDDEN_NAMES)
        assert "instructor" not in shown
        assert "LEAK" not in str(shown)


@pytest.fixture(scope="module")
def patterns() -> dict[str, bytes]:
    return input_patterns(prepare_runs(load_catalog().get("gd"))[0])


def test_a_visible_run_reaches_no_hidden_input(server: GdlabServer, patterns: dict[str, bytes],
                                               instructor: dict[str, str]) -> None:
    body = graded(server.post(f"{API}/submissions", timeout=QUICK,
                              json={"exercise": "gd", "code": inputs_spy(patterns)}))
    hidden = {label for label in patterns if label.split(":")[1] in HIDDEN_NAMES}
    assert set(found(body["stdout"])) == set(patterns) - hidden  # every visible input only
    assert body["score"] == 100
    assert_nothing_hidden(server, body)
    hidden_job = as_instructor(server, body, instructor)["instructor"]["hidden_job"]
    assert hidden <= set(found(hidden_job["stdout"]))  # the spy does find them there


def test_what_a_hidden_run_prints_or_raises_stays_with_the_instructors(
        server: GdlabServer, instructor: dict[str, str]) -> None:
    code = ("def update(params, grad, lr, state, **hyper):\n"
            "    if not state:\n"
            "        state['seen'] = True\n"
            "        print('START', params.tolist(), 'LR', lr)\n"
            "        if lr not in (0.01, 0.1, 0.5, 0.9):\n"
            "            raise ValueError(f'LEAK {params.tolist()} {lr}')\n"
            "    return params - lr * grad\n")
    body = graded(server.post(f"{API}/submissions", timeout=QUICK,
                              json={"exercise": "gd", "code": code}))
    assert body["stdout"].count("START") == 4 and "LEAK" not in str(body)
    assert body["sandbox"]["verdict"] == "error" and body["error"] is None
    assert body["hidden"]["verdicts"] == {"error": 8}
    assert_nothing_hidden(server, body)
    hidden_job = as_instructor(server, body, instructor)["instructor"]["hidden_job"]
    assert hidden_job["stdout"].count("START") == 8
    assert hidden_job["error"]["message"].startswith("LEAK")


def test_a_rule_looking_for_the_minimum_finds_none(server: GdlabServer,
                                                    instructor: dict[str, str]) -> None:
    body = graded(server.post(f"{API}/submissions", timeout=QUICK,
                              json={"exercise": "gd", "code": minimum_spy()}))
    assert found(body["stdout"], "minimum-spy found") == []
    hidden_job = as_instructor(server, body, instructor)["instructor"]["hidden_job"]
    assert "minimum-spy found []" in hidden_job["stdout"]
    assert body["score"] == 100  # it followed the gradient like anyone


def test_a_flood_of_empty_files_gets_a_clean_error_and_the_service_grades_on(
        server: GdlabServer) -> None:
    code = ("import os\n"
            "for i in range(200_000):\n"
            "    os.close(os.open(f'/tmp/f{i}', os.O_CREAT | os.O_WRONLY, 0o600))\n"
            "def update(params, grad, lr, state, **hyper):\n"
            "    return params - lr * grad\n")
    body = graded(server.post(f"{API}/submissions", timeout=QUICK,
                              json={"exercise": "gd", "code": code}))
    assert body["score"] == 0 and body["sandbox"]["verdict"] == "forbidden"
    assert body["error"]["type"] == "OSError" and body["error"]["line"] == 3
    assert post(server, source(SOLUTION))["score"] == 100
    assert server_errors(server) == []
