"""Notebooks as a student runs them: written by ``gdlab exercises notebook``, the starter
cell filled in, executed on a real Jupyter kernel against a live ``gdlab serve``, saved,
and read back."""

from __future__ import annotations

import base64
import contextlib
import html
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

import gdlab
from grader.catalog import load_catalog
from tests.integration.server import EXERCISES, GdlabServer, free_port, gdlab_command
from tests.notebook.conftest import RunNotebook, saved
from tests.redis_server import RedisServer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def generated(exercise: str, folder: Path) -> NotebookNode:
    """The notebook ``gdlab exercises notebook`` writes for ``exercise``."""
    path = folder / f"{exercise}.ipynb"
    done = subprocess.run([str(gdlab_command()), "exercises", "notebook", exercise,
                           "-o", str(path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return nbformat.read(path, as_version=4)


def tagged(book: NotebookNode, tag: str) -> NotebookNode:
    """The one cell with ``tag``."""
    found = [cell for cell in book.cells if tag in cell.metadata.get("tags", [])]
    assert len(found) == 1, [cell.metadata for cell in book.cells]
    return found[0]


def with_starter(book: NotebookNode, code: str) -> NotebookNode:
    """``book`` with its starter cell replaced by ``code`` (what the student wrote)."""
    tagged(book, "gdlab-starter").source = code
    return book


def errors_of(book: NotebookNode) -> list[NotebookNode]:
    """Every error output of the notebook."""
    return [output for cell in book.cells if cell.cell_type == "code"
            for output in cell.outputs if output.output_type == "error"]


def shown(cell: NotebookNode) -> dict:
    """The rich result of a cell: the data of its one execute_result."""
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, cell.outputs
    return results[0].data


def assert_graded_display(data: dict, score: str) -> None:
    """A result displayed as text, an HTML table with the plot inline, and a PNG."""
    assert f"Score     {score} / 100" in data["text/plain"]
    page = data["text/html"]
    assert f"Score {score} / 100" in page
    assert '<table class="gdlab-runs"' in page and "<td" in page
    assert 'src="data:image/png;base64,' in page
    assert base64.b64decode(data["image/png"]).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("exercise", ["adam", "mse-gradient"])
def test_the_solution_in_a_generated_notebook_scores_100(exercise: str, tmp_path: Path,
                                                         run_notebook: RunNotebook) -> None:
    book = with_starter(generated(exercise, tmp_path),
                        (EXERCISES / exercise / "solution.py").read_text())
    book = saved(run_notebook(book), tmp_path / "executed.ipynb")
    assert errors_of(book) == []
    data = shown(tagged(book, "gdlab-submit"))
    assert_graded_display(data, "100")
    assert "match" in data["text/html"]
    assert "Diagnosis" not in data["text/html"]


def test_a_wrong_solution_shows_its_diagnosis(tmp_path: Path, run_notebook: RunNotebook):
    mistake = next(m for m in load_catalog().get("adam").mistakes
                   if m.diagnosis == "adam-no-bias-correction")
    book = with_starter(generated("adam", tmp_path), mistake.source)
    book = saved(run_notebook(book), tmp_path / "executed.ipynb")
    assert errors_of(book) == []
    data = shown(tagged(book, "gdlab-submit"))
    score = data["text/plain"].split("Score")[1].split("/")[0].strip()
    assert float(score) <= mistake.max_score
    assert_graded_display(data, score)
    message = load_catalog().get("adam").diagnoses.get("adam-no-bias-correction")
    assert "<code>adam-no-bias-correction</code>" in data["text/html"]
    if message:  # the exercise's own sentence, escaped
        assert html.escape(message) in data["text/html"]
    assert "Diagnosis adam-no-bias-correction:" in data["text/plain"]


def test_the_cell_magic_submits_the_cell_as_a_file(tmp_path: Path, run_notebook: RunNotebook):
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%load_ext gdlab"),
        nbformat.v4.new_code_cell("%%gdlab_submit gd --student 'Ada Lovelace'\n"
                                  + (EXERCISES / "gd" / "solution.py").read_text()),
    ])
    book = saved(run_notebook(book), tmp_path / "magic.ipynb")
    assert errors_of(book) == []
    data = shown(book.cells[1])
    assert_graded_display(data, "100")
    assert "by Ada Lovelace" in data["text/html"]


def test_grading_here_needs_no_server(tmp_path: Path, run_notebook: RunNotebook):
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import gdlab\n"
                                  + (EXERCISES / "gd" / "solution.py").read_text()),
        nbformat.v4.new_code_cell('gdlab.grade(update, exercise="gd")'),
    ])
    book = saved(run_notebook(book), tmp_path / "local.ipynb")
    assert errors_of(book) == []
    data = shown(book.cells[1])
    assert_graded_display(data, "100")
    assert "graded here" in data["text/html"]


UPDATE = "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n"


@pytest.mark.parametrize(("cell", "words"), [
    ("update = lambda params, grad, lr, state, **hyper: params\n"
     'gdlab.submit(update, exercise="gd")', "a lambda cannot be graded"),
    (f"exec({UPDATE!r})\n" 'gdlab.submit(update, exercise="gd")',
     "the source of `update` cannot be found"),
    (UPDATE.replace("def update", "def step") + 'gdlab.submit(step, exercise="gd")',
     "your function is named `step`, but exercise gd grades a function named `update`"),
    (UPDATE + 'gdlab.submit(update, exercise="no-such-exercise")', "no-such-exercise"),
    (UPDATE + 'gdlab.submit("def update(:", exercise="gd")', "Syntax error on line 1"),
    (UPDATE + f'gdlab.submit(update, exercise="gd", server="http://127.0.0.1:{free_port()}")',
     "cannot reach the gdlab server"),
    ("%load_ext gdlab", None),
    ("%%gdlab_submit\nx = 1", "%%gdlab_submit: the following arguments are required"),
], ids=["lambda", "exec", "wrong-name", "unknown-exercise", "syntax", "server-down",
        "load-ext", "magic-usage"])
def test_a_mistake_is_one_line_not_a_traceback(cell: str, words: str | None, tmp_path: Path,
                                               run_notebook: RunNotebook) -> None:
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import gdlab"),
                                           nbformat.v4.new_code_cell(cell)])
    book = saved(run_notebook(book), tmp_path / "mistake.ipynb")
    errors = errors_of(book)
    if words is None:
        assert errors == []
        return
    assert len(errors) == 1
    error = errors[0]
    assert error.ename == "GdlabError"
    assert error.traceback == [f"GdlabError: {error.evalue}"], error.traceback
    assert words in error.evalue
    assert "\n" not in error.evalue


def test_the_kernel_is_this_virtual_environments_python(tmp_path: Path,
                                                        run_notebook: RunNotebook) -> None:
    """ipykernel's ``python3`` kernel spec runs this interpreter, where gdlab is installed."""
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys, gdlab\nprint(sys.executable)\nprint(gdlab.__file__)")])
    printed = run_notebook(book).cells[0].outputs[0].text.splitlines()
    assert printed == [sys.executable, str(Path(gdlab.__file__))]


def test_a_queued_submission_shows_its_progress_then_its_grade(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,
        run_notebook: RunNotebook) -> None:
    """A server with a job queue answers 202 at once; the notebook shows the submission's
    state (one output, updated in place) while it waits, then the grade. A real
    ``gdlab worker`` grades it."""
    data_dir = tmp_path_factory.mktemp("queue-server-data")
    queue = GdlabServer(data_dir, tmp_path_factory.getbasetemp() / "queue-server.log",
                        env={"GDLAB_REDIS_URL": redis_server.url,
                             "GDLAB_QUEUE_NAME": f"notebook-{uuid.uuid4().hex[:8]}"})
    queue.start()
    with (tmp_path / "worker.log").open("ab") as log:
        worker = subprocess.Popen([str(gdlab_command()), "worker"], env=queue.environment(),
                                  cwd=data_dir, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        book = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("import gdlab\n"
                                      + (EXERCISES / "gd" / "solution.py").read_text()),
            nbformat.v4.new_code_cell(f'gdlab.submit(update, exercise="gd", '
                                      f'server="{queue.base}")'),
        ])
        book = saved(run_notebook(book), tmp_path / "queued.ipynb")
    finally:
        worker.send_signal(signal.SIGTERM)  # RQ's warm shutdown
        try:
            worker.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):  # its own session: its runner
                os.killpg(worker.pid, signal.SIGKILL)
            queue.stop()
    assert errors_of(book) == []
    outputs = book.cells[1].outputs
    progress = [o for o in outputs if o.output_type == "display_data"]
    assert len(progress) == 1, outputs  # updated in place, not one output per look
    assert progress[0].data["text/plain"] in ("queued: number 1 in line…", "queued…",
                                              "grading…")
    assert_graded_display(shown(book.cells[1]), "100")
