"""``gdlab`` as a Python module, outside a kernel: what a function becomes when it is sent,
grading here, the bad inputs (each one sentence), busy servers, and ``gdlab exercises
notebook``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest

import gdlab
from gdlab.notebook import build_notebook
from gdlab.source import source_of
from grader.catalog import load_catalog
from service import cli
from service.client import Client
from tests.integration.server import EXERCISES, GdlabServer, source

MODULE = '''
import numpy as np
import numpy.linalg as la
from math import sqrt as root

EPS = 1e-8
NAMES = ("w", "b")


def _one():
    """Exactly 1.0, the long way round."""
    return la.norm(np.ones(1)) * root(EPS) / root(EPS)


def update(params, grad, lr, state, **hyper):
    state.update(calls=state.get("calls", 0) + 1)
    assert NAMES[0] == "w"
    return params - lr * grad * _one()


def outer():
    scale = 2.0

    def update(params, grad, lr, state, **hyper):
        return params - scale * lr * grad
    return update


TABLE = np.ones(2)


def uses_an_array(params, grad, lr, state, **hyper):
    return params - lr * grad * TABLE
'''


@pytest.fixture(scope="module")
def student_module(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """A module of the student's, imported from a real file (as a notebook's cell is
    compiled from a real cell)."""
    path = tmp_path_factory.mktemp("student") / "mine.py"
    path.write_text(MODULE)
    spec = importlib.util.spec_from_file_location("mine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_function_is_sent_with_the_imports_constants_and_helpers_it_uses(student_module):
    text = source_of(student_module.update, "update", "gd")
    lines = text.splitlines()
    assert set(lines[:3]) == {"import numpy as np", "import numpy.linalg as la",
                              "from math import sqrt as root"}  # imports first
    assert set(lines[3:5]) == {"EPS = 1e-08", "NAMES = ('w', 'b')"}  # then constants
    assert "def _one():" in text and "def outer" not in text and "TABLE" not in text
    rebuilt: dict = {}
    exec(compile(text, "sent.py", "exec"), rebuilt)  # what the sandbox will run
    params, grad = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    assert np.array_equal(rebuilt["update"](params, grad, 0.1, {}),
                          student_module.update(params, grad, 0.1, {}))


def test_the_function_sent_is_graded_as_its_module_would_be(student_module):
    result = gdlab.grade(student_module.update, exercise="gd")
    assert result.score == 100
    assert result.id is None and result.where == "graded here"
    assert result.plot("svg")._repr_svg_().lstrip().startswith(("<?xml", "<svg"))
    assert result.plot("png")._repr_png_().startswith(b"\x89PNG")


@pytest.mark.parametrize(("solution", "words"), [
    (lambda m: m.outer(), "`update` uses `scale` from the function it is defined in"),
    (lambda m: m.uses_an_array, "named `uses_an_array`"),
    (lambda m: 42, "pass your function (e.g. update, without parentheses)"),
    (lambda m: b"def update(): pass", "not bytes"),
])
def test_what_cannot_be_sent_is_one_sentence(student_module, solution, words):
    with pytest.raises(gdlab.GdlabError) as caught:
        gdlab.grade(solution(student_module), exercise="gd")
    assert words in caught.value.message
    assert caught.value._render_traceback_() == [f"GdlabError: {caught.value.message}"]


def test_a_global_that_is_not_a_constant_is_named(student_module):
    rule = student_module.uses_an_array
    with pytest.raises(gdlab.GdlabError, match="uses the global `TABLE` \\(a ndarray\\)"):
        source_of(rule, "uses_an_array")


def test_an_unknown_exercise_here_is_one_sentence():
    with pytest.raises(gdlab.GdlabError, match="no exercise 'nope'; known: adagrad"):
        gdlab.grade("def update(params, grad, lr, state, **hyper):\n    return params\n",
                    exercise="nope")


def test_untrusted_text_is_escaped_in_the_html():
    code = ('print("<script>alert(1)</script>")\n'
            "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n")
    result = gdlab.grade(code, exercise="gd")
    page = result._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" in str(result)  # the terminal shows it as it is


def test_gdlab_works_without_ipython(tmp_path: Path):
    """IPython is optional: with it unimportable, gdlab imports, grades and prints."""
    script = (
        "import sys\n"
        "sys.modules['IPython'] = None  # `import IPython` now fails as if not installed\n"
        "import gdlab\n"
        f"result = gdlab.grade(open({str(EXERCISES / 'gd' / 'solution.py')!r}).read(), "
        "exercise='gd')\n"
        "print(repr(result))\n"
        "print(result)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "<gdlab Result gd: 100/100, graded here>" in done.stdout
    assert "Score     100 / 100" in done.stdout


# --- servers that are busy ---------------------------------------------------------------


def test_a_rate_limited_server_is_one_sentence(tmp_path_factory, student_module):
    limited = GdlabServer(tmp_path_factory.mktemp("limited-data"),
                          tmp_path_factory.getbasetemp() / "limited.log",
                          env={"GDLAB_RATE_LIMIT": "1/minute"})
    limited.start()
    try:
        with pytest.raises(gdlab.GdlabError) as caught:
            # one request to read the exercise's contract, then the submission: refused
            gdlab.submit(student_module.update, exercise="gd", server=limited.base)
    finally:
        limited.stop()
    error = caught.value
    assert error.status == 429
    assert error.message.startswith("the server is busy: Too many requests")
    assert f"(The server asks to wait {error.retry_after:g} s.)" in error.message
    assert len(error._render_traceback_()) == 1


def test_a_server_whose_grading_slots_are_all_busy_is_one_sentence(tmp_path_factory):
    """One grading slot and a queue of one, both taken by an endless loop (as in the
    client's tests): the next submission is refused with 503 and Retry-After."""
    busy = GdlabServer(tmp_path_factory.mktemp("busy-data"),
                       tmp_path_factory.getbasetemp() / "busy.log",
                       env={"GDLAB_SANDBOX_SLOTS": "1", "GDLAB_SANDBOX_QUEUE": "1",
                            "GDLAB_SANDBOX_TIME_LIMIT": "3", "GDLAB_SANDBOX_CPU_LIMIT": "3"})
    busy.start()
    loop = "def update(params, grad, lr, state, **hyper):\n    while True:\n        pass\n"
    hog = threading.Thread(target=Client(busy.base).submit, args=("gd", loop))
    hog.start()
    try:
        for _ in range(250):
            status = busy.get("/health").json()["sandbox"]
            if status["running"] == 1 and status["waiting"] == 1:
                break
            threading.Event().wait(0.02)
        with pytest.raises(gdlab.GdlabError) as caught:
            gdlab.submit(source("gd/solution.py"), exercise="gd",
                         client=Client(busy.base, retries=0))
    finally:
        hog.join()
        busy.stop()
    error = caught.value
    assert error.status == 503
    assert error.message.startswith("the server is busy: Every grading slot is busy")
    assert error.retry_after and f"again in {error.retry_after:g} s." in error.message


# --- gdlab exercises notebook ----------------------------------------------------------------


def test_every_exercise_makes_a_valid_notebook():
    for exercise in load_catalog().exercises.values():
        book = build_notebook(exercise.describe(full=True))
        nbformat.validate(book)
        assert book.cells[0].source.startswith("# ")
        starter = next(c for c in book.cells if "gdlab-starter" in c.metadata["tags"])
        assert starter.source == exercise.starter.strip()
        assert f"def {exercise.contract().signature()}:" in book.cells[1].source
        assert book.cells[-1].source == (f'gdlab.submit({exercise.entry}, '
                                         f'exercise="{exercise.id}")')


def test_the_notebook_command_keeps_an_existing_file(tmp_path: Path, capsys):
    path = tmp_path / "adam.ipynb"
    assert cli.main(["exercises", "notebook", "adam", "-o", str(path)]) == 0
    assert nbformat.read(path, as_version=4).metadata["gdlab"] == {"exercise": "adam",
                                                                   "version": 1}
    path.write_text("my work")
    capsys.readouterr()
    assert cli.main(["exercises", "notebook", "adam", "-o", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"gdlab: error: {path} already exists; it is kept (use --force to overwrite)\n"
    assert path.read_text() == "my work"
    assert cli.main(["exercises", "notebook", "adam", "-o", str(path), "--force"]) == 0
    assert nbformat.read(path, as_version=4).metadata["gdlab"]["exercise"] == "adam"


def test_the_notebook_command_refuses_an_unknown_exercise(tmp_path: Path, capsys):
    assert cli.main(["exercises", "notebook", "adm", "-o", str(tmp_path / "x.ipynb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gdlab: error: no exercise 'adm'; known: ") and err.count("\n") == 1
    assert not (tmp_path / "x.ipynb").exists()
