"""The platforms' documented formats, as checks: each function returns the problems it
finds (an empty list: the document follows the spec).

Written from the platforms' own documentation, not from gdlab's code:

- Gradescope: "Autograder Specifications", https://gradescope-autograders.readthedocs.io/
  en/latest/specs/ (the "Output format", "Controlling Test Case Visibility", "Test case
  status" and "Output String Formatting" sections).
- PrairieLearn: "External Grading", https://prairielearn.readthedocs.io/en/latest/
  externalGrading/ ("Grading results": ``gradable``, ``score`` in [0, 1], ``format_errors``
  a string or a list of strings, ``tests[]``, ``images[]`` of ``{label, url}`` with a
  base64 data URL, at most 1 MB), and the question schema ``infoQuestion.json``
  (required ``uuid``/``type``/``title``/``topic``; ``externalGradingOptions`` requires
  ``image`` and ``entrypoint`` and allows no other keys than those listed below).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

GRADESCOPE_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
GRADESCOPE_FORMATS = {"text", "html", "simple_format", "md", "ansi"}
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                  "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output",
                   "output_format", "tags", "visibility", "extra_data"}
PRAIRIELEARN_LIMIT = 1_000_000
PL_QUESTION_KEYS = {"comment", "uuid", "type", "title", "topic", "tags", "clientFiles",
                    "clientTemplates", "template", "gradingMethod", "singleVariant",
                    "showCorrectAnswer", "partialCredit", "options", "externalGradingOptions",
                    "dependencies", "workspaceOptions", "sharingSets", "sharePublicly",
                    "shareSourcePublicly"}
PL_GRADING_KEYS = {"comment", "enabled", "image", "entrypoint", "serverFilesCourse", "timeout",
                   "enableNetworking", "environment"}
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def strict_json(text: str) -> Any:
    """Parse as JSON proper: NaN and Infinity, which JSON does not have, are refused."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _fields(obj: dict, where: str, *, strings: tuple[str, ...] = (),
            numbers: tuple[str, ...] = (), choices: dict[str, set[str]] | None = None) -> list[str]:
    """Type problems of the fields of ``obj`` that are present."""
    problems = [f"{where}{key} is not a string" for key in strings
                if key in obj and not isinstance(obj[key], str)]
    problems += [f"{where}{key} is not a number" for key in numbers
                 if key in obj and not _number(obj[key])]
    problems += [f"{where}{key} {obj[key]!r} is not one of {sorted(allowed)}"
                 for key, allowed in (choices or {}).items()
                 if key in obj and obj[key] not in allowed]
    return problems


def gradescope_problems(results: Any) -> list[str]:
    """What in a Gradescope ``results.json`` breaks the documented format."""
    if not isinstance(results, dict):
        return ["results.json is not an object"]
    problems = [f"unknown top-level key {key!r}" for key in results if key not in GRADESCOPE_TOP]
    tests = results.get("tests")
    if "score" not in results and not (
            isinstance(tests, list) and tests and all("score" in t for t in tests
                                                      if isinstance(t, dict))):
        problems.append("no top-level score and not every test has one")
    problems += _fields(results, "", strings=("output",), numbers=("score", "execution_time"),
                        choices={"output_format": GRADESCOPE_FORMATS,
                                 "test_output_format": GRADESCOPE_FORMATS,
                                 "test_name_format": GRADESCOPE_FORMATS,
                                 "visibility": GRADESCOPE_VISIBILITY,
                                 "stdout_visibility": GRADESCOPE_VISIBILITY})
    if "extra_data" in results and not isinstance(results["extra_data"], dict):
        problems.append("extra_data is not an object")
    if tests is None:
        return problems
    if not isinstance(tests, list):
        return [*problems, "tests is not a list"]
    for index, test in enumerate(tests):
        problems += [f"tests[{index}]: {p}" for p in _gradescope_test(test)]
    return problems


def _gradescope_test(test: Any) -> list[str]:
    if not isinstance(test, dict):
        return ["not an object"]
    problems = [f"unknown key {key!r}" for key in test if key not in GRADESCOPE_TEST]
    problems += _fields(test, "", strings=("name", "output", "number"),
                        numbers=("score", "max_score"),
                        choices={"status": {"passed", "failed"},
                                 "output_format": GRADESCOPE_FORMATS,
                                 "name_format": GRADESCOPE_FORMATS,
                                 "visibility": GRADESCOPE_VISIBILITY})
    if "tags" in test and not (isinstance(test["tags"], list)
                               and all(isinstance(t, str) for t in test["tags"])):
        problems.append("tags is not a list of strings")
    return problems


def prairielearn_problems(results: Any, size: int | None = None) -> list[str]:
    """What in a PrairieLearn ``results.json`` breaks the documented format (``size``: the
    file's length in bytes, checked against the 1 MB limit)."""
    if not isinstance(results, dict):
        return ["results.json is not an object"]
    problems = []
    if size is not None and size > PRAIRIELEARN_LIMIT:
        problems.append(f"{size} bytes, over PrairieLearn's 1 MB")
    gradable = results.get("gradable", True)
    if not isinstance(gradable, bool):
        problems.append("gradable is not a boolean")
    if gradable is False:
        problems += _format_errors(results.get("format_errors"))
    elif not _number(results.get("score")):
        problems.append("a gradable result has no numeric score")
    elif not 0.0 <= results["score"] <= 1.0:
        problems.append(f"score {results['score']} is not in [0, 1]")
    problems += _fields(results, "", strings=("message", "output"))
    problems += _images(results.get("images", []), "images")
    tests = results.get("tests", [])
    if not isinstance(tests, list):
        return [*problems, "tests is not a list"]
    for index, test in enumerate(tests):
        where = f"tests[{index}]"
        if not isinstance(test, dict):
            problems.append(f"{where} is not an object")
            continue
        problems += _fields(test, f"{where}.", strings=("name", "description", "message",
                                                        "output"),
                            numbers=("points", "max_points"))
        problems += _images(test.get("images", []), f"{where}.images")
    return problems


def _format_errors(errors: Any) -> list[str]:
    if errors is None or isinstance(errors, str) or (
            isinstance(errors, list) and all(isinstance(e, str) for e in errors)):
        return []
    return ["format_errors is not a string or a list of strings"]


def _images(images: Any, where: str) -> list[str]:
    if not isinstance(images, list):
        return [f"{where} is not a list"]
    problems = []
    for index, image in enumerate(images):
        url = image if isinstance(image, str) else (
            image.get("url") if isinstance(image, dict) else None)
        if isinstance(image, dict) and not isinstance(image.get("label", ""), str):
            problems.append(f"{where}[{index}].label is not a string")
        match = re.fullmatch(r"data:(image/[\w.+-]+);base64,(.*)", url or "", re.S)
        if match is None:
            problems.append(f"{where}[{index}].url is not a base64 data URL of an image")
            continue
        try:
            base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"{where}[{index}].url is not valid base64")
    return problems


def prairielearn_info_problems(info: Any) -> list[str]:
    """What in a question's ``info.json`` breaks PrairieLearn's question schema (for an
    externally graded question)."""
    if not isinstance(info, dict):
        return ["info.json is not an object"]
    problems = [f"unknown key {key!r}" for key in info if key not in PL_QUESTION_KEYS]
    problems += [f"missing {key}" for key in ("uuid", "type", "title", "topic")
                 if key not in info]
    if not UUID.match(str(info.get("uuid", ""))):
        problems.append("uuid is not a UUID")
    if info.get("type") not in ("Calculation", "MultipleChoice", "Checkbox", "File",
                                "MultipleTrueFalse", "v3"):
        problems.append("type is not a question type")
    if info.get("gradingMethod") not in ("Internal", "External", "Manual"):
        problems.append("gradingMethod is not Internal, External or Manual")
    options = info.get("externalGradingOptions")
    if not isinstance(options, dict):
        return [*problems, "no externalGradingOptions"]
    problems += [f"externalGradingOptions: unknown key {key!r}" for key in options
                 if key not in PL_GRADING_KEYS]
    problems += [f"externalGradingOptions: missing {key}" for key in ("image", "entrypoint")
                 if key not in options]
    if "timeout" in options and not (isinstance(options["timeout"], int)
                                     and not isinstance(options["timeout"], bool)):
        problems.append("externalGradingOptions.timeout is not an integer")
    return problems
