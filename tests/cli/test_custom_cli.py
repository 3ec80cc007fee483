"""``gdlab exercises new``, and an exercise's own problems from the command line: checked
with ``gdlab exercises check``, run with ``gdlab reference``, refused with the file and
the reason while the other exercises still load."""

from __future__ import annotations

import json
import shutil

import pytest

from grader.catalog import load_catalog
from grader.catalog.loader import default_directory
from grader.engine.problems import REGISTERED
from grader.kinds import NAMES as KINDS
from service.cli import main

from ..sandbox.conftest import needs_root


@pytest.fixture(autouse=True)
def _registered_problems_restored():
    """The engine's registry is one per process: put the bundled problems back."""
    kept = dict(REGISTERED)
    yield
    REGISTERED.clear()
    REGISTERED.update(kept)


@needs_root
def test_a_new_exercise_of_every_kind_passes_the_check_at_once(tmp_path, monkeypatch, capsys):
    for kind in KINDS:
        exercise_id = f"my-{kind.replace('_', '-')}"
        assert main(["exercises", "new", exercise_id, "--kind", kind,
                     "--dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert f"Wrote {tmp_path / exercise_id}/" in out
        assert f"gdlab exercises check {exercise_id}" in out
        files = sorted(p.relative_to(tmp_path / exercise_id).parent.as_posix()
                       for p in (tmp_path / exercise_id).rglob("*.py"))
        assert files.count("mistakes") == 1 and files.count(".") == 2
    monkeypatch.setenv("GDLAB_EXERCISES_DIR", str(tmp_path))
    assert main(["exercises", "check"]) == 0
    out = capsys.readouterr().out
    assert "3 exercise(s) checked: all good" in out
    assert out.count("ok   ") == 12 and "FAIL" not in out
    catalog = load_catalog(tmp_path)
    assert {e.kind for e in catalog.exercises.values()} == set(KINDS)


@pytest.mark.parametrize(("argv", "words"), [
    (["exercises", "new", "My_Exercise", "--kind", "update_rule"], "'My_Exercise' is not a "
                                                                  "valid exercise id"),
    (["exercises", "new", "gd", "--kind", "update_rule"], "already exists"),
    (["exercises", "new", "x", "--kind", "loss"], "invalid choice: 'loss'"),
    (["exercises", "new", "x"], "the following arguments are required: --kind"),
])
def test_a_new_exercise_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, capsys, argv,
                                                                      words):
    shutil.copytree(default_directory() / "gd", tmp_path / "gd")
    try:
        status = main([*argv, "--dir", str(tmp_path)])
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert words in err[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gd"]


@needs_root
@pytest.mark.parametrize("exercise_id", ["anscombe-gradient", "himmelblau-momentum"])
def test_the_bundled_exercises_with_their_own_problems_pass_the_check(capsys, exercise_id):
    assert main(["exercises", "check", exercise_id]) == 0
    out = capsys.readouterr().out
    assert f"ok   {exercise_id}/solution.py: score 100, no diagnosis" in out
    assert f"ok   {exercise_id}/hidden cases" in out


def test_the_reference_command_runs_an_exercises_problem(capsys):
    assert main(["reference", "--problem", "himmelblau-momentum/himmelblau", "--lr", "0.01",
                 "--epochs", "60", "--x0", "-0.5", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["problem_info"]["name"] == "himmelblau-momentum/himmelblau"
    assert data["runs"][0]["outcome"] == "converged"
    assert data["runs"][0]["final_params"] == pytest.approx([-2.805118, 3.131312], abs=1e-4)


@needs_root
def test_a_bad_instructor_module_is_named_and_the_rest_is_checked(tmp_path, monkeypatch,
                                                                  capsys):
    for exercise_id in ("gd", "himmelblau-momentum"):
        shutil.copytree(default_directory() / exercise_id, tmp_path / exercise_id)
    module = tmp_path / "himmelblau-momentum" / "himmelblau.py"
    module.write_text(module.read_text().replace("2 * a + 4 * y * b", "2 * a + 4 * b"))
    monkeypatch.setenv("GDLAB_EXERCISES_DIR", str(tmp_path))
    assert main(["exercises", "check"]) == 1
    captured = capsys.readouterr()
    [warning] = captured.err.strip().splitlines()
    assert warning.startswith("gdlab: warning: exercise left out: exercises/himmelblau-momentum/"
                              "himmelblau.py: gradient: does not match the loss: at (0, 0)")
    assert "ok   gd/solution.py: score 100" in captured.out
    assert "1 exercise(s) checked: 1 problem(s)" in captured.out
