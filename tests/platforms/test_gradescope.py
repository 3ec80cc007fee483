"""The Gradescope autograder: the zip's layout, and ``run_autograder``'s module run on this
machine against a directory laid out as Gradescope lays out /autograder (source from the
zip, submission, results), its results.json checked against Gradescope's specification.
The same in Docker, with setup.sh really run: tests/deploy/platforms_smoke.sh."""

from __future__ import annotations

import base64
import os
import re
import stat
import zipfile
from pathlib import Path

import pytest

from grader.platforms import gradescope
from grader.platforms.common import ExportError
from service.cli import main
from tests.platforms.conftest import CRASHING, UNPARSABLE, WRONG, run_module, solution
from tests.platforms.spec import gradescope_problems, strict_json


@pytest.fixture
def autograder(tmp_path: Path, fake_wheel: Path) -> Path:
    """/autograder as Gradescope lays it out: the zip extracted to source/, an empty
    submission/ (results/ is made by run_autograder)."""
    from grader.catalog import load_catalog

    zipped = gradescope.export(load_catalog().get("adam"), tmp_path / "autograder.zip",
                               wheel=fake_wheel)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    return root


def grade(root: Path, files: dict[str, str]) -> dict:
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    results = run_module("grader.platforms.gradescope", root)
    text = (root / "results" / "results.json").read_text()
    assert gradescope_problems(strict_json(text)) == []
    return results


def test_the_zip_has_setup_and_run_autograder_at_its_root_executable(tmp_path, fake_wheel):
    from grader.catalog import load_catalog

    zipped = gradescope.export(load_catalog().get("adam"), tmp_path / "ag.zip",
                               wheel=fake_wheel)
    with zipfile.ZipFile(zipped) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
    for name in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(infos[name].external_attr >> 16) == 0o755
    assert {"gdlab-0.1.0-py3-none-any.whl", "gdlab-platform.json",
            "exercise/adam/exercise.toml", "exercise/adam/mistakes/eps_inside.py"} <= set(infos)
    assert setup.startswith("#!/usr/bin/env bash") and "gdlab-*.whl" in setup
    assert run.startswith("#!") and "-m grader.platforms.gradescope" in run


def test_a_correct_submission_gets_every_point(autograder):
    results = grade(autograder, {"adam.py": solution()})
    assert results["score"] == 100
    visible = [t for t in results["tests"] if t["visibility"] == "visible"]
    hidden = [t for t in results["tests"] if t["visibility"] != "visible"]
    # adam: one visible case at four learning rates, four hidden cases
    assert [t["name"] for t in visible] == [f"case 'course' at lr {lr}"
                                            for lr in ("0.001", "0.05", "0.2", "1")]
    assert len(hidden) == 4 and all(t["visibility"] == "after_published" for t in hidden)
    assert all(t["status"] == "passed" and t["score"] == t["max_score"]
               for t in results["tests"])
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(100, abs=1e-3)
    assert results["output_format"] == "html"
    image = re.search(r'<img [^>]*src="data:image/png;base64,([^"]+)"', results["output"])
    assert image is not None and base64.b64decode(image.group(1)).startswith(b"\x89PNG")
    assert "isolation layers active" in results["output"]
    assert results["extra_data"]["gdlab"]["sandbox_layers"]["active"]


def test_a_wrong_submission_fails_tests_and_says_where(autograder):
    results = grade(autograder, {"adam.py": WRONG})
    assert 0 <= results["score"] < 100
    visible = [t for t in results["tests"] if t["visibility"] == "visible"]
    assert all(t["status"] == "failed" for t in visible)
    assert "leaves the reference" in visible[0]["output"]
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]),
                                             abs=1e-2)
    # a hidden case says nothing of its inputs: only verdicts and a mean score
    hidden = next(t for t in results["tests"] if t["visibility"] != "visible")
    assert "never shown" in hidden["output"] and "step" not in hidden["output"]


def test_a_crashing_submission_scores_zero_with_the_error_sentence(autograder):
    results = grade(autograder, {"adam.py": CRASHING})
    assert results["score"] == 0
    assert "ZeroDivisionError on line 2" in results["output"]
    assert "Traceback" not in results["output"]


@pytest.mark.parametrize(("files", "expected"), [
    ({"notes.txt": "hello"}, "No Python file was submitted"),
    ({"a.py": WRONG, "b.py": WRONG}, "2 Python files were submitted (a.py, b.py)"),
    ({"adam.py": UNPARSABLE}, "adam.py: Syntax error on line 1"),
])
def test_what_cannot_be_graded_scores_zero_with_one_sentence(autograder, files, expected):
    results = grade(autograder, files)
    assert results["score"] == 0 and results["tests"] == []
    assert expected in results["output"]
    assert results["output"].count("<p>") == 1 and "\n" not in results["output"]


def test_the_hidden_tests_visibility_is_the_exports(tmp_path, fake_wheel):
    from grader.catalog import load_catalog

    zipped = gradescope.export(load_catalog().get("gd"), tmp_path / "ag.zip", wheel=fake_wheel,
                               hidden_visibility="after_due_date", points=10)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    results = grade(root, {"gd.py": solution("gd")})
    assert results["score"] == 10
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_due_date"}


def test_an_existing_zip_is_kept_unless_forced(tmp_path, fake_wheel, capsys):
    from grader.catalog import load_catalog

    target = tmp_path / "autograder.zip"
    target.write_bytes(b"mine")
    with pytest.raises(ExportError, match="exists; use --force"):
        gradescope.export(load_catalog().get("adam"), target, wheel=fake_wheel)
    assert target.read_bytes() == b"mine"
    gradescope.export(load_catalog().get("adam"), target, wheel=fake_wheel, force=True)
    assert zipfile.is_zipfile(target)
    assert main(["export", "gradescope", "adam", "-o", str(target)]) == 2
    assert capsys.readouterr().err.strip().endswith("exists; use --force to replace it")


def test_the_command_line_refuses_an_unknown_exercise_in_one_line(tmp_path, capsys):
    assert main(["export", "gradescope", "no-such", "-o", str(tmp_path / "a.zip")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gdlab: error: no exercise 'no-such'") and err.count("\n") == 1
    assert not (tmp_path / "a.zip").exists()
    assert main(["export", "gradescope", "adam", "-o", str(tmp_path / "a.zip"),
                 "--hidden-visibility", "sometimes"]) == 2


def test_the_command_line_writes_the_zip_with_a_given_wheel(tmp_path, fake_wheel, capsys):
    target = tmp_path / "out" / "autograder.zip"
    assert main(["export", "gradescope", "adam", "-o", str(target), "--wheel",
                 str(fake_wheel), "--points", "5"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {target}"
    with zipfile.ZipFile(target) as archive:
        assert archive.read(fake_wheel.name) == fake_wheel.read_bytes()
        assert '"points": 5.0' in archive.read("gdlab-platform.json").decode()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a wheel")
    assert main(["export", "gradescope", "adam", "-o", str(tmp_path / "b.zip"), "--wheel",
                 str(notes)]) == 2
    assert "is not a gdlab wheel file" in capsys.readouterr().err


def test_the_autograders_directory_is_closed_to_the_sandboxs_users(autograder):
    before = stat.S_IMODE(autograder.stat().st_mode)
    grade(autograder, {"adam.py": WRONG})
    # as root (as on Gradescope) root alone may enter it: the sandbox runs student code
    # under other user ids; without root there are no other user ids to keep out
    expected = 0o700 if os.geteuid() == 0 else before
    assert stat.S_IMODE(autograder.stat().st_mode) == expected


def test_the_wheel_ships_every_package_pyproject_names():
    from grader.platforms.common import packages, source_root

    # the wheel is built from a copy of these folders: one missing would be left out
    assert {"grader", "service", "exercises"} <= set(packages(source_root()))
