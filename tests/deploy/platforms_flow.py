"""The platform exports tested as the platforms run them, in Docker
(``tests/deploy/platforms_smoke.sh`` runs this once a Docker engine answers).

Gradescope: an image FROM python:3.11-slim with /autograder/source laid out from the zip
``gdlab export gradescope`` wrote, ``run_autograder`` copied to /autograder, and
``setup.sh`` run (it installs gdlab's wheel, its dependencies from the package index);
then, per case, a container of that image with the submission in /autograder/submission
runs /autograder/run_autograder, and /autograder/results/results.json is checked against
Gradescope's format: a correct, a wrong and a crashing submission, a folder without a
``.py`` file and one with two.

PrairieLearn: the image the question's own ``grader-image/Dockerfile`` builds; per case a
container with /grade/tests (the question's tests/), /grade/student, /grade/data/data.json
laid out and no network, running the question's entrypoint /grade/tests/run.sh;
results.json checked against PrairieLearn's format: correct, wrong, unparsable.

Each image is built once (both at the same time) and removed at the end.

    python -m tests.deploy.platforms_flow
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from tests.platforms.spec import (
    gradescope_problems,
    prairielearn_info_problems,
    prairielearn_problems,
    strict_json,
)

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = "adam"
SOLUTION = (ROOT / "exercises" / EXERCISE / "solution.py").read_text()
WRONG = "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n"
CRASHING = "def update(params, grad, lr, state, **hyper):\n    return params / 0.0 + 1 // 0\n"
UNPARSABLE = "def update(params, grad, lr, state, **hyper:\n    return params\n"
#: Reads the exercise's solution where the autograder keeps it (the zip's copy and the
#: installed package's) and prints what it got: the output must show a refusal.
SNOOPING = """\
for path in ["/autograder/source/exercise/adam/solution.py",
             "/opt/gdlab/venv/lib/python3.11/site-packages/exercises/adam/solution.py"]:
    try:
        print("READ", open(path).read())
    except OSError as error:
        print("REFUSED", type(error).__name__)
def update(params, grad, lr, state, **hyper):
    return params - lr * grad
"""

GRADESCOPE_DOCKERFILE = """\
FROM python:3.11-slim
COPY source /autograder/source
RUN cp /autograder/source/run_autograder /autograder/run_autograder \\
 && mkdir -p /autograder/submission /autograder/results \\
 && cd /autograder/source && bash ./setup.sh
WORKDIR /autograder
"""


class FlowError(AssertionError):
    """A check of the flow failed."""


def check(condition: bool, message: str) -> None:
    """Fail the flow with ``message`` unless ``condition``."""
    if not condition:
        raise FlowError(message)


def export(work: Path, image: str) -> tuple[Path, Path]:
    """Both exports, through the command line an instructor types: the Gradescope one
    builds gdlab's wheel, the PrairieLearn one ships that same wheel (``--wheel``)."""
    zipped, question = work / "autograder.zip", work / "questions" / EXERCISE
    cli = [sys.executable, "-m", "service.cli", "export"]
    started = time.monotonic()
    for command in ([*cli, "gradescope", EXERCISE, "-o", str(zipped)],
                    [*cli, "prairielearn", EXERCISE, "-o", str(question), "--image", image,
                     "--wheel", "WHEEL"]):
        if "WHEEL" in command:
            with zipfile.ZipFile(zipped) as archive:
                [name] = [n for n in archive.namelist() if n.endswith(".whl")]
                archive.extract(name, work)
            command[command.index("WHEEL")] = str(work / name)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                              check=False)
        check(done.returncode == 0, f"gdlab export failed: {done.stdout}{done.stderr}")
    info = json.loads((question / "info.json").read_text())
    check(prairielearn_info_problems(info) == [], "info.json breaks PrairieLearn's schema")
    print(f"ok  gdlab export gradescope -> {zipped.name}, prairielearn -> questions/"
          f"{EXERCISE}/ in {time.monotonic() - started:.0f} s")
    return zipped, question


def unzip(zipped: Path, target: Path) -> None:
    """Extract as an unzip tool does, with the files' modes (run_autograder executable)."""
    with zipfile.ZipFile(zipped) as archive:
        for info in archive.infolist():
            path = target / info.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(info))
            mode = info.external_attr >> 16
            if mode:
                path.chmod(mode & 0o777)


def build_images(contexts: dict[str, Path], logs: Path) -> None:
    """``docker build`` every context (tag: context) at the same time."""
    started = time.monotonic()
    jobs = {}
    for tag, context in contexts.items():
        log = (logs / f"{tag.replace(':', '_').replace('/', '_')}.log").open("wb")
        jobs[tag] = (subprocess.Popen(["docker", "build", "-t", tag, str(context)],
                                      stdout=log, stderr=subprocess.STDOUT), log)
    for tag, (job, log) in jobs.items():
        job.wait(timeout=900)
        log.close()
        if job.returncode != 0:
            tail = Path(log.name).read_text(errors="replace")[-3000:]
            raise FlowError(f"docker build {tag} failed:\n{tail}")
    print(f"ok  built {', '.join(contexts)} in {time.monotonic() - started:.0f} s "
          "(setup.sh / the question's Dockerfile, dependencies from the package index)")


def docker_run(arguments: list[str]) -> str:
    """``docker run --rm ...``; its output (what the platform keeps for instructors)."""
    done = subprocess.run(["docker", "run", "--rm", *arguments], capture_output=True,
                          text=True, timeout=600, check=False)
    check(done.returncode == 0, f"docker run failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout + done.stderr


def layers_of(text: str) -> str:
    """The sandbox's layer sentence in a platform's output."""
    found = re.search(r"Sandbox: \d+ of \d+ isolation layers active[^<\n]*", text)
    check(found is not None, "the results do not say which sandbox layers were active")
    return found.group(0)


# --- Gradescope --------------------------------------------------------------------------------


def gradescope_case(work: Path, image: str, name: str, files: dict[str, str]) -> dict[str, Any]:
    """One submission through a fresh container of the autograder image."""
    case = work / "gradescope" / name
    (case / "submission").mkdir(parents=True)
    (case / "results").mkdir()
    for file_name, text in files.items():
        (case / "submission" / file_name).write_text(text)
    docker_run(["-v", f"{case / 'submission'}:/autograder/submission",
                "-v", f"{case / 'results'}:/autograder/results", "-w", "/autograder",
                image, "/autograder/run_autograder"])
    text = (case / "results" / "results.json").read_text()
    results = strict_json(text)
    problems = gradescope_problems(results)
    check(problems == [], f"gradescope {name}: results.json breaks the spec: {problems}")
    return results


def gradescope_checks(work: Path, image: str) -> None:
    """The five Gradescope cases."""
    ok = gradescope_case(work, image, "correct", {"adam.py": SOLUTION})
    check(ok["score"] == 100 and all(t["status"] == "passed" for t in ok["tests"]),
          f"the solution scored {ok['score']}")
    visible = [t for t in ok["tests"] if t["visibility"] == "visible"]
    hidden = [t for t in ok["tests"] if t["visibility"] == "after_published"]
    check(len(visible) == 4 and len(hidden) == 4 and len(ok["tests"]) == 8,
          "not one test per visible run and one per hidden case")
    png = re.search(r'src="data:image/png;base64,([^"]+)"', ok["output"])
    check(png is not None and base64.b64decode(png.group(1)).startswith(b"\x89PNG"),
          "no plot in the output")
    print(f"ok  gradescope, correct: score 100, {len(visible)} visible + {len(hidden)} "
          f"after_published tests, plot embedded; {layers_of(ok['output'])}")
    wrong = gradescope_case(work, image, "wrong", {"adam.py": WRONG})
    check(0 <= wrong["score"] < 100 and any(t["status"] == "failed" for t in wrong["tests"]),
          f"plain GD scored {wrong['score']} on adam")
    print(f"ok  gradescope, wrong: score {wrong['score']:g}, the failed runs say where")
    crash = gradescope_case(work, image, "crashing", {"adam.py": CRASHING})
    check(crash["score"] == 0 and "ZeroDivisionError on line 2" in crash["output"],
          "a crashing submission is not score 0 with the error's sentence")
    print("ok  gradescope, crashing: score 0, 'ZeroDivisionError on line 2' shown")
    snoop = gradescope_case(work, image, "snooping", {"adam.py": SNOOPING})
    check(snoop["output"].count("REFUSED") == 2 and "READ" not in snoop["output"]
          and "m_hat" not in snoop["output"],
          "code in the sandbox read the exercise's solution")
    print("ok  gradescope, snooping: the sandbox's code cannot read the exercise's solution "
          f"({snoop['output'].count('REFUSED')} paths refused)")
    for name, files, expected in [
            ("no-py", {"README.txt": "hi"}, "No Python file was submitted"),
            ("two-py", {"a.py": WRONG, "b.py": SOLUTION}, "2 Python files were submitted")]:
        refused = gradescope_case(work, image, name, files)
        check(refused["score"] == 0 and expected in refused["output"]
              and "\n" not in refused["output"], f"{name}: not score 0 with one sentence")
        print(f"ok  gradescope, {name}: score 0, '{expected} ...'")


# --- PrairieLearn ------------------------------------------------------------------------------


def prairielearn_case(work: Path, question: Path, image: str, name: str,
                      files: dict[str, str]) -> dict[str, Any]:
    """One submission as PrairieLearn's grader runs it: /grade laid out, no network."""
    grade = work / "prairielearn" / name
    shutil.copytree(question / "tests", grade / "tests")
    (grade / "student").mkdir()
    (grade / "data").mkdir()
    for file_name, text in files.items():
        (grade / "student" / file_name).write_text(text)
    data = {"params": {"_required_file_names": list(files)}, "correct_answers": {},
            "submitted_answers": {"_files": [
                {"name": n, "contents": base64.b64encode(t.encode()).decode()}
                for n, t in files.items()]},
            "format_errors": {}, "partial_scores": {}, "score": 0, "feedback": {},
            "variant_seed": 1, "options": {}, "raw_submitted_answers": {}, "gradable": True}
    (grade / "data" / "data.json").write_text(json.dumps(data))
    entrypoint = json.loads((question / "info.json").read_text())[
        "externalGradingOptions"]["entrypoint"]
    docker_run(["--network", "none", "-v", f"{grade}:/grade", "-w", "/grade", image,
                entrypoint])
    text = (grade / "results" / "results.json").read_text()
    results = strict_json(text)
    problems = prairielearn_problems(results, len(text.encode()))
    check(problems == [], f"prairielearn {name}: results.json breaks the spec: {problems}")
    return results


def prairielearn_checks(work: Path, question: Path, image: str) -> None:
    """The three PrairieLearn cases."""
    ok = prairielearn_case(work, question, image, "correct", {"adam.py": SOLUTION})
    check(ok["gradable"] is True and ok["score"] == 1.0, f"the solution scored {ok.get('score')}")
    check(len(ok["images"]) == 1 and ok["images"][0]["url"].startswith("data:image/png;base64,"),
          "no plot in images[]")
    print(f"ok  prairielearn, correct: score 1.0, {len(ok['tests'])} tests, plot in images[]; "
          f"{layers_of(ok['output'])}")
    wrong = prairielearn_case(work, question, image, "wrong", {"adam.py": WRONG})
    check(wrong["gradable"] is True and wrong["score"] < 1, "plain GD is not below 1")
    print(f"ok  prairielearn, wrong: score {wrong['score']:g}")
    bad = prairielearn_case(work, question, image, "unparsable", {"adam.py": UNPARSABLE})
    check(bad["gradable"] is False and "score" not in bad
          and bad["format_errors"][0].startswith("adam.py: Syntax error on line 1"),
          "an unparsable submission is not gradable: false with format_errors")
    print(f"ok  prairielearn, unparsable: gradable false, format_errors "
          f"{bad['format_errors'][0]!r}")


def main() -> int:
    """Run the flow; exit 0 when every check holds."""
    tag = f"gdlab-platforms-smoke-{os.getpid()}"
    images = {"gradescope": f"{tag}-gradescope:latest",
              "prairielearn": f"{tag}-prairielearn:latest"}
    for image in images.values():
        check(subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                             check=False).returncode != 0, f"{image} exists before the build")
    work = Path(tempfile.mkdtemp(prefix="gdlab-platforms-"))
    try:
        zipped, question = export(work, images["prairielearn"])
        unzip(zipped, work / "gs-image" / "source")
        (work / "gs-image" / "Dockerfile").write_text(GRADESCOPE_DOCKERFILE)
        build_images({images["gradescope"]: work / "gs-image",
                      images["prairielearn"]: question / "grader-image"}, work)
        started = time.monotonic()
        gradescope_checks(work, images["gradescope"])
        prairielearn_checks(work, question, images["prairielearn"])
        print(f"ok  9 cases, a container each, in {time.monotonic() - started:.0f} s")
    except FlowError as error:
        print(f"FAILED: {error}")
        return 1
    finally:
        for image in images.values():
            subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True,
                           check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
