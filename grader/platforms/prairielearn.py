"""gdlab as a PrairieLearn externally graded question.

Follows PrairieLearn's "External Grading" documentation
(https://prairielearn.readthedocs.io/en/latest/externalGrading/) and its question schema
(``infoQuestion.json``):

- ``info.json``: ``uuid``, ``title``, ``topic``, ``type: v3``, ``gradingMethod: External``
  and ``externalGradingOptions`` with ``enabled``, ``image``, ``entrypoint`` (an absolute
  path; a file under ``/grade`` is made executable by the grader) and ``timeout`` (seconds,
  an integer; at most 600);
- ``question.html``: a ``pl-file-editor`` (``file-name``, ``ace-mode``,
  ``source-file-name`` relative to the question folder) and ``pl-external-grader-results``
  in the submission panel;
- in the grading container: the question's ``tests/`` folder at ``/grade/tests``, the
  student's files at ``/grade/student``, the ``data`` object at ``/grade/data/data.json``
  (submitted files also there, base64, in ``submitted_answers._files``), and the results
  must be written to ``/grade/results/results.json`` (the folder is not created for us):
  ``gradable``, ``score`` in [0, 1], ``message``, ``output``, ``tests[]`` (``name``,
  ``description``, ``points``, ``max_points``, ``message``, ``output``) and ``images[]``
  (``label`` and ``url``, a base64 ``data:`` URL); the whole file at most 1 MB. A
  submission that cannot be graded is ``gradable: false`` with ``format_errors`` (a string
  or a list of strings): "no points will be awarded or lost, and the student will not be
  penalized an attempt".

Run in the container as ``python -m grader.platforms.prairielearn`` (``--root`` for
another place than ``/grade``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import json
import shutil
import sys
import tempfile
import traceback
import uuid
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
    data_url,
    entry_of,
    find_submission,
    grade_source,
    protect,
    refuse_existing,
    rejected_sentence,
    summary_lines,
    tests_of,
)

if TYPE_CHECKING:
    from grader.catalog import Exercise

#: PrairieLearn's limit on results.json ("this file should be limited to 1 MB").
RESULTS_LIMIT = 1_000_000
#: Longest grading job PrairieLearn allows (externalGradingOptions.timeout).
MAX_TIMEOUT = 600
ENTRYPOINT = "/grade/tests/run.sh"
RUN_SH = f"""\
#!/bin/sh
# PrairieLearn's entrypoint for this question (externalGradingOptions.entrypoint): gdlab
# grades /grade/student/*.py and writes /grade/results/results.json.
export MPLCONFIGDIR={MPLCONFIGDIR}
exec {PYTHON} -m grader.platforms.prairielearn --root /grade
"""
DOCKERFILE = """\
# The grader image of gdlab's PrairieLearn questions: Python 3.11 and gdlab, installed
# from the wheel beside this file (dependencies from the package index).
#   docker build -t YOUR_DOCKERHUB_NAME/gdlab-grader:{version} .
#   docker push YOUR_DOCKERHUB_NAME/gdlab-grader:{version}
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY install.sh {wheel} /tmp/gdlab-install/
RUN bash /tmp/gdlab-install/install.sh && rm -rf /tmp/gdlab-install
"""


# --- export -----------------------------------------------------------------------------------


def export(exercise: Exercise, out: Path, *, image: str, timeout: int = 60,
           topic: str = "Optimization", force: bool = False,
           wheel: Path | None = None) -> Path:
    """Write the PrairieLearn question of ``exercise`` into the folder ``out``.

    ``out`` gets ``info.json``, ``question.html``, ``starter.py`` (the editor's initial
    code), ``tests/`` (the entrypoint ``run.sh``, the exercise folder and
    ``gdlab-platform.json``) and ``grader-image/`` (a Dockerfile, the install script and a
    wheel of this gdlab: build it, push it, and name it in ``image``). With ``force`` an
    existing question is rewritten in place and keeps its ``uuid``.

    Raises
    ------
    ExportError
        ``out`` exists (and not ``force``) or is a file, or a bad setting.
    """
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ExportError(f"--timeout must be 1 to {MAX_TIMEOUT} seconds (PrairieLearn's "
                          "limit)")
    if not image.strip():
        raise ExportError("--image must name the grader image, e.g. you/gdlab-grader:0.1.0")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; give the question's folder")
    refuse_existing(out, force)
    question_id = _existing_uuid(out) or str(uuid.uuid4())
    with tempfile.TemporaryDirectory(prefix="gdlab-prairielearn-") as scratch:
        wheel = wheel or build_wheel(Path(scratch) / "wheel")
        out.mkdir(parents=True, exist_ok=True)
        for ours in ("tests", "grader-image"):
            shutil.rmtree(out / ours, ignore_errors=True)
        tests = out / "tests"
        tests.mkdir()
        copy_exercise(exercise, tests / EXERCISE_FOLDER)
        PlatformConfig(exercise.id).write(tests)
        (tests / "run.sh").write_text(RUN_SH)
        (tests / "run.sh").chmod(0o755)
        image_dir = out / "grader-image"
        image_dir.mkdir()
        shutil.copy2(wheel, image_dir / wheel.name)
        (image_dir / "install.sh").write_text(INSTALL_SCRIPT)
        version = wheel.name.split("-")[1]
        (image_dir / "Dockerfile").write_text(DOCKERFILE.format(version=version,
                                                                wheel=wheel.name))
    (out / "info.json").write_text(json.dumps(
        info_json(exercise, question_id, image, timeout, topic), indent=2) + "\n")
    (out / "starter.py").write_text(exercise.starter)
    (out / "question.html").write_text(question_html(exercise))
    return out


def _existing_uuid(out: Path) -> str | None:
    """The uuid of the question already in ``out`` (PrairieLearn knows it by that)."""
    try:
        found = json.loads((out / "info.json").read_text()).get("uuid")
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def info_json(exercise: Exercise, question_id: str, image: str, timeout: int,
              topic: str) -> dict[str, Any]:
    """The question's ``info.json``."""
    return {
        "uuid": question_id,
        "title": exercise.title,
        "topic": topic,
        "tags": ["gdlab", exercise.kind],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True,
            "image": image,
            "entrypoint": ENTRYPOINT,
            "timeout": timeout,
        },
    }


def submission_name(exercise: Exercise) -> str:
    """The file the student edits, e.g. ``adam.py``."""
    return f"{exercise.id}.py"


def question_html(exercise: Exercise) -> str:
    """The question: the statement, the contract, an editor with the starter code, and the
    grader's results in the submission panel."""
    from markdown_it import MarkdownIt  # noqa: PLC0415

    statement = MarkdownIt("commonmark", {"html": False}).enable("table").render(
        exercise.statement)
    # question.html is a mustache template to PrairieLearn: braces of the statement's code
    # must reach the page as text
    statement = statement.replace("{", "&#123;").replace("}", "&#125;")
    contract = exercise.contract()
    arguments = ", ".join((*contract.params, *contract.keywords, "**hyper"))
    signature = html.escape(f"{contract.entry}({arguments})")
    name = submission_name(exercise)
    return f"""\
<pl-question-panel>
{statement}
  <p>Write <code>def {signature}</code> in <code>{name}</code>. It is graded by gdlab: your
  function runs in a sandbox on the cases above and on hidden ones, and is compared step by
  step with the reference.</p>
  <pl-file-editor file-name="{name}" ace-mode="ace/mode/python" source-file-name="starter.py">
  </pl-file-editor>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""


# --- results.json -------------------------------------------------------------------------------


def results(graded: Graded) -> dict[str, Any]:
    """The ``results.json`` of a graded submission. The plot is left out if it would take
    the file past PrairieLearn's 1 MB (the message says so)."""
    tests = [{
        "name": test.name,
        "description": "hidden case: verdicts only" if test.hidden else "visible run",
        "points": round(test.earned * 100, 2),
        "max_points": round(test.weight * 100, 2),
        "message": "passed" if test.passed else "not full marks",
        "output": test.output,
    } for test in tests_of(graded.result)]
    output = "\n".join([graded.layers.sentence(),
                        *(["Your code printed:", graded.result.stdout]
                          if graded.result.stdout else [])])
    data: dict[str, Any] = {
        "gradable": True,
        "score": min(1.0, max(0.0, graded.result.score / 100)),
        "message": " ".join(summary_lines(graded)),
        "output": output,
        "tests": tests,
        "images": [],
        "sandbox_layers": graded.layers.to_dict(),
    }
    if graded.plot_png is not None:
        image = {"label": "Your loss curves over the reference's",
                 "url": data_url(graded.plot_png)}
        if len(json.dumps(data)) + len(json.dumps(image)) < RESULTS_LIMIT:
            data["images"].append(image)
        else:
            data["message"] += " (The plot was left out: it is too large to send.)"
    return data


def not_gradable(sentences: list[str]) -> dict[str, Any]:
    """A submission that cannot be graded: it costs the student no attempt."""
    return {"gradable": False, "format_errors": sentences, "message": " ".join(sentences)}


# --- in the container ------------------------------------------------------------------------


def student_source(root: Path, entry: str) -> tuple[str, bytes]:
    """The student's file: the one ``.py`` in ``root/student``, else the one in
    ``submitted_answers._files`` of ``root/data/data.json`` (base64 contents).

    Raises
    ------
    SubmissionError
        None, or several.
    """
    try:
        path = find_submission(root / "student", entry)
        return path.name, path.read_bytes()
    except SubmissionError as problem:
        files = _data_files(root / "data" / "data.json")
        if len(files) == 1:
            return files[0]
        raise problem from None


def _data_files(path: Path) -> list[tuple[str, bytes]]:
    try:
        data = json.loads(path.read_text())
        entries = data["submitted_answers"]["_files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.endswith(".py"):
            continue
        try:
            found.append((name, base64.b64decode(entry.get("contents") or "", validate=True)))
        except (binascii.Error, ValueError):
            continue
    return found


def run(root: Path) -> dict[str, Any]:
    """Grade the submission under ``root`` (PrairieLearn's ``/grade``) and write
    ``root/results/results.json``; return what was written. Every outcome writes one."""
    from grader.sandbox import SandboxError, SourceRejectedError  # noqa: PLC0415

    tests_dir = root / "tests"
    config = PlatformConfig.read(tests_dir)
    exercises = tests_dir / EXERCISE_FOLDER
    # the exercise (with its solution), the results, the platform's metadata: none of it
    # is for the sandbox's user ids (code in the sandbox gets nothing from there)
    protect(root)
    try:
        name, source = student_source(root, entry_of(exercises / config.exercise))
        graded = grade_source(exercises, config.exercise, source)
        data = results(graded)
        print(f"gdlab: graded {name}: {graded.result.score:g} / 100. "
              f"{graded.layers.sentence()}")
    except SubmissionError as problem:
        data = not_gradable([str(problem)])
    except SourceRejectedError as error:
        data = not_gradable([rejected_sentence(name, error)])
    except SandboxError as error:
        data = not_gradable([f"The grader could not run your code ({error}); this is not "
                             "your fault: submit again, or tell your instructor."])
    except Exception:  # a bug of gdlab's: the student gets a sentence, instructors the trace
        traceback.print_exc(file=sys.stdout)
        data = not_gradable(["The grader failed on this submission; this is not your fault: "
                             "tell your instructor."])
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)  # not created by PrairieLearn
    (results_dir / "results.json").write_text(json.dumps(data, allow_nan=False))
    return data


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.platforms.prairielearn [--root /grade]``."""
    parser = argparse.ArgumentParser(prog="python -m grader.platforms.prairielearn",
                                     description="Grade a PrairieLearn submission with gdlab.")
    parser.add_argument("--root", default="/grade", type=Path,
                        help="the grading job's directory (default /grade)")
    args = parser.parse_args(argv)
    if not (args.root / "tests" / CONFIG_FILE).is_file():
        print(f"no {CONFIG_FILE} in {args.root / 'tests'}: is this a gdlab question?",
              file=sys.stderr)
        return 2
    run(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
