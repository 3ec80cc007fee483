"""Bad and hostile input: each a clear 4xx JSON error (or a graded 0 for hostile code run
in the sandbox), never a 5xx, and the server keeps serving afterwards.

The last test of this module checks, after all the others, that /health is still 200, a
correct submission still scores 100 and the server never answered with a 5xx.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from sqlalchemy import make_url

from tests.integration.server import (
    API,
    INSTRUCTOR_TOKEN,
    SOLUTION,
    GdlabServer,
    assert_json_error,
    graded,
    server_errors,
    source,
    submit,
)

KiB = 1024
MiB = 1024 * KiB
CORRECT = source(SOLUTION)
JSON = {"Content-Type": "application/json"}


def post_raw(server: GdlabServer, path: str, data: bytes | str,
             headers: dict[str, str] | None = None):
    """POST a body exactly as given."""
    return server.post(path, data=data, headers={**JSON, **(headers or {})})


def still_serving(server: GdlabServer) -> None:
    """/health answers 200 on the kept-alive session and on a new connection."""
    assert server.get("/health").status_code == 200
    assert server.get("/health", headers={"Connection": "close"}).status_code == 200


# --- submissions: the body ------------------------------------------------------------------


@pytest.mark.parametrize(("body", "status"), [
    ('{"exercise": "gd", "code": ', 400),            # cut short
    ("{'exercise': 'gd'}", 400),                     # not JSON quotes
    ('{"exercise": "gd", "code": "x",}', 400),       # trailing comma
    ("exercise=gd&code=x", 400),                     # a form, not JSON
    ('{"exercise": "gd", "code": NaN}', 400),
    ('{"exercise": "gd", "code": "x", "student": Infinity}', 400),
    ('{"exercise": "gd", "code": -Infinity}', 400),
    ('{"exercise": "gd", "code": 1e999}', 400),       # overflows a float
    ("[" * 100_000 + "]" * 100_000, (400, 422)),     # nested past any recursion limit
    ("[1, 2, 3]", (400, 422)),                       # JSON, but not an object
    ('"just a string"', (400, 422)),
    ("42", (400, 422)),
    ("null", 422),                                   # nothing: the required fields
], ids=["truncated", "single-quotes", "trailing-comma", "form", "nan", "infinity",
        "minus-infinity", "overflow", "deep-nesting", "array", "string", "number", "null"])
def test_malformed_json(server: GdlabServer, body: str, status: int | tuple) -> None:
    assert_json_error(post_raw(server, f"{API}/submissions", body), status)
    still_serving(server)


def test_nan_message_says_what_is_wrong(server: GdlabServer) -> None:
    answer = post_raw(server, f"{API}/submissions", '{"exercise": "gd", "code": NaN}')
    assert "NaN" in assert_json_error(answer, 400)["message"]


@pytest.mark.parametrize("body", [
    b"\xff\xfe\x00\x00garbage",
    b'{"exercise": "gd", "code": "\xe9t\xe9"}',       # Latin-1, not UTF-8
    b'{"exercise": "gd", "code": "\xc3"}',            # a cut UTF-8 sequence
], ids=["binary", "latin-1", "truncated-utf8"])
def test_non_utf8_body(server: GdlabServer, body: bytes) -> None:
    answer = assert_json_error(post_raw(server, f"{API}/submissions", body), 400)
    assert "UTF-8" in answer["message"]
    still_serving(server)


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"exercise", "code"}),
    ({"exercise": "gd"}, {"code"}),
    ({"code": CORRECT}, {"exercise"}),
    ({"exercise": 5, "code": CORRECT}, {"exercise"}),
    ({"exercise": "gd", "code": ["def update(): pass"]}, {"code"}),
    ({"exercise": "gd", "code": None}, {"code"}),
    ({"exercise": "gd", "code": {"source": CORRECT}}, {"code"}),
    ({"exercise": ["gd"], "code": 3.5}, {"exercise", "code"}),
    ({"exercise": "gd", "code": CORRECT, "student": 7}, {"student"}),
    ({"exercise": "gd", "code": CORRECT, "student": ""}, {"student"}),
    ({"exercise": "gd", "code": CORRECT, "student": "x" * 500}, {"student"}),
    ({"exercise": "gd", "code": CORRECT, "student": "a\nb"}, {"student"}),
    ({"exercise": "gd", "code": CORRECT, "score": 100}, {"score"}),
    ({"exercise": "../../etc/passwd", "code": CORRECT}, {"exercise"}),
    ({"exercise": "GD", "code": CORRECT}, {"exercise"}),
], ids=["empty", "no-code", "no-exercise", "exercise-int", "code-list", "code-null",
        "code-object", "both-wrong", "student-int", "student-empty", "student-long",
        "student-newline", "unknown-field", "exercise-path", "exercise-upper"])
def test_wrong_or_missing_fields(server: GdlabServer, body: dict, fields: set[str]) -> None:
    answer = assert_json_error(server.post(f"{API}/submissions", json=body), 422)
    assert set(answer["errors"]) == fields, answer


def test_empty_body(server: GdlabServer) -> None:
    answer = assert_json_error(post_raw(server, f"{API}/submissions", b""), 422)
    assert set(answer["errors"]) == {"exercise", "code"}


def test_unknown_exercise(server: GdlabServer) -> None:
    answer = assert_json_error(submit(server, CORRECT, exercise="no-such-exercise"), 422)
    assert "exercise" in answer["errors"]
    assert "gd" in answer["message"]  # it names the known ones


@pytest.mark.parametrize(("code", "needle"), [
    ("def update(params, grad, lr, state, **hyper)\n    return params\n", "line 1"),
    ("x = 1\n\ndef update(params, grad, lr, state, **hyper):\nreturn params\n", "line 4"),
    ("def step(params, grad, lr, state, **hyper):\n    return params\n", "update"),
    ("def update(params):\n    return params\n", "update"),
    ("", "empty"),
    ("   \n\n# only a comment\n", "update"),
], ids=["syntax", "indentation", "no-update", "wrong-signature", "empty", "comment-only"])
def test_code_that_cannot_be_graded(server: GdlabServer, code: str, needle: str) -> None:
    answer = submit(server, code)
    body = assert_json_error(answer, 422)
    assert "code" in body["errors"]
    assert needle in body["message"], body["message"]
    # the rejected submission was kept, and says so
    kept = server.get(f"{API}/submissions/{answer.headers['X-Submission-Id']}")
    assert kept.status_code == 200 and kept.json()["status"] == "rejected"
    assert_json_error(server.get(f"{API}/submissions/{kept.json()['id']}/plot.png"), 409)


def test_an_update_that_is_not_a_function(server: GdlabServer) -> None:
    """Past the static checks, but it cannot be called: graded 0 with the reason."""
    answer = submit(server, "update = 3\n")
    if answer.status_code != 422:
        result = graded(answer)
        assert result["score"] == 0 and result["sandbox"]["verdict"] == "error"
        assert all(run["verdict"] == "error" for run in result["runs"])
    else:
        assert "code" in assert_json_error(answer, 422)["errors"]


def test_code_with_a_lone_surrogate(server: GdlabServer) -> None:
    body = '{"exercise": "gd", "code": "x = \\"\\ud800\\"\\n' + \
        json.dumps(CORRECT)[1:-1] + '"}'
    answer = assert_json_error(post_raw(server, f"{API}/submissions", body), (400, 422))
    assert answer["message"]


def test_code_over_the_code_limit(server: GdlabServer) -> None:
    code = CORRECT + "#" * (64 * KiB)
    answer = assert_json_error(submit(server, code), 422)
    assert "65,536" in answer["message"]


def test_one_megabyte_of_code(server: GdlabServer) -> None:
    code = CORRECT + "# padding\n" * (MiB // 10)
    assert_json_error(submit(server, code), (413, 422))
    still_serving(server)


@pytest.mark.parametrize("size", [3 * MiB, 12 * MiB])
def test_a_body_over_the_request_limit(server: GdlabServer, size: int) -> None:
    """A body over GDLAB_MAX_REQUEST_BYTES (2 MiB) is a 413 the client receives, not a
    connection reset, and the kept-alive connection still works afterwards."""
    code = CORRECT + "#" * size
    for _ in range(3):
        answer = submit(server, code)
        body = assert_json_error(answer, 413)
        assert "too large" in body["message"]
        # the next request on the same session (the same connection, if kept) is answered
        assert server.get(f"{API}/exercises").status_code == 200
    still_serving(server)


def test_a_big_body_on_a_fresh_connection(server: GdlabServer) -> None:
    payload = json.dumps({"exercise": "gd", "code": "#" * (3 * MiB)})
    for _ in range(3):
        answer = server.post(f"{API}/submissions", data=payload,
                             headers={**JSON, "Connection": "close"})
        assert_json_error(answer, 413)


# --- reference runs ---------------------------------------------------------------------------


RUN = {"problem": "linear-regression", "optimizer": "sgd"}


@pytest.mark.parametrize(("change", "field"), [
    ({"epochs": -5}, "epochs"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 10**6}, "epochs"),
    ({"epochs": 10**30}, "epochs"),
    ({"epochs": 2**63}, "epochs"),
    ({"epochs": "100"}, "epochs"),
    ({"epochs": 1.5}, "epochs"),
    ({"epochs": True}, "epochs"),
    ({"learning_rates": [0.1] * 10_000}, "learning_rates"),
    ({"learning_rates": []}, "learning_rates"),
    ({"learning_rates": [0.0]}, "learning_rates"),
    ({"learning_rates": [-0.1]}, "learning_rates"),
    ({"learning_rates": [1e300]}, "learning_rates"),
    ({"learning_rates": ["fast"]}, "learning_rates"),
    ({"learning_rates": 0.1}, "learning_rates"),
    ({"optimizer": "adamax-pro"}, "optimizer"),
    ({"optimizer": ""}, "optimizer"),
    ({"optimizer": 3}, "optimizer"),
    ({"problem": "himmelblau"}, "problem"),
    ({"optimizer": "adam", "hyper": {"beta1": 1.0}}, "hyper.beta1"),
    ({"hyper": {"momentum": "high"}}, "hyper.momentum"),
    ({"hyper": {"warp": 9}}, "hyper"),
    ({"hyper": {"nesterov": True, "dampening": 0.5, "momentum": 0.9}}, "hyper"),
    ({"x0": [1.0, 2.0, 3.0]}, "x0"),
    ({"x0": [0.0] * 101}, "x0"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**40}, "seed"),
    ({"batch_size": 0}, "batch_size"),
    ({"init": "random"}, "init"),
    ({"schedule": {"name": "zigzag"}}, "schedule"),
    ({"schedule": {"name": "step", "options": {"step_size": -3}}}, "schedule"),
    ({"problem": "quadratic", "problem_options": {"dim": 10**9}}, "problem_options"),
    ({"problem_options": {"n_samples": 10**12}}, "problem_options"),
    ({"problem_options": {"n_samples": 10**6}}, "problem_options"),
    ({"problem": "logistic-regression", "problem_options": {"n_samples": 10_000},
      "batch_size": 1, "epochs": 10_000, "learning_rates": [0.1] * 32}, "epochs"),
    ({"problem": "logistic-regression", "problem_options": {"n_samples": 10_000},
      "epochs": 10_000, "learning_rates": [0.1] * 32}, "epochs"),
    ({"tolerance": -1}, "tolerance"),
    ({"colour": "blue"}, "colour"),
], ids=lambda value: json.dumps(value)[:40] if isinstance(value, dict) else value)
def test_bad_reference_runs(server: GdlabServer, change: dict[str, Any], field: str) -> None:
    answer = server.post(f"{API}/reference/runs", json={**RUN, **change})
    body = assert_json_error(answer, 422)
    assert any(key == field or key.startswith(field + ".") or key.startswith(field + "[")
               for key in body["errors"]), body


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_a_reference_run(server: GdlabServer, literal: str) -> None:
    body = ('{"problem": "linear-regression", "optimizer": "sgd", "learning_rates": [0.1, '
            + literal + "]}")
    assert_json_error(post_raw(server, f"{API}/reference/runs", body), 400)
    body = ('{"problem": "linear-regression", "optimizer": "sgd", "hyper": {"momentum": '
            + literal + "}}")
    assert_json_error(post_raw(server, f"{API}/reference/runs", body), 400)


# --- routes and methods ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v2/exercises", 404),
    ("GET", "/nothing-here", 404),
    ("GET", f"{API}/exercises/gd/solution", 404),
    ("DELETE", f"{API}/exercises/gd", 405),
    ("PUT", f"{API}/submissions", 405),
    ("GET", f"{API}/reference/runs", 405),
    ("POST", "/health", 405),
])
def test_unknown_routes_and_methods(server: GdlabServer, method: str, path: str,
                                    status: int) -> None:
    assert_json_error(server.request(method, path), status)


# --- hostile code ------------------------------------------------------------------------------

#: A correct update rule: hostile code that defines it would score 100, so a score of 0
#: with the sandbox's verdict shows that the attack was stopped.
UPDATE = "\n\ndef update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n"

HOSTILE = {
    "os-system": "import os\nos.system('touch /tmp/gdlab-pwned; id')\n" + UPDATE,
    "subprocess": "import subprocess\nsubprocess.run(['/bin/sh', '-c', 'id'], check=True)\n"
                  + UPDATE,
    "fork": "import os\nif os.fork() == 0:\n    os._exit(0)\n" + UPDATE,
    "fork-bomb": "import os\nwhile True:\n    os.fork()\n" + UPDATE,
    "read-etc-passwd": "print(open('/etc/passwd').read())\n" + UPDATE,
    "memory-bomb": "hoard = bytearray(8 * 1024 ** 3)\n" + UPDATE,
    "kill-parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + UPDATE,
}


def _sandboxed_or_refused(answer) -> dict | None:
    """A hostile submission is either graded 0 with the sandbox's verdict, or refused 422."""
    if answer.status_code == 422:
        assert_json_error(answer, 422)
        return None
    result = graded(answer)
    assert result["score"] == 0, result
    assert result["sandbox"]["verdict"] in ("forbidden", "error", "memory", "timeout",
                                            "crashed"), result["sandbox"]
    assert result["sandbox"]["detail"].strip()
    assert all(run["verdict"] in ("error", "timeout") for run in result["runs"])
    return result


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_code(server: GdlabServer, name: str) -> None:
    result = _sandboxed_or_refused(submit(server, HOSTILE[name]))
    if result is not None and name in ("os-system", "subprocess", "fork", "fork-bomb"):
        assert result["sandbox"]["verdict"] == "forbidden"
    still_serving(server)


def test_an_endless_loop_times_out(server: GdlabServer) -> None:
    answer = submit(server, "while True:\n    pass\n" + UPDATE)
    result = graded(answer)
    assert result["score"] == 0
    assert result["sandbox"]["verdict"] == "timeout"
    assert all(run["verdict"] == "timeout" for run in result["runs"])
    assert result["hidden"]["verdicts"] == {"timeout": result["hidden"]["runs"]}
    still_serving(server)


def test_a_socket_to_the_server_itself(server: GdlabServer) -> None:
    """Connecting to the server from inside the sandbox: had it worked, the rule would
    be the correct one and score 100."""
    code = (
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {server.port}), timeout=2)\n"
        "s.sendall(b'GET /health HTTP/1.0\\r\\n\\r\\n')\n"
        "REACHED = s.recv(100).startswith(b'HTTP/')\n"
        "\n\ndef update(params, grad, lr, state, **hyper):\n"
        "    if REACHED:\n"
        "        return params - lr * grad\n"
        "    raise RuntimeError('the server did not answer')\n")
    result = _sandboxed_or_refused(submit(server, code))
    assert result is not None and result["sandbox"]["verdict"] == "forbidden"
    still_serving(server)


def test_reading_the_database(server: GdlabServer) -> None:
    """The server's database is on this machine and reachable by it, but not from the
    sandbox: had the code read it, it would score 100; it fails instead, saying why.

    SQLite: the file in the data folder. PostgreSQL: the server's port, over TCP."""
    if server.database_url:
        _reading_the_postgresql_server(server)
    else:
        _reading_the_sqlite_file(server)
    still_serving(server)


def _reading_the_sqlite_file(server: GdlabServer) -> None:
    database = server.data_dir / "gdlab.sqlite3"
    assert database.read_bytes()[:16] == b"SQLite format 3\x00"  # it is there, for real
    code = (
        "try:\n"
        f"    with open({str(database)!r}, 'rb') as db:\n"
        "        LEAKED = db.read(16) == b'SQLite format 3\\x00'\n"
        "    WHY = 'read it'\n"
        "except OSError as error:\n"
        "    LEAKED, WHY = False, type(error).__name__\n"
        "\n\ndef update(params, grad, lr, state, **hyper):\n"
        "    if LEAKED:\n"
        "        return params - lr * grad\n"
        "    raise RuntimeError('database not readable: ' + WHY)\n")
    result = _sandboxed_or_refused(submit(server, code))
    assert result is not None
    assert result["sandbox"]["verdict"] == "error"
    assert result["error"]["type"] == "RuntimeError"
    assert result["error"]["message"].startswith("database not readable: ")
    assert "read it" not in result["error"]["message"]


def _reading_the_postgresql_server(server: GdlabServer) -> None:
    url = make_url(server.database_url)
    host, port = url.host or "127.0.0.1", url.port or 5432
    with socket.create_connection((host, port), timeout=5):
        pass  # it answers, for real, from here
    code = (
        "import socket\n"
        f"s = socket.create_connection(({host!r}, {port}), timeout=2)\n"
        "REACHED = True\n"
        "\n\ndef update(params, grad, lr, state, **hyper):\n"
        "    if REACHED:\n"
        "        return params - lr * grad\n"
        "    raise RuntimeError('the database did not answer')\n")
    result = _sandboxed_or_refused(submit(server, code))
    assert result is not None and result["sandbox"]["verdict"] == "forbidden"


def test_looking_for_the_instructor_token(server: GdlabServer) -> None:
    """The token is in the server's environment; nowhere the sandbox can look."""
    code = (
        "import os\n"
        f"TOKEN = {INSTRUCTOR_TOKEN[::-1]!r}[::-1]\n"
        "FOUND = []\n"
        "if TOKEN in repr(dict(os.environ)):\n"
        "    FOUND.append('environ')\n"
        "for pid in ('1', 'self', str(os.getppid())):\n"
        "    try:\n"
        "        with open('/proc/' + pid + '/environ', 'rb') as f:\n"
        "            if TOKEN.encode() in f.read():\n"
        "                FOUND.append(pid)\n"
        "    except OSError:\n"
        "        pass\n"
        "\n\ndef update(params, grad, lr, state, **hyper):\n"
        "    if FOUND:\n"
        "        return params - lr * grad\n"
        "    raise RuntimeError('no token anywhere')\n")
    result = _sandboxed_or_refused(submit(server, code))
    assert result is not None
    assert result["error"]["message"] == "no token anywhere"
    still_serving(server)


def test_writing_into_the_data_directory(server: GdlabServer) -> None:
    target = server.data_dir / "planted-by-a-student"
    code = (f"open({str(target)!r}, 'w').write('x')\n" + UPDATE)
    _sandboxed_or_refused(submit(server, code))
    assert not target.exists()
    still_serving(server)


# --- after all of it -----------------------------------------------------------------------------


def test_after_all_of_it_the_server_still_grades(server: GdlabServer) -> None:
    """Runs last in this module: after every bad input and hostile submission above."""
    health = server.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["sandbox"]["reachable"] is True
    assert graded(submit(server, CORRECT))["score"] == 100
    assert server_errors(server) == []
