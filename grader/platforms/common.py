"""What the Gradescope and the PrairieLearn integrations share.

Inside a platform's container: :func:`find_submission` (exactly one ``.py`` file, or a
sentence saying what is wrong), :func:`grade_source` (gdlab's own grader in the sandbox,
with every isolation layer the container allows, and the layers it had), :func:`tests_of`
(the graded result as platform tests: one per visible run, one per hidden case) and
:func:`data_url` (the loss-curve plot as a ``data:image/png;base64`` URL).

At export time: :func:`build_wheel` (gdlab is not on the package index, so every export
ships a wheel of the gdlab it was made with), :func:`copy_exercise` and
:data:`INSTALL_SCRIPT` (installs that wheel, its dependencies coming from the package
index, into ``/opt/gdlab/venv``).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.catalog import Exercise
    from grader.grading import GradeResult, RunGrade

#: Where the install script puts gdlab in a platform's image, and the interpreter the
#: platform scripts run.
VENV = "/opt/gdlab/venv"
PYTHON = f"{VENV}/bin/python"
#: matplotlib's cache, built at install time (not at every submission).
MPLCONFIGDIR = "/opt/gdlab/matplotlib"
#: The folder of an export that holds the exercise (``<it>/<id>/exercise.toml`` ...).
EXERCISE_FOLDER = "exercise"
#: The export's settings, read by the in-container entrypoint.
CONFIG_FILE = "gdlab-platform.json"


class ExportError(Exception):
    """An export that cannot be made (the target exists, no gdlab source to build a wheel
    from ...): one sentence for the command line."""


class WheelError(ExportError):
    """gdlab's wheel cannot be built (no source tree, or the build failed)."""


class SubmissionError(Exception):
    """The submission cannot be graded as handed in (no ``.py`` file, several): the
    sentence says what to do."""


@dataclass(frozen=True)
class PlatformConfig:
    """What an export tells its in-container entrypoint.

    Attributes
    ----------
    exercise : str
        The exercise id (its folder is ``exercise/<id>`` beside the config).
    hidden_visibility : str
        Gradescope only: when students see the tests of hidden cases.
    points : float
        Gradescope only: the points of the whole autograder (the assignment's).
    """

    exercise: str
    hidden_visibility: str = "after_published"
    points: float = 100.0

    def write(self, folder: Path) -> None:
        """Save as :data:`CONFIG_FILE` in ``folder``."""
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, folder: Path) -> PlatformConfig:
        """Load from :data:`CONFIG_FILE` in ``folder``."""
        return cls(**json.loads((folder / CONFIG_FILE).read_text()))


# --- the submission --------------------------------------------------------------------


def find_submission(folder: Path, entry: str) -> Path:
    """The one ``.py`` file directly in ``folder``.

    Raises
    ------
    SubmissionError
        No ``.py`` file, or more than one (the sentence names them).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     find_submission(Path(folder), "update")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    grader.platforms.common.SubmissionError: No Python file was submitted: submit
    exactly one .py file that defines `update`.
    """
    files = sorted(p for p in folder.glob("*.py") if p.is_file()) if folder.is_dir() else []
    wanted = f"submit exactly one .py file that defines `{entry}`."
    if not files:
        raise SubmissionError(f"No Python file was submitted: {wanted}")
    if len(files) > 1:
        names = ", ".join(p.name for p in files)
        raise SubmissionError(f"{len(files)} Python files were submitted ({names}): {wanted}")
    return files[0]


def entry_of(exercise_dir: Path) -> str:
    """The function an exercise folder asks for (from its exercise.toml's kind, before
    the catalog loads), for the sentence of a missing file."""
    import tomllib  # noqa: PLC0415

    from grader import kinds  # noqa: PLC0415

    try:
        kind = tomllib.loads((exercise_dir / "exercise.toml").read_text())["kind"]
        return kinds.get(kind).entry
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "update"


def rejected_sentence(name: str, error: Any) -> str:
    """The sentence of code that fails gdlab's static checks (a SourceRejectedError),
    naming the file and, when the message does not, the line."""
    where = f"line {error.line}: " if error.line and "line" not in error.message else ""
    return f"{name}: {where}{error.message}"


def protect(path: Path) -> None:
    """Make ``path`` (the platform's directory: the exercise, the results, metadata)
    unreachable to the sandbox's per-slot user ids: a directory only its owner may enter
    hides everything below it, wherever the mount-namespace layer is missing.

    Only root can run children under other user ids, so only then does this matter; the
    platforms run their scripts as root.
    """
    if os.geteuid() == 0 and path.is_dir():
        with contextlib.suppress(OSError):  # a read-only mount: already unwritable
            path.chmod(0o700)


# --- grading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layers:
    """The sandbox's isolation layers in this container: active ones, and why the others
    are missing (as the runner reports them, see :mod:`grader.sandbox.layers`)."""

    active: tuple[str, ...]
    missing: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> Layers:
        """From a runner's status (:meth:`grader.sandbox.Sandbox.status`)."""
        layers = status.get("layers", {})
        return cls(tuple(name for name, entry in layers.items() if entry.get("active")),
                   {name: str(entry.get("missing") or "unavailable")
                    for name, entry in layers.items() if not entry.get("active")})

    def sentence(self) -> str:
        """E.g. "Sandbox: 10 of 12 isolation layers active (...); missing here: ...".

        Examples
        --------
        >>> Layers(("rlimits", "seccomp"), {"uid": "not root"}).sentence()
        'Sandbox: 2 of 3 isolation layers active (rlimits, seccomp); missing here: uid.'
        """
        total = len(self.active) + len(self.missing)
        text = (f"Sandbox: {len(self.active)} of {total} isolation layers active "
                f"({', '.join(self.active) or 'none'})")
        if self.missing:
            text += f"; missing here: {', '.join(self.missing)}"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"active": list(self.active), "missing": dict(self.missing)}


@dataclass(frozen=True)
class Graded:
    """A graded submission with what the platforms show beside it."""

    result: GradeResult
    layers: Layers
    plot_png: bytes | None


def grade_source(exercises: Path, exercise_id: str, source: bytes) -> Graded:
    """Grade ``source`` against ``exercise_id`` of the exercises folder ``exercises`` with
    gdlab's grader, in a sandbox runner started here (limits from ``GDLAB_SANDBOX_*``).

    Raises
    ------
    SourceRejectedError
        The code fails gdlab's static checks (syntax, entry point, size, encoding).
    SandboxError
        The sandbox could not run it.
    KeyError
        No such exercise in the folder.
    """
    from grader.catalog import load_catalog  # noqa: PLC0415 (numpy: only when grading)
    from grader.grading import Grader  # noqa: PLC0415
    from grader.limits import SandboxLimits  # noqa: PLC0415
    from grader.sandbox import Sandbox  # noqa: PLC0415

    catalog = load_catalog(exercises)
    exercise = catalog.get(exercise_id)
    with Sandbox(SandboxLimits.from_env()) as sandbox:
        layers = Layers.from_status(sandbox.status())
        result = Grader(catalog, sandbox).grade(exercise, source)
    return Graded(result, layers, _plot(result))


def _plot(result: GradeResult) -> bytes | None:
    """The overlay plot as PNG; None if it cannot be drawn (the grade stands without it)."""
    from grader.plots import plot_grade  # noqa: PLC0415

    try:
        return plot_grade(result, "png")
    except (ValueError, RuntimeError, OverflowError):
        return None


def data_url(png: bytes) -> str:
    """A PNG as a ``data:`` URL (RFC 2397), as PrairieLearn's ``images[]`` takes it and as
    an ``<img src>`` of Gradescope's HTML output.

    Examples
    --------
    >>> data_url(b"\\x89PNG")
    'data:image/png;base64,iVBORw=='
    """
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --- the result as platform tests ---------------------------------------------------------


@dataclass(frozen=True)
class PlatformTest:
    """One test as a platform lists it.

    Attributes
    ----------
    name : str
        E.g. ``case 'course' at lr 0.05`` or ``hidden case 'banana' (Rosenbrock, other
        betas)``.
    weight : float
        This test's share of the whole score (the weights of a result's tests add to 1).
    earned : float
        The share earned, 0 to ``weight``.
    passed : bool
        Every run of the test follows the reference (full marks).
    output : str
        What the student reads (for a hidden case: verdicts only, never its inputs).
    hidden : bool
        A hidden case's aggregate.
    """

    name: str
    weight: float
    earned: float
    passed: bool
    output: str
    hidden: bool


def tests_of(result: GradeResult) -> list[PlatformTest]:
    """The result as platform tests: one per visible run (case and learning rate), one
    per hidden case (its runs together, as verdict counts and a mean score).

    A run's weight is its share of gdlab's score (the mean of every run's score), so the
    tests' ``earned`` add up to ``result.score / 100``.
    """
    runs = result.runs
    count = len(runs) or 1
    tests = [_visible_test(run, count) for run in runs if run.visible]
    hidden: dict[str, list[RunGrade]] = {}
    for run in runs:
        if not run.visible:
            hidden.setdefault(run.case, []).append(run)
    tests += [_hidden_test(case, group, count) for case, group in hidden.items()]
    return tests


def _visible_test(run: RunGrade, count: int) -> PlatformTest:
    lines = [f"Verdict: {run.verdict}; score {run.score:.1f} / 100.",
             f"Your run: {run.outcome or 'no run'}; the reference: {run.reference_outcome}."]
    where = run.first_disagreement
    if where is not None:
        mine = where.get("student")
        yours = "nothing (your run had stopped)" if mine is None else _vector(mine)
        lines.append(f"First step that leaves the reference: {where['step']}: yours "
                     f"{yours}, the reference's {_vector(where['reference'])}.")
    elif run.score == 100:
        lines.append("Your parameters follow the reference at every step.")
    if run.story.error is not None:
        lines.append(f"Your code raised {run.story.error.sentence()}.")
    return PlatformTest(f"case '{run.case}' at lr {run.lr:g}", 1 / count,
                        run.score / 100 / count, run.score == 100, "\n".join(lines), False)


def _hidden_test(case: str, runs: Sequence[RunGrade], count: int) -> PlatformTest:
    verdicts: dict[str, int] = {}
    for run in runs:
        verdicts[run.verdict] = verdicts.get(run.verdict, 0) + 1
    mean = sum(run.score for run in runs) / len(runs)
    label = runs[0].story.label
    counted = ", ".join(f"{n} {verdict}" for verdict, n in verdicts.items())
    output = (f"{len(runs)} hidden run(s): {counted}; mean score {mean:.1f} / 100. "
              "A hidden case's inputs and output are never shown.")
    name = f"hidden case '{case}'" + (f" ({label})" if label else "")
    return PlatformTest(name, len(runs) / count, mean / 100 * len(runs) / count,
                        all(run.score == 100 for run in runs), output, True)


def _vector(values: Sequence[Any]) -> str:
    return "(" + ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values) + ")"


def summary_lines(graded: Graded) -> list[str]:
    """The submission in a few sentences: score, feedback, diagnosis."""
    result = graded.result
    lines = [f"Score: {result.score:g} / 100 ({result.exercise}, version "
             f"{result.exercise_version}).", result.feedback]
    lines += [f"Diagnosis: {d.message}" for d in result.diagnosis
              if d.message not in result.feedback]
    return lines


def html_report(graded: Graded, *, image: bool = True) -> str:
    """The submission as an HTML fragment: the summary, the plot (an ``<img>`` with a
    data URL), what the code printed, and the sandbox's layers. Everything from the
    submission is escaped."""
    parts = [f"<p>{html.escape(line)}</p>" for line in summary_lines(graded)]
    if image and graded.plot_png is not None:
        parts.append(f'<p><img alt="Your loss curves over the reference\'s" '
                     f'src="{data_url(graded.plot_png)}"></p>')
    if graded.result.stdout:
        parts.append(f"<p>Your code printed:</p><pre>{html.escape(graded.result.stdout)}</pre>")
    parts.append(f"<p><small>{html.escape(graded.layers.sentence())}</small></p>")
    return "\n".join(parts)


# --- exporting --------------------------------------------------------------------------------


def source_root() -> Path:
    """The gdlab source tree this gdlab runs from (``pyproject.toml`` beside ``grader/``).

    Raises
    ------
    WheelError
        gdlab was installed from a wheel: there is no source to build one from.
    """
    import grader  # noqa: PLC0415

    root = Path(grader.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise WheelError("exporting needs gdlab's source tree (pyproject.toml beside the "
                          "grader package) to build the wheel it ships; run it from a "
                          "checkout installed with `pip install -e .`")
    return root


def packages(root: Path) -> list[str]:
    """The top-level packages pyproject.toml ships (its setuptools ``include`` patterns,
    e.g. ``grader*``, that name a folder of ``root``)."""
    import tomllib  # noqa: PLC0415

    project = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    names = [pattern.rstrip("*").rstrip(".") for pattern in patterns]
    return [name for name in dict.fromkeys(names) if (root / name).is_dir()]


def build_wheel(folder: Path) -> Path:
    """Build a wheel of the running gdlab's source into ``folder`` and return its path.

    The sources are copied to a scratch directory first, so the build leaves nothing in
    the source tree; the build backend comes from the package index (pip's isolated
    build), as for any ``pip wheel``.

    Raises
    ------
    WheelError
        No source tree, or the build failed (pip's last line says why).
    """
    root = source_root()
    with tempfile.TemporaryDirectory(prefix="gdlab-wheel-") as scratch:
        tree = Path(scratch) / "gdlab"
        tree.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, tree / name)
        for package in packages(root):
            shutil.copytree(root / package, tree / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        folder.mkdir(parents=True, exist_ok=True)
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--disable-pip-version-check", "--wheel-dir", str(folder), str(tree)],
            capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("gdlab-*.whl"))
    if built.returncode != 0 or not wheels:
        last = (built.stderr.strip().splitlines() or ["no wheel was written"])[-1]
        raise WheelError(f"building gdlab's wheel failed: {last}")
    return wheels[-1]


def copy_exercise(exercise: Exercise, folder: Path) -> None:
    """Copy the exercise's folder (statement, starter, solution, mistakes, exercise.toml)
    to ``folder/<id>``, without caches."""
    if exercise.directory is None:
        raise ExportError(f"exercise {exercise.id!r} has no folder to export")
    shutil.copytree(exercise.directory, folder / exercise.id,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def refuse_existing(path: Path, force: bool) -> None:
    """Refuse to write over ``path`` unless ``force``.

    Raises
    ------
    ExportError
        ``path`` exists and ``force`` is false.
    """
    if path.exists() and not force:
        raise ExportError(f"{path} exists; use --force to replace it")


#: Installs gdlab from the wheel beside it, with its dependencies from the package index,
#: into /opt/gdlab/venv. Gradescope's ``setup.sh`` is this script (Gradescope runs it as
#: root when it builds the autograder image, on Ubuntu by default); the PrairieLearn grader
#: image runs it in its Dockerfile.
INSTALL_SCRIPT = f"""\
#!/usr/bin/env bash
# Installs gdlab (the wheel beside this script) and its dependencies (from the package
# index) into {VENV}. Run as root, once, when the grading image is built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \\
     && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    python=$candidate; break
  fi
done
if [ -z "$python" ] && command -v apt-get >/dev/null 2>&1; then
  # Ubuntu 22.04 (Gradescope's default base image) has Python 3.10; 3.11 is a package
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv >/dev/null
  python=python3.11
fi
if [ -z "$python" ]; then
  echo "gdlab needs Python 3.11 or newer and none is installed" >&2; exit 1
fi
# the sandbox's seccomp layer wraps the system's libseccomp
if ! ldconfig -p 2>/dev/null | grep libseccomp.so.2 >/dev/null \\
   && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp2 >/dev/null
fi
"$python" -m venv {VENV}
{VENV}/bin/pip install --no-cache-dir --disable-pip-version-check --quiet "$here"/gdlab-*.whl
# matplotlib's font cache now, not at every submission
mkdir -p {MPLCONFIGDIR}
MPLCONFIGDIR={MPLCONFIGDIR} {PYTHON} -c "import matplotlib.font_manager"
# student code runs under other user ids: the bundled exercises (and their solutions) are
# root's alone
chmod 700 "$({PYTHON} -c 'import exercises; print(list(exercises.__path__)[0])')"
echo "gdlab installed in {VENV}:" \\
  "$({PYTHON} -c 'import importlib.metadata as m; print(m.version("gdlab"))')"
"""
