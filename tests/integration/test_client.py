"""The student's side against a real server: ``gdlab submit``, ``gdlab exercises fetch``
and the Python client (service/client.py)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from service.client import Client, GdlabError, ServerUnreachableError
from tests.integration.server import (
    ASCENT,
    INSTRUCTOR_TOKEN,
    SOLUTION,
    GdlabServer,
    free_port,
    gdlab_command,
    source,
)

CLIENT_VARIABLES = ("GDLAB_SERVER", "GDLAB_TOKEN")


def gdlab(*args: str, home: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the gdlab command as a student would: no GDLAB_* settings unless given, and
    ``home`` as the home directory (where the client's config file lives)."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("GDLAB_") and k != "HOME"}
    environment.update({"HOME": str(home), **(env or {})})
    return subprocess.run([str(gdlab_command()), *args], env=environment, cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory."""
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, text: str | bytes) -> Path:
    """A file in ``folder``."""
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# --- gdlab submit ------------------------------------------------------------------------


def test_submit_prints_the_grade_and_downloads_the_plot(server: GdlabServer, home, tmp_path):
    solution = write(tmp_path, "gd.py", source(SOLUTION))
    plot = tmp_path / "mine.png"
    done = gdlab("submit", str(solution), "--exercise", "gd", "--server", server.base,
                 "--plot", str(plot), home=home)
    assert done.returncode == 0, done.stderr
    assert "Score     100 / 100" in done.stdout
    assert "course  0.01  match" in done.stdout
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    submission_id = done.stdout.split("Submission ")[1].split()[0]
    assert server.get(f"/api/v1/submissions/{submission_id}").json()["score"] == 100


def test_submit_shows_the_diagnosis_of_a_wrong_rule(server: GdlabServer, home, tmp_path):
    wrong = write(tmp_path, "gd.py", source(ASCENT))
    done = gdlab("submit", str(wrong), "--exercise", "gd", "--server", server.base, home=home)
    assert done.returncode == 0, done.stderr
    assert "Diagnosis sign-flip:" in done.stdout
    assert "Score     0 / 100" in done.stdout


def test_submit_json_is_the_servers_answer(server: GdlabServer, home, tmp_path):
    solution = write(tmp_path, "gd.py", source(SOLUTION))
    done = gdlab("submit", str(solution), "--exercise", "gd", "--server", server.base,
                 "--json", "--student", "lin", home=home)
    answer = json.loads(done.stdout)
    assert answer["score"] == 100 and answer["student"] == "lin"
    assert answer == server.get(f"/api/v1/submissions/{answer['id']}").json()


@pytest.mark.parametrize(("code", "words"), [
    ("def update(params, grad, lr, state, **hyper)\n    return params\n", "line 1"),
    ("def step(params):\n    return params\n", "update"),
])
def test_code_the_server_refuses_is_one_line_and_status_2(server, home, tmp_path, code, words):
    path = write(tmp_path, "gd.py", code)
    done = gdlab("submit", str(path), "--exercise", "gd", "--server", server.base, home=home)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("gdlab: error: ") and words in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_an_unknown_exercise_is_refused(server: GdlabServer, home, tmp_path):
    path = write(tmp_path, "x.py", source(SOLUTION))
    done = gdlab("submit", str(path), "--exercise", "nope", "--server", server.base, home=home)
    assert done.returncode == 2 and "no exercise 'nope'" in done.stderr


def test_a_file_that_is_not_utf8_is_refused_before_sending(home, tmp_path):
    path = write(tmp_path, "gd.py", b"def update(p, g, lr, s):\n    return p # \xff\n")
    done = gdlab("submit", str(path), "--exercise", "gd", "--server", "http://127.0.0.1:9",
                 home=home)
    assert done.returncode == 2 and "not UTF-8" in done.stderr


def test_an_unreachable_server_is_status_1_with_one_line(home, tmp_path):
    path = write(tmp_path, "gd.py", source(SOLUTION))
    nobody = f"http://127.0.0.1:{free_port()}"
    done = gdlab("submit", str(path), "--exercise", "gd", "--server", nobody, home=home)
    assert done.returncode == 1
    assert done.stderr.startswith(f"gdlab: error: cannot reach the gdlab server at {nobody}")
    assert done.stderr.count("\n") == 1


def test_server_and_token_come_from_the_environment_or_the_config_file(
        server: GdlabServer, home, tmp_path):
    created = server.post("/api/v1/students", json={"name": "noor"},
                          headers={"Authorization": f"Bearer {INSTRUCTOR_TOKEN}"})
    token = created.json()["token"]
    solution = write(tmp_path, "gd.py", source(SOLUTION))
    by_env = gdlab("submit", str(solution), "--exercise", "gd", "--json", home=home,
                   env={"GDLAB_SERVER": server.base, "GDLAB_TOKEN": token})
    assert json.loads(by_env.stdout)["student"] == "noor"
    config = home / ".config" / "gdlab"
    config.mkdir(parents=True)
    write(config, "client.toml", f'server = "{server.base}"\ntoken = "{token}"\n')
    by_file = gdlab("submit", str(solution), "--exercise", "gd", "--json", home=home)
    assert json.loads(by_file.stdout)["student"] == "noor"
    wrong_token = gdlab("submit", str(solution), "--exercise", "gd", "--token", "not-a-token",
                        home=home)
    assert wrong_token.returncode == 2 and "token is not valid" in wrong_token.stderr


# --- gdlab exercises fetch ---------------------------------------------------------------


def test_fetch_writes_the_starter_and_statement_and_keeps_a_students_work(
        server: GdlabServer, home, tmp_path):
    work = tmp_path / "work"
    done = gdlab("exercises", "fetch", "adam", "--server", server.base, "--dir", str(work),
                 home=home)
    assert done.returncode == 0, done.stderr
    exercise = server.get("/api/v1/exercises/adam").json()
    assert (work / "adam.py").read_text() == exercise["starter"]
    assert (work / "adam.md").read_text() == exercise["statement"]
    assert "gdlab submit adam.py --exercise adam" in done.stdout
    (work / "adam.py").write_text("# my work\n")
    again = gdlab("exercises", "fetch", "adam", "--server", server.base, "--dir", str(work),
                  home=home)
    assert again.returncode == 2 and "already exist" in again.stderr
    assert (work / "adam.py").read_text() == "# my work\n"
    forced = gdlab("exercises", "fetch", "adam", "--server", server.base, "--dir", str(work),
                   "--force", home=home)
    assert forced.returncode == 0 and (work / "adam.py").read_text() == exercise["starter"]


def test_fetch_of_an_unknown_exercise_is_refused(server: GdlabServer, home):
    done = gdlab("exercises", "fetch", "nope", "--server", server.base, home=home)
    assert done.returncode == 2 and "no exercise 'nope'" in done.stderr


# --- the Python client -------------------------------------------------------------------


def test_the_python_client_covers_the_student_and_reference_flows(server: GdlabServer):
    client = Client(server.base)
    assert client.health()["status"] == "ok"
    assert "gd" in {exercise["id"] for exercise in client.exercises()}
    result = client.submit("gd", source(SOLUTION), student="kim")
    assert result["score"] == 100
    assert client.submission(result["id"]) == result
    assert client.plot(result["id"], "svg").lstrip().startswith((b"<?xml", b"<svg"))
    run = client.reference_run("linear-regression", "sgd", learning_rates=[0.1], epochs=5)
    assert run["result"]["runs"][0]["lr"] == 0.1
    assert client.reference_csv(run["id"]).splitlines()[0] == "lr,step,loss,w,b"
    assert client.reference_plot(run["id"]).startswith(b"\x89PNG")
    instructor = Client(server.base, INSTRUCTOR_TOKEN)
    assert any(row["student"] == "kim" for row in instructor.gradebook())


def test_the_python_client_raises_the_servers_message(server: GdlabServer):
    client = Client(server.base)
    with pytest.raises(GdlabError) as refused:
        client.reference_run("linear-regression", "adam", hyper={"beta1": 1.0})
    assert refused.value.status == 422
    assert "hyper.beta1" in refused.value.errors
    with pytest.raises(GdlabError) as forbidden:
        client.gradebook()
    assert forbidden.value.status == 401 and "instructor token" in forbidden.value.message
    with pytest.raises(ServerUnreachableError):
        Client(f"http://127.0.0.1:{free_port()}").health()


def test_a_busy_server_is_asked_again_after_its_retry_after(launch):
    """A real server with one grading slot and a queue of one: an endless loop fills
    both (its visible runs' job holds the slot, its hidden runs' job waits in the queue),
    so the next submission is refused as busy (503 + Retry-After) until the loop's jobs
    hit the time limit; the client waits as told and is then graded."""
    busy = launch(env={"GDLAB_SANDBOX_SLOTS": "1", "GDLAB_SANDBOX_QUEUE": "1",
                       "GDLAB_SANDBOX_TIME_LIMIT": "2", "GDLAB_SANDBOX_CPU_LIMIT": "2"},
                  name="busy")
    loop = "def update(params, grad, lr, state, **hyper):\n    while True:\n        pass\n"
    hogs = [threading.Thread(target=Client(busy.base).submit, args=("gd", loop))]
    for hog in hogs:
        hog.start()
    waits: list[float] = []
    try:
        for _ in range(200):  # until the loop's two jobs hold the slot and the queue
            status = busy.get("/health").json()["sandbox"]
            if status["running"] == 1 and status["waiting"] == 1:
                break
            threading.Event().wait(0.02)
        client = Client(busy.base, retries=8,
                        sleep=lambda seconds: (waits.append(seconds),
                                               threading.Event().wait(seconds)))
        result = client.submit("gd", source(SOLUTION))
    finally:
        for hog in hogs:
            hog.join()
    assert result["score"] == 100
    assert waits, "the first attempt should have met a busy server"
    assert all(wait >= 1 for wait in waits)
    rows = busy.get("/api/v1/submissions?status=failed",
                    headers={"Authorization": f"Bearer {INSTRUCTOR_TOKEN}"}).json()
    assert rows["total"] == len(waits), "each refused attempt is kept, marked failed"
