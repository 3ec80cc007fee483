"""``gdlab export``: an exercise as a Gradescope autograder or a PrairieLearn question.

    gdlab export gradescope adam -o autograder.zip [--hidden-visibility after_due_date]
    gdlab export prairielearn adam -o questions/adam/ --image you/gdlab-grader:0.1.0

The work is in :mod:`grader.platforms`; this module is the command line only. Exit status
0 when written; 2 for bad usage (an unknown exercise, a target that exists without
``--force``, a bad setting), with one line on stderr; 1 when the wheel cannot be built.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.cli import common

EXIT_REFUSED = 2
EXIT_FAILED = 1


def add_export(commands, parser_class: type[argparse.ArgumentParser]) -> None:
    """``gdlab export gradescope|prairielearn ID -o PATH`` (sub-parsers of ``parser_class``)."""
    from grader.platforms.gradescope import VISIBILITIES

    export = commands.add_parser(
        "export", help="an exercise as a Gradescope autograder or a PrairieLearn question",
        description="Write an exercise in a course platform's own format, graded by gdlab "
                    "in the platform's container.")
    platforms = export.add_subparsers(dest="platform", required=True,
                                      parser_class=parser_class)
    gradescope = platforms.add_parser(
        "gradescope", help="an autograder zip (setup.sh, run_autograder, gdlab's wheel)",
        description="Write Gradescope's autograder zip for exercise ID: upload it as the "
                    "assignment's autograder.")
    gradescope.add_argument("id", help="the exercise id, e.g. adam")
    gradescope.add_argument("-o", "--output", required=True, help="the zip, e.g. autograder.zip")
    gradescope.add_argument("--hidden-visibility", default="after_published",
                            choices=VISIBILITIES,
                            help="when students see the hidden cases' tests (default "
                                 "after_published)")
    gradescope.add_argument("--points", type=float, default=100.0,
                            help="the autograder's points (default 100)")
    gradescope.add_argument("--force", action="store_true", help="replace an existing file")
    _wheel_option(gradescope)
    gradescope.set_defaults(handler=_gradescope)
    prairielearn = platforms.add_parser(
        "prairielearn", help="a question folder (info.json, question.html, tests/, image)",
        description="Write a PrairieLearn question folder for exercise ID, externally graded "
                    "by gdlab in the grader image its grader-image/ folder builds.")
    prairielearn.add_argument("id", help="the exercise id, e.g. adam")
    prairielearn.add_argument("-o", "--output", required=True,
                              help="the question's folder, e.g. questions/adam/")
    prairielearn.add_argument("--image", default=None,
                              help="the grader image on Docker Hub (default "
                                   "gdlab/grader:VERSION; build and push grader-image/)")
    prairielearn.add_argument("--timeout", type=int, default=60,
                              help="seconds a grading job may take (default 60, at most 600)")
    prairielearn.add_argument("--topic", default="Optimization",
                              help="the question's topic (default Optimization)")
    prairielearn.add_argument("--force", action="store_true",
                              help="rewrite an existing question (its uuid is kept)")
    _wheel_option(prairielearn)
    prairielearn.set_defaults(handler=_prairielearn)


def _wheel_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wheel", default=None,
                        help="ship this gdlab wheel (e.g. one an earlier export built) "
                             "instead of building one from this checkout")


def _wheel(args: argparse.Namespace) -> Path | None:
    """The ``--wheel`` given, checked (a usage error when it is not a gdlab wheel)."""
    from grader.platforms.common import ExportError

    if args.wheel is None:
        return None
    wheel = Path(args.wheel)
    if not (wheel.is_file() and wheel.name.startswith("gdlab-") and wheel.suffix == ".whl"):
        raise ExportError(f"--wheel {args.wheel} is not a gdlab wheel file (gdlab-*.whl)")
    return wheel


def _fail(message: str, status: int) -> int:
    print(f"gdlab: error: {' '.join(message.split())}", file=sys.stderr)
    return status


def _export(args: argparse.Namespace, write) -> int:
    from grader.platforms.common import ExportError, WheelError

    exercise = common.exercise(common.catalog(), args.id)  # UsageError: exit 2
    try:
        written = write(exercise, Path(args.output))
    except WheelError as error:
        return _fail(str(error), EXIT_FAILED)
    except ExportError as error:
        return _fail(str(error), EXIT_REFUSED)
    except OSError as error:
        return _fail(f"cannot write {args.output}: {error.strerror}", EXIT_REFUSED)
    print(f"wrote {written}")
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from grader.platforms import gradescope

    return _export(args, lambda exercise, out: gradescope.export(
        exercise, out, hidden_visibility=args.hidden_visibility, points=args.points,
        force=args.force, wheel=_wheel(args)))


def _prairielearn(args: argparse.Namespace) -> int:
    from grader.grading import gdlab_version
    from grader.platforms import prairielearn

    image = args.image or f"gdlab/grader:{gdlab_version()}"
    return _export(args, lambda exercise, out: prairielearn.export(
        exercise, out, image=image, timeout=args.timeout, topic=args.topic, force=args.force,
        wheel=_wheel(args)))
