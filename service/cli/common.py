"""What every ``gdlab`` command shares: its two error types, the parser class, the
``NAME=VALUE`` value syntax, the configuration, the exercises and a grader.

A command raises :class:`UsageError` for bad input (one line on stderr, exit status 2)
and :class:`SandboxFailureError` when the sandbox cannot run code (exit status 1);
:func:`service.cli.main` turns both into that one line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from marshmallow import ValidationError

from grader.engine import Component
from service import schemas
from service.config import Config, ConfigError

if TYPE_CHECKING:
    from grader.catalog import Catalog, Exercise
    from grader.grading import Grader

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit status 2."""


class SandboxFailureError(Exception):
    """The sandbox could not run the code: reported as one line, exit status 1."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# --- parsing values: the NAME=VALUE syntax is service.schemas' (the web forms' too) ---------


def parse_value(text: str) -> float | int | bool:
    """A command-line value: ``true``/``false``, an integer, or a float
    (:func:`service.schemas.parse_value`, refusals as :class:`UsageError`).

    Examples
    --------
    >>> parse_value("true"), parse_value("10"), parse_value("1e-3")
    (True, 10, 0.001)
    """
    try:
        return schemas.parse_value(text)
    except ValidationError as error:
        raise UsageError(_first(error.messages)) from None


def parse_assignment(text: str) -> tuple[str, float | int | bool]:
    """``NAME=VALUE`` into a pair (:func:`service.schemas.parse_assignment`), or
    :class:`UsageError`."""
    try:
        return schemas.parse_assignment(text)
    except ValidationError as error:
        raise UsageError(_first(error.messages)) from None


def _first(messages: Any) -> str:
    """The first message of marshmallow's (possibly keyed) messages."""
    while isinstance(messages, dict | list):
        messages = next(iter(messages.values())) if isinstance(messages, dict) \
            else messages[0]
    return str(messages)


def parse_component(text: str) -> Component:
    """``NAME`` or ``NAME:key=value,key=value`` into a :class:`Component`.

    Examples
    --------
    >>> parse_component("step:step_size=10,gamma=0.5")
    Component(name='step', options={'step_size': 10, 'gamma': 0.5})
    """
    name, _, rest = text.partition(":")
    options = dict(parse_assignment(part) for part in rest.split(",") if part.strip())
    return Component(name.strip(), options)


def number(text: str) -> float:
    """An argparse ``type``: a number (not true/false)."""
    value = parse_value(text)
    if isinstance(value, bool):
        raise UsageError(f"{text!r} is not a number")
    return float(value)


def whole(text: str) -> int:
    """An argparse ``type``: a whole number."""
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a whole number") from None


# --- output ------------------------------------------------------------------------------


def plot_format(path: str | None) -> str | None:
    """The format a ``--plot`` file name asks for (matplotlib is imported only then)."""
    if not path:
        return None
    from grader.plots import format_from_path

    try:
        return format_from_path(path)
    except ValueError as error:
        raise UsageError(str(error)) from None


def write(path: str, data: bytes) -> None:
    """Write a plot file, or :class:`UsageError` naming why it cannot be written."""
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise UsageError(f"cannot write the plot to {path}: {error.strerror}") from None


def report(data: dict[str, Any], text: Callable[[], str], args: argparse.Namespace) -> int:
    """Print ``data`` as JSON (``--json``) or ``text()``; say where the plot went."""
    if args.json:
        if args.plot:
            data["plot"] = str(args.plot)
        print(json.dumps(data, allow_nan=False))
    else:
        print(text())
        if args.plot:
            print(f"\nPlot written to {args.plot}")
    return 0


# --- configuration, exercises, grader ------------------------------------------------------


def config() -> Config:
    """The configuration (``GDLAB_*`` variables), or :class:`UsageError` naming the bad one."""
    try:
        return Config.from_env()
    except ConfigError as error:
        raise UsageError(str(error)) from None


def catalog() -> Catalog:
    """The exercises the service would load (``GDLAB_EXERCISES_DIR`` or the bundled ones)."""
    from grader.catalog import load_catalog

    loaded = load_catalog(config().exercises_dir)
    for error in loaded.errors:
        print(f"gdlab: warning: exercise left out: {error}", file=sys.stderr)
    return loaded


def exercise(exercises: Catalog, exercise_id: str) -> Exercise:
    """One exercise of ``exercises``, or :class:`UsageError` naming the known ones."""
    try:
        return exercises.get(exercise_id)
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None


@contextlib.contextmanager
def grader(exercises: Catalog) -> Iterator[Grader]:
    """A :class:`~grader.grading.Grader` on a sandbox runner of its own (or on
    ``GDLAB_SANDBOX_SOCKET``'s, the runner of a deployment), closed on exit."""
    from grader.grading import Grader
    from grader.sandbox import Sandbox, SandboxError

    settings = config()
    try:
        with Sandbox(settings.sandbox_limits, socket_path=settings.sandbox_socket) as sandbox:
            yield Grader(exercises, sandbox)
    except SandboxError as error:
        raise SandboxFailureError(str(error)) from None
