"""gdlab as a Gradescope autograder.

Follows Gradescope's "Autograder Specifications"
(https://gradescope-autograders.readthedocs.io/en/latest/specs/, the text of
gradescope/autograder_samples docs/specs.md as of January 2025):

- the zip holds ``setup.sh`` and ``run_autograder`` at its root; Gradescope extracts it to
  ``/autograder/source``, runs ``setup.sh`` once (as root) when it builds the image, and
  copies ``run_autograder`` to ``/autograder/run_autograder``;
- for every submission the student's files are in ``/autograder/submission``, the working
  directory is ``/autograder``, and ``run_autograder`` must write
  ``/autograder/results/results.json``; what it prints goes to ``/autograder/results/stdout``,
  shown to instructors only (we leave ``stdout_visibility`` unset: hidden);
- ``results.json``: ``score`` (overrides the tests' total), ``execution_time`` (seconds),
  ``output`` with ``output_format`` (``html`` is rendered, after Gradescope's sanitising),
  ``extra_data`` (stored), and ``tests[]``, each with ``score``, ``max_score``, ``status``
  (``passed``/``failed``), ``name``, ``output`` and ``visibility`` (``hidden``,
  ``after_due_date``, ``after_published`` or ``visible``).

gdlab maps a graded submission to one test per visible run (case and learning rate,
``visibility: visible``) and one per hidden case (``after_published`` unless the export
says otherwise); the top-level ``output`` is HTML with the feedback, the diagnosis, the
loss-curve plot as an ``<img>`` with a ``data:`` URL, and which sandbox layers were active.

Run in the container as ``python -m grader.platforms.gradescope`` (``--root`` for another
place than ``/autograder``).
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.platforms.common import (
    CONFIG_FILE,
    EXERCISE_FOLDER,
    INSTALL_SCRIPT,
    MPLCONFIGDIR,
    PYTHON,
    ExportError,
    Graded,
    PlatformConfig,
    SubmissionError,
    build_wheel,
    copy_exercise,
    entry_of,
    find_submission,
    grade_source,
    html_report,
    protect,
    refuse_existing,
    rejected_sentence,
    tests_of,
)

if TYPE_CHECKING:
    from grader.catalog import Exercise

#: Gradescope's visibility values (specs, "Controlling Test Case Visibility").
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")

RUN_AUTOGRADER = f"""\
#!/usr/bin/env bash
# Gradescope runs this for every submission (as /autograder/run_autograder): gdlab grades
# /autograder/submission/*.py and writes /autograder/results/results.json.
export MPLCONFIGDIR={MPLCONFIGDIR}
exec {PYTHON} -m grader.platforms.gradescope --root /autograder
"""


# --- export -----------------------------------------------------------------------------------


def export(exercise: Exercise, out: Path, *, hidden_visibility: str = "after_published",
           points: float = 100.0, force: bool = False, wheel: Path | None = None) -> Path:
    """Write the autograder zip of ``exercise`` to ``out``.

    The zip holds, at its root: ``setup.sh`` (:data:`~grader.platforms.common.INSTALL_SCRIPT`),
    ``run_autograder``, a wheel of this gdlab (``wheel``, or one built now), the exercise
    folder under ``exercise/`` and ``gdlab-platform.json`` (the exercise id, the hidden
    tests' visibility, the points).

    Raises
    ------
    ExportError
        ``out`` exists (and not ``force``) or is a directory, a bad setting, or no wheel.
    """
    if hidden_visibility not in VISIBILITIES:
        raise ExportError(f"--hidden-visibility must be one of {', '.join(VISIBILITIES)}")
    if not points > 0:
        raise ExportError("--points must be positive")
    if out.is_dir():
        raise ExportError(f"{out} is a directory; give the zip file's name, e.g. "
                          "autograder.zip")
    refuse_existing(out, force)
    with tempfile.TemporaryDirectory(prefix="gdlab-gradescope-") as scratch:
        staging = Path(scratch) / "source"
        staging.mkdir()
        wheel = wheel or build_wheel(Path(scratch) / "wheel")
        shutil.copy2(wheel, staging / wheel.name)
        copy_exercise(exercise, staging / EXERCISE_FOLDER)
        PlatformConfig(exercise.id, hidden_visibility, float(points)).write(staging)
        (staging / "setup.sh").write_text(INSTALL_SCRIPT)
        (staging / "run_autograder").write_text(RUN_AUTOGRADER)
        partial = Path(scratch) / "autograder.zip"
        _zip(staging, partial)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(partial, out)
    return out


def _zip(folder: Path, target: Path) -> None:
    """Zip the files of ``folder`` at the archive's root (Gradescope looks for setup.sh
    and run_autograder there), scripts executable."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(),
                                   date_time=(2020, 1, 1, 0, 0, 0))
            executable = path.name in ("setup.sh", "run_autograder")
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


# --- results.json ------------------------------------------------------------------------------


def results(graded: Graded, config: PlatformConfig, elapsed: float) -> dict[str, Any]:
    """The ``results.json`` of a graded submission (see the module's documentation)."""
    points = config.points
    tests = []
    for test in tests_of(graded.result):
        tests.append({
            "name": test.name,
            "score": round(test.earned * points, 4),
            "max_score": round(test.weight * points, 4),
            "status": "passed" if test.passed else "failed",
            "output": test.output,
            "visibility": config.hidden_visibility if test.hidden else "visible",
        })
    result = graded.result
    return {
        "score": round(result.score / 100 * points, 4),
        "execution_time": max(1, round(elapsed)),
        "output": html_report(graded),
        "output_format": "html",
        "tests": tests,
        "extra_data": {"gdlab": {"exercise": result.exercise,
                                 "exercise_version": result.exercise_version,
                                 "score_percent": result.score,
                                 "sandbox_layers": graded.layers.to_dict(),
                                 "replay": result.to_dict()["replay"]}},
    }


def refused(sentence: str, elapsed: float = 0.0) -> dict[str, Any]:
    """A submission that could not be graded: score 0 and one sentence."""
    return {"score": 0.0, "execution_time": max(1, round(elapsed)),
            "output": f"<p>{html.escape(sentence)}</p>", "output_format": "html", "tests": []}


# --- in the container ------------------------------------------------------------------------


def run(root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` as ``run_autograder`` does and write
    ``root/results/results.json``; return what was written.

    Every outcome writes a results file: a missing or doubled ``.py`` file, code that does
    not parse or define the entry point, a sandbox failure, and a bug of gdlab's own (its
    traceback goes to stdout, which Gradescope shows instructors only).
    """
    from grader.sandbox import SandboxError, SourceRejectedError  # noqa: PLC0415

    start = time.monotonic()
    source_dir = root / "source"
    config = PlatformConfig.read(source_dir)
    exercises = source_dir / EXERCISE_FOLDER
    # the exercise (with its solution), the results, the platform's metadata: none of it
    # is for the sandbox's user ids (code in the sandbox gets nothing from there)
    protect(root)
    try:
        entry = entry_of(exercises / config.exercise)
        submission = find_submission(root / "submission", entry)
        graded = grade_source(exercises, config.exercise, submission.read_bytes())
        data = results(graded, config, time.monotonic() - start)
        print(f"gdlab: graded {submission.name}: {graded.result.score:g} / 100. "
              f"{graded.layers.sentence()}")
    except SubmissionError as problem:
        data = refused(str(problem), time.monotonic() - start)
    except SourceRejectedError as error:
        data = refused(rejected_sentence(submission.name, error), time.monotonic() - start)
    except SandboxError as error:
        data = refused(f"The autograder could not run your code ({error}); this is not your "
                       "fault: submit again, or tell your instructor.", time.monotonic() - start)
    except Exception:  # a bug of gdlab's: the student gets a sentence, instructors the trace
        traceback.print_exc(file=sys.stdout)
        data = refused("The autograder failed on this submission; this is not your fault: "
                       "tell your instructor.", time.monotonic() - start)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    # written whole at the end, never interleaved with prints (specs, "Troubleshooting")
    (results_dir / "results.json").write_text(json.dumps(data, allow_nan=False))
    return data


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.platforms.gradescope [--root /autograder]``."""
    parser = argparse.ArgumentParser(prog="python -m grader.platforms.gradescope",
                                     description="Grade a Gradescope submission with gdlab.")
    parser.add_argument("--root", default="/autograder", type=Path,
                        help="Gradescope's directory (default /autograder)")
    args = parser.parse_args(argv)
    if not (args.root / "source" / CONFIG_FILE).is_file():
        print(f"no {CONFIG_FILE} in {args.root / 'source'}: is this a gdlab autograder?",
              file=sys.stderr)
        return 2
    run(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
