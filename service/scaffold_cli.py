"""``gdlab exercises new ID --kind KIND``: the command-line face of
:mod:`grader.catalog.scaffold` (a thin handler; the folder's contents live there)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.catalog import KINDS, default_directory
from grader.catalog.scaffold import ScaffoldError, scaffold

#: Exit status of a refused command (as every gdlab command's one-line error).
EXIT_USAGE = 2


def add_new(actions) -> None:
    """Register ``gdlab exercises new``."""
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
    """Write the folder and say what to do next; a one-line error (exit 2) otherwise."""
    directory = Path(args.dir) if args.dir else default_directory()
    try:
        folder = scaffold(directory, args.id, args.kind)
    except ScaffoldError as error:
        print(f"gdlab: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Wrote {folder}/ (exercise.toml, README.md, starter.py, solution.py, mistakes/).")
    where = "" if args.dir is None else f"GDLAB_EXERCISES_DIR={directory} "
    print(f"Next: edit them, then run  {where}gdlab exercises check {args.id}")
    return 0
