"""Reading the ``exercises/`` folders into checked :class:`Exercise` objects.

A broken exercise never stops the others: it is left out and reported with the file and
the field at fault, e.g. ``exercises/adam/exercise.toml: cases.1.hyper.beta1: must be in
[0, 1), got 1``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

import grader
from grader.catalog import custom
from grader.catalog.custom import custom_checks
from grader.catalog.model import Exercise, course_position
from grader.catalog.schema import ExerciseSchema, build_cases, build_mistakes
from grader.engine.options import SpecError
from grader.engine.runs import plan_run
from grader.limits import Limits, SandboxLimits
from grader.sandbox.errors import SourceRejectedError
from grader.sandbox.static import check_source

FILES = ("exercise.toml", "README.md", "starter.py", "solution.py")


@dataclass(frozen=True)
class CatalogError:
    """Why an exercise was left out: the file, the field (dotted) and the reason."""

    path: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Catalog:
    """The exercises that loaded, by id, and the errors of those that did not.

    ``exercises`` is in course order (each exercise's ``order``, then its id; those without
    an order last), so that every listing (the web page, the API, ``gdlab exercises list``)
    shows them as the course teaches them by iterating it.
    """

    exercises: dict[str, Exercise] = field(default_factory=dict)
    errors: tuple[CatalogError, ...] = ()

    def get(self, exercise_id: str) -> Exercise:
        """The exercise, or KeyError with the known ids."""
        try:
            return self.exercises[exercise_id]
        except KeyError:
            known = ", ".join(sorted(self.exercises)) or "none"
            raise KeyError(f"no exercise {exercise_id!r}; known: {known}") from None


class RefusedError(Exception):
    def __init__(self, errors: list[CatalogError]) -> None:
        super().__init__(errors)
        self.errors = errors


def default_directory() -> Path:
    """``GDLAB_EXERCISES_DIR``, or the ``exercises/`` folder shipped with gdlab."""
    configured = os.environ.get("GDLAB_EXERCISES_DIR")
    if configured:
        return Path(configured)
    return Path(grader.__file__).resolve().parent.parent / "exercises"


def _flatten(messages: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix and key != "_schema" else (prefix or str(key))
            if key == "_schema":
                name = prefix
            yield from _flatten(value, name)
    elif isinstance(messages, list):
        for item in messages:
            yield from _flatten(item, prefix)
    else:
        yield prefix, str(messages)


def _read_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RefusedError([CatalogError(label, "", "missing")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RefusedError([CatalogError(label, "", f"unreadable: {error}")]) from None


def load_exercise(directory: Path, limits: Limits | None = None,
                  sandbox_limits: SandboxLimits | None = None) -> Exercise:
    """Read and check one exercise folder (registering its own problems with the engine).

    Raises
    ------
    RefusedError
        With every problem found, each naming its file and field. The engine then knows
        none of the folder's own problems, not even those of an earlier load.
    """
    try:
        return _load_exercise(directory, limits, sandbox_limits)
    except RefusedError:
        custom.forget(directory.name)
        raise


def _load_exercise(directory: Path, limits: Limits | None,
                   sandbox_limits: SandboxLimits | None) -> Exercise:
    limits = limits or Limits()
    code_limit = (sandbox_limits or SandboxLimits()).code_limit
    base = f"exercises/{directory.name}"
    toml_label = f"{base}/exercise.toml"
    try:
        raw = tomllib.loads(_read_text(directory / "exercise.toml", toml_label))
    except tomllib.TOMLDecodeError as error:
        raise RefusedError([CatalogError(toml_label, "", f"not valid TOML: {error}")]) from None
    try:
        data = ExerciseSchema().load(raw)
    except ValidationError as error:
        raise RefusedError([CatalogError(toml_label, name, message)
                        for name, message in _flatten(error.messages)]) from None
    errors: list[CatalogError] = []
    if data["id"] != directory.name:
        errors.append(CatalogError(toml_label, "id",
                                   f"must match the folder name {directory.name!r}"))
    builders, problem_errors = custom.load_problems(directory, data["id"], data["problems"],
                                                    toml_label)
    errors += [CatalogError(e.path, e.field, e.message) for e in problem_errors]
    if problem_errors:
        raise RefusedError(errors)
    for case in data["cases"]:
        case["problem"] = custom.qualify(case["problem"], data["id"],
                                         [p["name"] for p in data["problems"]])
    custom.register(builders)
    return _checked(directory, data, errors, base=base, toml_label=toml_label, limits=limits,
                    code_limit=code_limit)


def _checked(directory: Path, data: dict[str, Any], errors: list[CatalogError], *, base: str,
             toml_label: str, limits: Limits, code_limit: int) -> Exercise:
    """The exercise of a schema-checked ``exercise.toml`` (its own problems registered),
    with its files read and every check run."""
    texts = {name: _read_text(directory / name, f"{base}/{name}") for name in FILES[1:]}
    sources = {}
    for mistake in data["mistakes"]:
        sources[mistake["file"]] = _read_text(directory / "mistakes" / mistake["file"],
                                              f"{base}/mistakes/{mistake['file']}")
    exercise = Exercise(
        id=data["id"], title=data["title"], version=data["version"], kind=data["kind"],
        summary=data["summary"], statement=texts["README.md"], starter=texts["starter.py"],
        solution=texts["solution.py"], cases=build_cases(data), reference=data["reference"],
        scoring=data["scoring"], mistakes=build_mistakes(data, sources),
        diagnoses={d["id"]: d["message"] for d in data["diagnoses"]}, directory=directory,
        order=data["order"],
    )
    errors += _check_cases(exercise, toml_label, limits)
    errors += _check_code(exercise, base, code_limit)
    errors += _check_diagnoses(exercise, toml_label)
    errors += custom_checks(exercise, toml_label)
    if errors:
        raise RefusedError(errors)
    return exercise


def _check_cases(exercise: Exercise, label: str, limits: Limits) -> list[CatalogError]:
    errors = []
    for index, case in enumerate(exercise.cases):
        try:
            spec = exercise.reference_spec(case)
            limits.check_spec(spec)
            limits.check_plan(plan_run(spec))
        except SpecError as error:
            errors.append(CatalogError(label, f"cases.{index}.{error.field}", error.message))
    return errors


def _check_code(exercise: Exercise, base: str, code_limit: int) -> list[CatalogError]:
    contract = exercise.contract()
    files = [("starter.py", exercise.starter), ("solution.py", exercise.solution)]
    files += [(f"mistakes/{m.file}", m.source) for m in exercise.mistakes]
    errors = []
    for name, source in files:
        try:
            check_source(source, contract, code_limit)
        except SourceRejectedError as error:
            where = f"line {error.line}" if error.line else ""
            errors.append(CatalogError(f"{base}/{name}", where, error.message))
    return errors


def _check_diagnoses(exercise: Exercise, label: str) -> list[CatalogError]:
    from grader.diagnosis import CATALOG  # noqa: PLC0415 (diagnosis imports the catalog model)

    errors = []
    for index, mistake in enumerate(exercise.mistakes):
        if mistake.diagnosis not in CATALOG and mistake.diagnosis not in exercise.diagnoses:
            errors.append(CatalogError(
                label, f"mistakes.{index}.diagnosis",
                f"unknown diagnosis {mistake.diagnosis!r}: define it under [[diagnoses]] or use "
                f"one of {', '.join(sorted(CATALOG))}"))
    return errors


def load_catalog(directory: Path | None = None, limits: Limits | None = None,
                 sandbox_limits: SandboxLimits | None = None) -> Catalog:
    """Load every exercise folder of ``directory`` (default: :func:`default_directory`).

    Folders without ``exercise.toml`` are skipped silently (notes, drafts); broken ones are
    reported in ``Catalog.errors`` and left out. The exercises come in course order.
    """
    directory = directory or default_directory()
    loaded: list[Exercise] = []
    errors: list[CatalogError] = []
    if not directory.is_dir():
        return Catalog({}, (CatalogError(str(directory), "", "no such exercises folder"),))
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        if not (folder / "exercise.toml").exists():
            continue
        try:
            exercise = load_exercise(folder, limits, sandbox_limits)
        except RefusedError as refused:
            errors.extend(refused.errors)
            continue
        loaded.append(exercise)
    in_course_order = sorted(loaded, key=course_position)
    return Catalog({exercise.id: exercise for exercise in in_course_order}, tuple(errors))
