"""``gdlab exercises new ID --kind KIND``: the command-line face of
:mod:`grader.catalog.scaffold` (a thin handler; the folder's contents live there)."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.catalog import default_directory
from grader.catalog.scaffold import ScaffoldError, scaffold
from grader.kinds import NAMES as KINDS
from service.cli.common import UsageError


def add_new(actions) -> None:
    """Register ``gdlab exercises new`` among the ``exercises`` actions."""
    new = actions.add_parser(
        "new", help="start a new exercise folder that passes 'gdlab exercises check' at once",
        description="Write ID/ (exercise.toml, README.md, starter.py, solution.py and one "
                    "mistake) into the exercises folder (GDLAB_EXERCISES_DIR, or the "
                    "bundled one), or into --dir.")
    new.add_argument("id", help="the new exercise's id, e.g. my-momentum")
    new.add_argument("--kind", required=True, choices=KINDS,
                     help="which function the student writes")
    new.add_argument("--dir", default=None,
                     help="the exercises folder to write into (default: the catalog's)")
    new.set_defaults(handler=new_command)


def new_command(args: argparse.Namespace) -> int:
    """Write the folder and say what to do next; :class:`UsageError` when it cannot."""
    directory = Path(args.dir) if args.dir else default_directory()
    try:
        folder = scaffold(directory, args.id, args.kind)
    except ScaffoldError as error:
        raise UsageError(str(error)) from None
    print(f"Wrote {folder}/ (exercise.toml, README.md, starter.py, solution.py, mistakes/).")
    where = "" if args.dir is None else f"GDLAB_EXERCISES_DIR={directory} "
    print(f"Next: edit them, then run  {where}gdlab exercises check {args.id}")
    return 0
