"""``gdlab grade`` and ``gdlab exercises``: readable output, JSON, plots, exit codes."""

from __future__ import annotations

import json
import shutil
import tomllib

import pytest

from grader.catalog.loader import default_directory
from service.cli import main

from ..sandbox.conftest import needs_root

pytestmark = needs_root

HALF_STEP = "def update(params, grad, lr, state, **hyper):\n    return params - 0.5 * lr * grad\n"


@pytest.fixture
def submission(tmp_path):
    def write(code: str, name: str = "mine.py"):
        path = tmp_path / name
        path.write_text(code)
        return str(path)
    return write


def test_grade_prints_score_verdicts_and_feedback(submission, capsys):
    assert main(["grade", submission(HALF_STEP), "--exercise", "gd"]) == 0
    out = capsys.readouterr().out
    assert "Score     " in out and "/ 100" in out
    assert "course  0.01" in out and "converged-differently" in out
    assert "Hidden    8 runs" in out and "Feedback" in out


def test_grade_json(submission, capsys, tmp_path):
    plot = tmp_path / "plot.svg"
    code = "def update(params, grad, lr, state, **hyper):\n    return params + lr * grad\n"
    assert main(["grade", submission(code), "--exercise", "gd", "--json", "--plot",
                 str(plot)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == 0
    assert {"case", "lr", "verdict", "score"} <= set(data["runs"][0])
    assert data["diagnosis"][0]["id"] == "sign-flip" and data["diagnosis"][0]["message"]
    assert data["feedback"] and data["plot"] == str(plot)
    assert b"<svg" in plot.read_bytes()[:400]


def test_a_correct_solution_on_a_gradient_exercise(submission, capsys, tmp_path):
    from grader.catalog import load_catalog

    solution = load_catalog().get("mse-gradient").solution
    plot = tmp_path / "plot.png"
    assert main(["grade", submission(solution), "--exercise", "mse-gradient", "--plot",
                 str(plot)]) == 0
    assert "Score     100 / 100" in capsys.readouterr().out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("code", "exercise", "words"),
    [
        ("def update(params, grad, lr, state, **hyper)\n    return params\n", "gd",
         "mine.py: line 1: Syntax error on line 1"),
        ("def step(p):\n    return p\n", "gd", "Define a function named `update`"),
        (HALF_STEP, "sgd", "no exercise 'sgd'; known: adagrad, adam"),
        ("x = 1\n" * 20000, "gd", "the limit is 64 KiB"),
    ],
)
def test_ungradable_code_is_one_line_and_exit_2(submission, capsys, code, exercise, words):
    assert main(["grade", submission(code), "--exercise", exercise]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_unreadable_files(tmp_path, capsys):
    bad = tmp_path / "latin1.py"
    bad.write_bytes(b"# caf\xe9\ndef update(p, g, lr, s, **h):\n    return p\n")
    assert main(["grade", str(bad), "--exercise", "gd"]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err
    assert main(["grade", str(tmp_path / "absent.py"), "--exercise", "gd"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_exercises_list_and_show(capsys):
    assert main(["exercises", "list"]) == 0
    out = capsys.readouterr().out
    assert "adam" in out and "update_rule" in out and "1 + 3 hidden" in out
    assert main(["exercises", "show", "adam"]) == 0
    out = capsys.readouterr().out
    assert "def update(params, grad, lr, state, **hyper):" in out
    assert "beta1, beta2, eps" in out and "# Adam" in out
    assert "banana" not in out  # hidden cases stay hidden
    assert main(["exercises", "show", "nope"]) == 2


def test_exercises_list_is_in_course_order(capsys):
    assert main(["exercises", "list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[0] == "id"
    assert [row.split()[0] for row in rows] == [
        "gd", "mse-gradient", "anscombe-gradient", "l2-gd", "minibatch-sgd", "momentum",
        "nesterov", "lr-step-decay", "adagrad", "rmsprop", "adam", "adamw", "clip-norm",
        "l1-proximal", "himmelblau-momentum",
    ]


def test_exercises_check_one(capsys):
    assert main(["exercises", "check", "gd"]) == 0
    out = capsys.readouterr().out
    assert "ok   gd/solution.py: score 100" in out and "all good" in out


def test_grade_reports_printed_control_characters_and_surrogates_safely(submission, capsys):
    """The report of code that prints lone surrogates, NULs, terminal escapes and bidi
    overrides is valid UTF-8 without any of them (the terminal shows what was printed)."""
    code = ('print("lone \\ud800 nul \\x00 \\x1b[2J\\x1b[31mred\\x1b[0m \\u202eevil")\n'
            + HALF_STEP)
    assert main(["grade", submission(code), "--exercise", "gd"]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")  # strict: no lone surrogate
    assert "  lone \ufffd nul \ufffd red \ufffdevil" in out
    assert not {"\x00", "\x1b", "\u202e"} & set(out)


def test_exercises_check_fails_when_the_hidden_cases_cannot_tell_a_mistake(
        tmp_path, monkeypatch, capsys):
    """lr-step-decay with only a step_size 1 hidden case: a smooth exponential decay
    follows StepLR there, so the check must name it and exit 1."""
    folder = tmp_path / "lr-step-decay"
    shutil.copytree(default_directory() / "lr-step-decay", folder)
    toml = (folder / "exercise.toml").read_text()
    hidden_start = toml.index('[[cases]]\nname = "bowl-fast-decay"')
    mistakes_start = toml.index("[[mistakes]]")
    weak = ('[[cases]]\nname = "every-epoch"\nproblem = "linear-regression"\nseed = 13\n'
            'learning_rates = [0.3, 0.9]\nhyper = { step_size = 1, gamma = 0.9 }\n'
            'epochs = 40\n\n')
    toml = toml[:hidden_start] + weak + toml[mistakes_start:]
    tomllib.loads(toml)
    (folder / "exercise.toml").write_text(toml)
    monkeypatch.setenv("GDLAB_EXERCISES_DIR", str(tmp_path))
    assert main(["exercises", "check"]) == 1
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "lr-step-decay/hidden cases" in failing[0]
    assert "not separated: mistakes/continuous.py" in failing[0]
    assert "ok   lr-step-decay/solution.py" in out
