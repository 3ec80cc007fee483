"""``gdlab reference``: run the reference engine from the command line.

With no arguments, the course example (linear regression, plain gradient descent, learning
rates 0.01, 0.1 and 0.5, 100 epochs) as a readable table, optionally as JSON and as a
plot. Bad input is one line on stderr and exit status 2, never a traceback.

Examples
--------
    gdlab reference
    gdlab reference --init legacy --plot seed.png
    gdlab reference --problem rosenbrock --optimizer adam --lr 0.01 0.05 --epochs 500
    gdlab reference --optimizer sgd --set momentum=0.9 --set nesterov=true --json
    gdlab reference --problem quadratic:condition=100 --schedule cosine:T_max=50
    gdlab reference --problem himmelblau-momentum/himmelblau --optimizer sgd --lr 0.01
"""

from __future__ import annotations

import argparse

from grader.engine import (
    CLIPS,
    OPTIMIZERS,
    PROBLEMS,
    REGULARIZER_NAMES,
    SCHEDULES,
    RunSpec,
    SweepResult,
    plan_run,
)
from grader.engine.runs import SEED_EPOCHS, SEED_LEARNING_RATES, execute
from service.cli.common import (
    catalog,
    config,
    number,
    parse_assignment,
    parse_component,
    plot_format,
    report,
    whole,
    write,
)


def add_commands(commands) -> None:
    """``gdlab reference``."""
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
    ref.add_argument("--lr", nargs="+", action="extend", type=number, metavar="LR",
                     help="learning rates, repeatable (default 0.01 0.1 0.5)")
    ref.add_argument("--epochs", type=whole, default=SEED_EPOCHS, help="epochs (default 100)")
    ref.add_argument("--init", default="shared", help="shared (default) or legacy")
    ref.add_argument("--seed", type=whole, default=None,
                     help="draw data, start and batch order from this seed (default: classic)")
    ref.add_argument("--x0", nargs="+", action="extend", type=number, metavar="X",
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
    ref.add_argument("--batch-size", type=whole, default=None,
                     help="mini-batch size (data problems only)")
    ref.add_argument("--tolerance", type=number, default=1e-6,
                     help="relative tolerance for convergence (default 1e-6)")
    ref.add_argument("--json", action="store_true", help="print one JSON object")
    ref.add_argument("--plot", metavar="FILE", help="write the plot to FILE.png or FILE.svg")
    ref.set_defaults(handler=reference_command)


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


def reference_command(args: argparse.Namespace) -> int:
    """Run the sweep the arguments describe; print it (table or JSON), draw it."""
    spec = spec_from_args(args)
    if "/" in spec.problem:  # an exercise's own problem: loading the catalog registers it
        catalog()
    limits = config().limits
    fmt = plot_format(args.plot)
    limits.check_spec(spec)
    plan = plan_run(spec)
    limits.check_plan(plan)
    result = execute(plan)
    if args.plot:
        from grader.plots import plot_sweep

        write(args.plot, plot_sweep(result, fmt))
    return report(result.to_dict(), lambda: format_table(result), args)
