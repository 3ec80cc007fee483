"""The PrairieLearn question: the folder ``gdlab export prairielearn`` writes (info.json
against PrairieLearn's question schema, question.html's elements, tests/, the grader
image's Dockerfile), and the entrypoint's module run on this machine against a directory
laid out as PrairieLearn lays out /grade (tests, student, data/data.json), results.json
checked against PrairieLearn's external-grading format. The same in Docker, in the image
the export's Dockerfile builds: tests/deploy/platforms_smoke.sh."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from grader.platforms import prairielearn
from grader.platforms.common import ExportError
from service.cli import main
from tests.platforms.conftest import CRASHING, UNPARSABLE, WRONG, run_module, solution
from tests.platforms.spec import prairielearn_info_problems, prairielearn_problems, strict_json

IMAGE = "someone/gdlab-grader:0.1.0"


def export(tmp_path: Path, wheel: Path, exercise: str = "adam", **options) -> Path:
    from grader.catalog import load_catalog

    return prairielearn.export(load_catalog().get(exercise), tmp_path / "questions" / exercise,
                               image=IMAGE, wheel=wheel, **options)


@pytest.fixture
def question(tmp_path: Path, fake_wheel: Path) -> Path:
    return export(tmp_path, fake_wheel)


def data_json(files: dict[str, str]) -> dict:
    """The data object PrairieLearn serialises to /grade/data/data.json after the file
    editor's parse: the submitted files in ``submitted_answers._files``, base64."""
    return {"params": {"_required_file_names": list(files)}, "correct_answers": {},
            "submitted_answers": {"_files": [
                {"name": name, "contents": base64.b64encode(text.encode()).decode()}
                for name, text in files.items()]},
            "format_errors": {}, "partial_scores": {}, "score": 0, "feedback": {},
            "variant_seed": 1, "options": {}, "raw_submitted_answers": {}, "gradable": True}


def grade(question: Path, tmp_path: Path, files: dict[str, str], *, student: bool = True):
    """Lay out /grade as PrairieLearn does and run the entrypoint's module."""
    root = tmp_path / "grade"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(question / "tests", root / "tests")
    (root / "student").mkdir()
    (root / "data").mkdir()
    if student:
        for name, text in files.items():
            (root / "student" / name).write_text(text)
    (root / "data" / "data.json").write_text(json.dumps(data_json(files)))
    results = run_module("grader.platforms.prairielearn", root)
    text = (root / "results" / "results.json").read_text()
    assert prairielearn_problems(strict_json(text), len(text.encode())) == []
    return results


def test_the_question_folder_follows_prairielearns_layout(question):
    info = json.loads((question / "info.json").read_text())
    assert prairielearn_info_problems(info) == []
    assert info["gradingMethod"] == "External" and info["type"] == "v3"
    assert info["externalGradingOptions"] == {"enabled": True, "image": IMAGE,
                                              "entrypoint": "/grade/tests/run.sh",
                                              "timeout": 60}
    page = (question / "question.html").read_text()
    assert ('<pl-file-editor file-name="adam.py" ace-mode="ace/mode/python" '
            'source-file-name="starter.py">') in page
    assert "<pl-external-grader-results>" in page and "bias" in page
    assert "<code>def update(params, grad, lr, state, beta1, beta2, eps, **hyper)</code>" in page
    assert "{{" not in page  # question.html is a mustache template to PrairieLearn
    assert (question / "starter.py").read_text() == (
        Path(__file__).resolve().parents[2] / "exercises/adam/starter.py").read_text()
    assert (question / "tests/run.sh").stat().st_mode & 0o111
    assert "-m grader.platforms.prairielearn" in (question / "tests/run.sh").read_text()
    dockerfile = (question / "grader-image/Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "gdlab-0.1.0-py3-none-any.whl" in dockerfile
    assert (question / "grader-image/install.sh").is_file()


def test_a_correct_submission_scores_one_with_the_plot(question, tmp_path):
    results = grade(question, tmp_path, {"adam.py": solution()})
    assert results["gradable"] is True and results["score"] == 1.0
    assert len(results["tests"]) == 8
    assert all(t["points"] == t["max_points"] for t in results["tests"])
    [image] = results["images"]
    png = base64.b64decode(image["url"].removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG")
    assert "isolation layers active" in results["output"]


def test_a_wrong_submission_is_graded_below_one_and_says_where(question, tmp_path):
    results = grade(question, tmp_path, {"adam.py": WRONG})
    assert results["gradable"] is True and 0 <= results["score"] < 1
    assert "leave the reference at step 1" in results["message"]
    assert any(t["points"] < t["max_points"] for t in results["tests"])


def test_a_crashing_submission_is_graded_zero_with_the_error(question, tmp_path):
    results = grade(question, tmp_path, {"adam.py": CRASHING})
    assert results["gradable"] is True and results["score"] == 0
    assert "ZeroDivisionError on line 2" in results["message"]


@pytest.mark.parametrize(("files", "expected"), [
    ({"adam.py": UNPARSABLE}, "adam.py: Syntax error on line 1"),
    ({"adam.py": "x = 1\n"}, "adam.py: "),
    ({"a.py": WRONG, "b.py": WRONG}, "2 Python files were submitted"),
])
def test_an_unparsable_submission_is_not_gradable_and_costs_no_attempt(question, tmp_path,
                                                                        files, expected):
    results = grade(question, tmp_path, files)
    assert results["gradable"] is False and "score" not in results
    [error] = results["format_errors"]
    assert error.startswith(expected) and "\n" not in error


def test_the_submitted_file_is_read_from_data_json_when_student_is_empty(question, tmp_path):
    results = grade(question, tmp_path, {"adam.py": solution()}, student=False)
    assert results["score"] == 1.0


def test_an_existing_folder_is_kept_unless_forced_and_keeps_its_uuid(tmp_path, fake_wheel):
    first = export(tmp_path, fake_wheel)
    uuid = json.loads((first / "info.json").read_text())["uuid"]
    with pytest.raises(ExportError, match="exists; use --force"):
        export(tmp_path, fake_wheel)
    (first / "notes.md").write_text("the instructor's")
    again = export(tmp_path, fake_wheel, force=True, timeout=120)
    info = json.loads((again / "info.json").read_text())
    assert info["uuid"] == uuid and info["externalGradingOptions"]["timeout"] == 120
    assert (again / "notes.md").read_text() == "the instructor's"


def test_the_command_line_refuses_in_one_line(tmp_path, capsys):
    target = tmp_path / "q"
    target.mkdir()
    assert main(["export", "prairielearn", "adam", "-o", str(target)]) == 2
    assert capsys.readouterr().err.strip().endswith("exists; use --force to replace it")
    assert main(["export", "prairielearn", "nope", "-o", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.startswith("gdlab: error: no exercise 'nope'")
    assert main(["export", "prairielearn", "adam", "-o", str(tmp_path / "s"),
                 "--timeout", "900"]) == 2
    assert "600" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()
