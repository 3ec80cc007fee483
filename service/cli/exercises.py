"""``gdlab exercises``: the exercises of this installation (``GDLAB_EXERCISES_DIR`` or the
bundled ones).

- ``gdlab exercises list``: every exercise, one line each;
- ``gdlab exercises show ID``: an exercise's statement, contract and visible cases;
- ``gdlab exercises check [ID]``: grade each exercise's solution, starter and known
  mistakes in the sandbox (CI runs this); exit status 1 when one check fails;
- ``gdlab exercises fetch ID``: download a starter from a *server*
  (see :mod:`service.cli.submit`);
- ``gdlab exercises new ID --kind KIND``: start a new exercise folder that passes the
  check at once (see :mod:`service.cli.scaffold`);
- ``gdlab exercises notebook ID [-o FILE] [--force]``: the exercise as a Jupyter notebook,
  ready to submit from (:mod:`gdlab.notebook`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from service.cli import scaffold, submit
from service.cli.common import Parser, UsageError, catalog, exercise, grader
from service.report import table


def add_commands(commands) -> None:
    """``gdlab exercises list|show|check|fetch|new|notebook``."""
    exercises = commands.add_parser("exercises", help="list, show and check the exercises")
    actions = exercises.add_subparsers(dest="action", required=True, parser_class=Parser)
    listing = actions.add_parser("list", help="every exercise, one line each")
    listing.set_defaults(handler=list_command)
    show = actions.add_parser("show", help="an exercise's statement, contract and cases")
    show.add_argument("id")
    show.set_defaults(handler=show_command)
    check = actions.add_parser(
        "check", help="grade each exercise's solution, starter and mistakes (CI runs this)")
    check.add_argument("id", nargs="?", help="one exercise (default: all)")
    check.set_defaults(handler=check_command)
    submit.add_fetch(actions)
    scaffold.add_new(actions)
    notebook = actions.add_parser(
        "notebook", help="write an exercise as a Jupyter notebook, ready to submit from",
        description="Write ID as a notebook: the statement, the contract, the starter code "
                    "and a cell that submits it (gdlab.submit). An existing file is kept "
                    "unless --force.")
    notebook.add_argument("id")
    notebook.add_argument("-o", "--output", metavar="FILE",
                          help="the notebook to write (default: ID.ipynb)")
    notebook.add_argument("--force", action="store_true", help="overwrite FILE")
    notebook.set_defaults(handler=notebook_command)


def list_command(args: argparse.Namespace) -> int:
    """Print one line per exercise: id, kind, cases, title."""
    loaded = catalog()
    rows = [("id", "kind", "cases", "title")]
    for item in loaded.exercises.values():
        visible = len(item.visible_cases)
        rows.append((item.id, item.kind,
                     f"{visible} + {len(item.cases) - visible} hidden", item.title))
    print("\n".join(table(rows)))
    return 0


def show_command(args: argparse.Namespace) -> int:
    """Print an exercise: title, contract, visible cases, statement."""
    chosen = exercise(catalog(), args.id)
    contract = chosen.contract()
    print(f"{chosen.title} ({chosen.id}, version {chosen.version}, {chosen.kind})")
    print(chosen.summary)
    print(f"\nWrite:  def {contract.signature()}:")
    if chosen.hyper_names:
        print(f"Hyper-parameters passed: {', '.join(chosen.hyper_names)}")
    for case in chosen.visible_cases:
        rates = ", ".join(f"{lr:g}" for lr in case.learning_rates)
        print(f"Visible case '{case.name}': {case.problem}, learning rates {rates}, "
              f"{case.epochs} epochs" + (f", hyper {case.hyper}" if case.hyper else ""))
    hidden = len(chosen.cases) - len(chosen.visible_cases)
    print(f"Hidden cases: {hidden} (other data, starts and hyper-parameters)")
    print("\n" + chosen.statement.strip())
    return 0


def check_command(args: argparse.Namespace) -> int:
    """Self-check one exercise or all; exit status 1 when anything fails to load or check."""
    from grader.selfcheck import check_exercise

    loaded = catalog()
    chosen = ([exercise(loaded, args.id)] if args.id
              else list(loaded.exercises.values()))
    failures = len(loaded.errors) if not args.id else 0
    with grader(loaded) as grading:
        for item in chosen:
            for check in check_exercise(grading, item):
                print(check.line())
                failures += not check.passed
    print(f"\n{len(chosen)} exercise(s) checked: "
          + ("all good" if not failures else f"{failures} problem(s)"))
    return 1 if failures else 0


def notebook_command(args: argparse.Namespace) -> int:
    """Write the exercise as a notebook; an existing file is kept unless ``--force``."""
    from gdlab.notebook import build_notebook, write_notebook

    chosen = exercise(catalog(), args.id)
    path = Path(args.output or f"{chosen.id}.ipynb")
    try:
        write_notebook(build_notebook(chosen.describe(full=True)), path, force=args.force)
    except FileExistsError:
        raise UsageError(f"{path} already exists; it is kept (use --force to overwrite)") \
            from None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    print(f"Wrote {path}: open it in Jupyter, write {chosen.entry} in its starter cell, "
          "and run the last cell to submit it.")
    return 0
