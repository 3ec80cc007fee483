"""The ``gdlab`` command line.

``gdlab reference`` runs the reference engine: with no arguments, the course example
(linear regression, plain gradient descent, learning rates 0.01, 0.1 and 0.5, 100 epochs)
as a readable table, optionally as JSON and as a plot. Bad input is one line on stderr
and exit status 2, never a traceback.

Examples
--------
    gdlab reference
    gdlab reference --init legacy --plot seed.png
    gdlab reference --problem rosenbrock --optimizer adam --lr 0.01 0.05 --epochs 500
    gdlab reference --optimizer sgd --set momentum=0.9 --set nesterov=true --json
    gdlab reference --problem quadratic:condition=100 --schedule cosine:T_max=50
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from grader.engine import (
    CLIPS,
    OPTIMIZERS,
    PROBLEMS,
    REGULARIZER_NAMES,
    SCHEDULES,
    Component,
    RunSpec,
    SpecError,
    SweepResult,
    plan_run,
)
from grader.engine.runs import SEED_EPOCHS, SEED_LEARNING_RATES, execute
from grader.limits import Limits
from service import client_cli, scaffold_cli
from service.config import Config, ConfigError
from service.report import format_grade, table

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit status 2."""


class SandboxFailureError(Exception):
    """The sandbox could not run the code: reported as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# --- parsing values ------------------------------------------------------------------


def parse_value(text: str) -> float | int | bool:
    """A command-line value: ``true``/``false``, an integer, or a float.

    Examples
    --------
    >>> parse_value("true"), parse_value("10"), parse_value("1e-3")
    (True, 10, 0.001)
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(lowered)
    except ValueError:
        pass
    try:
        return float(lowered)
    except ValueError:
        raise UsageError(f"{text!r} is not a number or true/false") from None


def parse_assignment(text: str) -> tuple[str, float | int | bool]:
    """``NAME=VALUE`` into a pair, or :class:`UsageError`."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise UsageError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), parse_value(value)


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


def _number(text: str) -> float:
    value = parse_value(text)
    if isinstance(value, bool):
        raise UsageError(f"{text!r} is not a number")
    return float(value)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a whole number") from None


# --- the reference command -------------------------------------------------------------


def _add_reference(commands) -> None:
    ref = commands.add_parser(
        "reference",
        help="run the reference engine (default: the course example)",
        description="Run the reference gradient-descent engine over several learning rates.",
        epilog=(
            f"problems: {', '.join(PROBLEMS)}; optimizers: {', '.join(OPTIMIZERS)}; "
            f"schedules: {', '.join(SCHEDULES)}; regularizers: {', '.join(REGULARIZER_NAMES)}; "
            f"clipping: {', '.join(CLIPS)}. "
            "Components take options as NAME:key=value,key=value."
        ),
    )
    ref.add_argument("--problem", default="linear-regression", metavar="P[:OPTS]",
                     help="problem, with options, e.g. quadratic:condition=100,dim=5")
    ref.add_argument("--optimizer", default="sgd", metavar="O", help="optimizer (default sgd)")
    # "extend" so that repeating an option adds to it (--lr 0.01 --lr 0.1 runs both) rather
    # than silently keeping the last; the course's rates are filled in only when none is given.
    ref.add_argument("--lr", nargs="+", action="extend", type=_number, metavar="LR",
                     help="learning rates, repeatable (default 0.01 0.1 0.5)")
    ref.add_argument("--epochs", type=_int, default=SEED_EPOCHS, help="epochs (default 100)")
    ref.add_argument("--init", default="shared", help="shared (default) or legacy")
    ref.add_argument("--seed", type=_int, default=None,
                     help="draw data, start and batch order from this seed (default: classic)")
    ref.add_argument("--x0", nargs="+", action="extend", type=_number, metavar="X",
                     help="explicit starting point, one number per coordinate (repeatable: "
                          "--x0 1 --x0 2 is --x0 1 2)")
    ref.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     help="optimizer hyper-parameter (numbers, true/false); repeatable")
    ref.add_argument("--schedule", default="constant", metavar="S[:OPTS]",
                     help="learning-rate schedule, e.g. step:step_size=10,gamma=0.5")
    ref.add_argument("--regularizer", default="none", metavar="R[:lam=L]",
                     help="regulariser, e.g. l2:lam=0.01 or l1-prox:lam=0.1")
    ref.add_argument("--clip", default="none", metavar="C[:OPTS]",
                     help="gradient clipping, e.g. norm:max_norm=1 or value:clip_value=0.5")
    ref.add_argument("--batch-size", type=_int, default=None,
                     help="mini-batch size (data problems only)")
    ref.add_argument("--tolerance", type=_number, default=1e-6,
                     help="relative tolerance for convergence (default 1e-6)")
    ref.add_argument("--json", action="store_true", help="print one JSON object")
    ref.add_argument("--plot", metavar="FILE", help="write the plot to FILE.png or FILE.svg")
    ref.set_defaults(handler=_reference)


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The :class:`RunSpec` that the ``reference`` arguments describe."""
    problem = parse_component(args.problem)
    return RunSpec(
        problem=problem.name,
        problem_options=problem.options,
        optimizer=args.optimizer,
        hyper=dict(parse_assignment(item) for item in args.set),
        learning_rates=list(args.lr or SEED_LEARNING_RATES),
        epochs=args.epochs,
        init=args.init,
        seed=args.seed,
        x0=args.x0,
        schedule=parse_component(args.schedule),
        regularizer=parse_component(args.regularizer),
        clip=parse_component(args.clip),
        batch_size=args.batch_size,
        tolerance=args.tolerance,
    )


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def format_table(result: SweepResult) -> str:
    """The human-readable report of a sweep: what ran, the stability facts, one row per lr."""
    plan = result.plan
    hyper = ", ".join(f"{k}={_fmt(v) if not isinstance(v, bool) else str(v).lower()}"
                      for k, v in plan.hyper.items())
    minimum = plan.problem.minimum
    point = ", ".join(_fmt(x) for x in minimum.point)
    lines = [
        f"Problem    {plan.problem.name} ({', '.join(plan.problem.param_names)}): "
        f"minimum loss {_fmt(minimum.value, 6)} at ({point})",
        f"Optimizer  {plan.optimizer.name} ({hyper})",
        f"Schedule   {plan.schedule.name}"
        + (f" ({', '.join(f'{k}={v}' for k, v in plan.schedule_options.items())})"
           if plan.schedule_options else ""),
        f"Run        {plan.spec.epochs} epochs x {plan.steps_per_epoch} step(s), "
        f"start {plan.spec.init}, seed {'classic' if plan.spec.seed is None else plan.spec.seed}",
    ]
    if plan.regularizer.active:
        lines.append(f"Regularizer {plan.regularizer.kind} (lam={plan.regularizer.lam:g})")
    if plan.clip.kind != "none":
        lines.append(f"Clipping   {plan.clip.kind} {dict(plan.clip.options or {})}")
    facts = result.stability
    if facts is not None:
        eig = ", ".join(_fmt(e) for e in facts.eigenvalues[:6])
        lines += [
            f"Stability  Hessian eigenvalues {eig} "
            f"(condition number {_fmt(facts.condition_number)})",
            f"           max stable lr for plain GD {_fmt(facts.gd_max_lr)} (2/lambda_max), "
            f"best constant lr {_fmt(facts.gd_best_lr)}",
            f"           heavy ball (mu {facts.momentum:g}) {_fmt(facts.heavy_ball_max_lr)}, "
            f"Nesterov (mu {facts.momentum:g}) {_fmt(facts.nesterov_max_lr)}",
            "           this optimizer: "
            + (f"lr < {_fmt(facts.max_stable_lr)} ({facts.rule})"
               if facts.max_stable_lr is not None else facts.rule),
        ]
    max_stable = facts.max_stable_lr if facts is not None else None
    header = ("lr", "first loss", "final loss", "outcome", "steps to tol", "max stable lr")
    rows = [header]
    for run in result.runs:
        losses = run.losses
        stable = "-" if max_stable is None else (
            f"{_fmt(max_stable)} ({'below' if run.lr < max_stable else 'ABOVE'})")
        rows.append((
            f"{run.lr:g}",
            _fmt(float(losses[0])) if len(losses) else "-",
            _fmt(float(losses[-1])) if len(losses) else "-",
            run.outcome + (f" at step {run.diverged_at}" if run.diverged_at is not None else ""),
            "-" if run.steps_to_tolerance is None else str(run.steps_to_tolerance),
            stable,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines.append("")
    for row in rows:
        lines.append("  ".join(cell.rjust(width) if i in (0, 1, 2, 4) else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths, strict=True)))
                     .rstrip())
    return "\n".join(lines)


def _plot_format(path: str | None) -> str | None:
    """The format a ``--plot`` file name asks for (matplotlib is imported only then)."""
    if not path:
        return None
    from grader.plots import format_from_path

    try:
        return format_from_path(path)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise UsageError(f"cannot write the plot to {path}: {error.strerror}") from None


def _reference(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    if "/" in spec.problem:  # an exercise's own problem: the catalog registers it
        _catalog()
    try:
        limits = Limits.from_env()
    except ValueError as error:
        raise UsageError(str(error)) from None
    fmt = _plot_format(args.plot)
    limits.check_spec(spec)
    plan = plan_run(spec)
    limits.check_plan(plan)
    result = execute(plan)
    if args.plot:
        from grader.plots import plot_sweep

        _write(args.plot, plot_sweep(result, fmt))
    return _report(result.to_dict(), lambda: format_table(result), args)


def _report(data: dict[str, Any], text: Callable[[], str], args: argparse.Namespace) -> int:
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


# --- grading ------------------------------------------------------------------------------


def _add_grade(commands) -> None:
    grade = commands.add_parser(
        "grade",
        help="grade a submission offline, in the sandbox, as the service would",
        description="Grade FILE against an exercise: score, verdict per learning rate, "
                    "diagnosis. Exit status 0 when graded (whatever the score), 2 for bad "
                    "usage or code that cannot be graded, 1 when the sandbox fails.",
    )
    grade.add_argument("file", help="the submission, e.g. adam.py")
    grade.add_argument("--exercise", required=True, metavar="ID", help="the exercise id")
    grade.add_argument("--json", action="store_true", help="print one JSON object")
    grade.add_argument("--plot", metavar="FILE", help="write the overlay plot (.png or .svg)")
    grade.set_defaults(handler=_grade)


def _catalog():
    """The exercises the service would load (``GDLAB_EXERCISES_DIR`` or the bundled ones)."""
    from grader.catalog import load_catalog

    folder = os.environ.get("GDLAB_EXERCISES_DIR")
    catalog = load_catalog(Path(folder) if folder else None)
    for error in catalog.errors:
        print(f"gdlab: warning: exercise left out: {error}", file=sys.stderr)
    return catalog


def _exercise(catalog, exercise_id: str):
    try:
        return catalog.get(exercise_id)
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None


@contextlib.contextmanager
def _grader(catalog):
    from grader.grading import Grader
    from grader.limits import SandboxLimits
    from grader.sandbox import Sandbox, SandboxError

    try:
        limits = SandboxLimits.from_env()
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        # GDLAB_SANDBOX_SOCKET: the runner of a deployment (its sandbox container)
        with Sandbox(limits, socket_path=os.environ.get("GDLAB_SANDBOX_SOCKET") or None) \
                as sandbox:
            yield Grader(catalog, sandbox)
    except SandboxError as error:
        raise SandboxFailureError(str(error)) from None


def _grade(args: argparse.Namespace) -> int:
    from grader.sandbox import SourceRejectedError

    try:
        source = Path(args.file).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {args.file}: {error.strerror}") from None
    fmt = _plot_format(args.plot)
    catalog = _catalog()
    exercise = _exercise(catalog, args.exercise)
    with _grader(catalog) as grader:
        try:
            result = grader.grade(exercise, source)
        except SourceRejectedError as error:
            where = f"line {error.line}: " if error.line else ""
            raise UsageError(f"{args.file}: {where}{error.message}") from None
    if args.plot:
        from grader.plots import plot_grade

        _write(args.plot, plot_grade(result, fmt))
    data = result.to_dict()
    return _report(data, lambda: format_grade(data), args)


# --- exercises -------------------------------------------------------------------------------


def _add_exercises(commands) -> None:
    exercises = commands.add_parser("exercises", help="list, show and check the exercises")
    actions = exercises.add_subparsers(dest="action", required=True, parser_class=_Parser)
    listing = actions.add_parser("list", help="every exercise, one line each")
    listing.set_defaults(handler=_exercises_list)
    show = actions.add_parser("show", help="an exercise's statement, contract and cases")
    show.add_argument("id")
    show.set_defaults(handler=_exercises_show)
    check = actions.add_parser(
        "check", help="grade each exercise's solution, starter and mistakes (CI runs this)")
    check.add_argument("id", nargs="?", help="one exercise (default: all)")
    check.set_defaults(handler=_exercises_check)
    client_cli.add_fetch(actions)
    scaffold_cli.add_new(actions)


def _exercises_list(args: argparse.Namespace) -> int:
    catalog = _catalog()
    rows = [("id", "kind", "cases", "title")]
    for exercise in catalog.exercises.values():
        visible = len(exercise.visible_cases)
        rows.append((exercise.id, exercise.kind,
                     f"{visible} + {len(exercise.cases) - visible} hidden", exercise.title))
    print("\n".join(table(rows)))
    return 0


def _exercises_show(args: argparse.Namespace) -> int:
    exercise = _exercise(_catalog(), args.id)
    contract = exercise.contract()
    print(f"{exercise.title} ({exercise.id}, version {exercise.version}, {exercise.kind})")
    print(exercise.summary)
    print(f"\nWrite:  def {contract.signature()}:")
    if exercise.hyper_names:
        print(f"Hyper-parameters passed: {', '.join(exercise.hyper_names)}")
    for case in exercise.visible_cases:
        rates = ", ".join(f"{lr:g}" for lr in case.learning_rates)
        print(f"Visible case '{case.name}': {case.problem}, learning rates {rates}, "
              f"{case.epochs} epochs" + (f", hyper {case.hyper}" if case.hyper else ""))
    hidden = len(exercise.cases) - len(exercise.visible_cases)
    print(f"Hidden cases: {hidden} (other data, starts and hyper-parameters)")
    print("\n" + exercise.statement.strip())
    return 0


def _exercises_check(args: argparse.Namespace) -> int:
    from grader.selfcheck import check_exercise

    catalog = _catalog()
    chosen = ([_exercise(catalog, args.id)] if args.id
              else list(catalog.exercises.values()))
    failures = len(catalog.errors) if not args.id else 0
    with _grader(catalog) as grader:
        for exercise in chosen:
            for check in check_exercise(grader, exercise):
                print(check.line())
                failures += not check.passed
    print(f"\n{len(chosen)} exercise(s) checked: "
          + ("all good" if not failures else f"{failures} problem(s)"))
    return 1 if failures else 0


# --- the sandbox server ----------------------------------------------------------------


def _add_sandbox_server(commands) -> None:
    server = commands.add_parser(
        "sandbox-server",
        help="run the sandbox runner on a UNIX socket (for a separate container)",
        description=(
            "Run the sandbox runner, where student code runs, listening on a UNIX socket. "
            "Limits come from GDLAB_SANDBOX_* variables; no other variable of this "
            "environment reaches it."
        ),
    )
    server.add_argument("--socket", required=True, help="path of the UNIX socket")
    server.add_argument("--socket-mode", default="600",
                        help="octal permissions of the socket (default 600)")
    server.set_defaults(handler=_sandbox_server)


def _sandbox_server(args: argparse.Namespace) -> int:
    from grader.sandbox.client import runner_environment

    settings = {k: v for k, v in os.environ.items() if k.startswith("GDLAB_SANDBOX_")}
    command = [sys.executable, "-m", "grader.sandbox.runner", "--socket", args.socket,
               "--socket-mode", args.socket_mode]
    # A fresh interpreter: numpy's thread pools are pinned before it is imported, and
    # nothing of this process (its environment, its memory) is inherited by the runner.
    os.execve(sys.executable, command, runner_environment(settings))


# --- the service ---------------------------------------------------------------------


def _add_serve(commands) -> None:
    serve = commands.add_parser(
        "serve", help="run the HTTP service (gunicorn) with its sandbox runner",
        description="Run the gdlab service on gunicorn. Configuration comes from GDLAB_* "
                    "variables (see the README); with none set: SQLite in ./gdlab-data, a "
                    "sandbox runner started alongside, the bundled exercises.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=2,
                       help="gunicorn worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=16,
                       help="threads per worker (default 16)")
    serve.set_defaults(handler=_serve)


def _config() -> Config:
    try:
        return Config.from_env()
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _serve(args: argparse.Namespace) -> int:
    from service.serve import ServeOptions, serve

    if not 0 < args.port < 65536 or args.workers < 1 or args.threads < 1:
        raise UsageError("--port must be 1-65535, --workers and --threads at least 1")
    return serve(ServeOptions(args.host, args.port, args.workers, args.threads), _config())


def _add_worker(commands) -> None:
    worker = commands.add_parser(
        "worker", help="run a grading worker of the job queue (needs GDLAB_REDIS_URL)",
        description="Take submissions from the job queue in Redis (GDLAB_REDIS_URL), grade "
                    "them in a sandbox runner of its own (or GDLAB_SANDBOX_SOCKET's) and "
                    "write the results to the database (GDLAB_DATABASE_URL). Run any "
                    "number, on any number of machines. SIGTERM stops it after the current "
                    "submission.")
    worker.add_argument("--burst", action="store_true",
                        help="stop when the queue is empty (default: wait for more)")
    worker.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    import logging

    from service.worker import run_worker

    config = _config()
    if config.redis_url is None:
        raise UsageError("gdlab worker needs GDLAB_REDIS_URL (the job queue's Redis), e.g. "
                         "redis://127.0.0.1:6379/0")
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_worker(config, burst=args.burst)


def _add_instructor_token(commands) -> None:
    token = commands.add_parser(
        "instructor-token", help="issue a new instructor token (when none is configured)",
        description="Replace the generated instructor token with a new one and print it. "
                    "Has no effect on GDLAB_INSTRUCTOR_TOKEN, which always wins.")
    token.add_argument("--reset", action="store_true", required=True,
                       help="make a new token (the old one stops working)")
    token.set_defaults(handler=_instructor_token)


def _instructor_token(args: argparse.Namespace) -> int:
    from service.app import prepare_database
    from service.auth import reset_instructor_token

    config = _config()
    if config.instructor_token:
        raise UsageError("GDLAB_INSTRUCTOR_TOKEN is set: that is the instructor token")
    db = prepare_database(config).db
    with db.session() as session:
        token = reset_instructor_token(session)
    print(token)
    print("(restart the service for it to take effect)", file=sys.stderr)
    return 0


def _add_sandbox_status(commands) -> None:
    status = commands.add_parser(
        "sandbox-status", help="ask a sandbox runner whether it answers, and its layers",
        description="Ask the sandbox runner at SOCKET for its status: exit status 0 when it "
                    "answers (a container health check), 1 when it does not.")
    status.add_argument("--socket", required=True, help="path of the runner's UNIX socket")
    status.add_argument("--json", action="store_true", help="print the whole status as JSON")
    status.set_defaults(handler=_sandbox_status)


def _sandbox_status(args: argparse.Namespace) -> int:
    from grader.sandbox import Sandbox, SandboxError

    try:
        status = Sandbox(socket_path=args.socket, start_timeout=3).status()
    except (SandboxError, OSError) as error:
        raise SandboxFailureError(f"no runner answers on {args.socket}: {error}") from None
    if args.json:
        print(json.dumps(status))
        return 0
    layers = status.get("layers", {})
    active = [name for name, entry in layers.items() if entry.get("active")]
    missing = {name: entry.get("missing") for name, entry in layers.items()
               if not entry.get("active")}
    print(f"runner {status.get('runner')}: {len(active)}/{len(layers)} layers active, "
          f"{status.get('running')} of {status.get('slots')} slots busy")
    for name, why in missing.items():
        print(f"  missing {name}: {why}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``gdlab`` argument parser with all its subcommands."""
    parser = _Parser(prog="gdlab", description="gdlab: grade gradient-descent exercises.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_reference(commands)
    _add_grade(commands)
    client_cli.add_submit(commands)
    _add_exercises(commands)
    _add_sandbox_server(commands)
    _add_sandbox_status(commands)
    _add_serve(commands)
    _add_worker(commands)
    _add_instructor_token(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except (UsageError, SpecError, ConfigError) as error:
        print(f"gdlab: error: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except SandboxFailureError as error:
        print(f"gdlab: error: the sandbox failed: {_one_line(str(error))}", file=sys.stderr)
        return 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
