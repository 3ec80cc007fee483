"""A graded submission as a picture: the student's curves over the reference's.

One row per visible case. Left: the distance to the minimum per learning rate on a log
scale, the reference dashed and the student solid in the same colour, with a dot where
the student first leaves the reference and a cross where a run blew up. Right, for
two-parameter problems: both paths over the loss contours. The title carries the score
and, where there is one, the diagnosis.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from grader.grading import GradeResult, VisibleTrace
from grader.plots.sweep import color, draw_contours, path_box, thinned


def _gap(trace_losses: np.ndarray, target: float | None) -> np.ndarray:
    base = 0.0 if target is None else target
    floor = 1e-16 * max(1.0, abs(base))
    with np.errstate(all="ignore"):
        values = np.asarray(trace_losses, dtype=float) - base
    return np.where(np.isfinite(values), np.maximum(values, floor), np.nan)


def _loss_panel(ax, traces: list[VisibleTrace], verdicts: dict[float, str]) -> None:
    target = traces[0].plan.target
    for i, trace in enumerate(traces):
        shade = color(i)
        reference = _gap(trace.reference.losses, target)
        ax.plot(np.arange(len(reference)), reference, color=shade, lw=1.6, ls="--", alpha=0.8)
        if trace.reference.outcome == "diverged":
            ax.plot(len(reference) - 1, reference[-1], marker="X", ms=9, color=shade,
                    mec="black", mew=0.6, alpha=0.8)
        label = f"lr = {trace.lr:g}: {verdicts.get(trace.lr, '')}"
        if trace.student is None:
            ax.plot([], [], color=shade, lw=2.2, label=label + " (no trajectory)")
            continue
        mine = _gap(trace.student.losses, target)
        steps = np.arange(len(mine))
        ax.plot(steps, mine, color=shade, lw=2.2, label=label)
        if trace.student.outcome == "diverged" and len(mine):
            ax.plot(steps[-1], np.nanmax(mine[-1:]), marker="X", ms=11, color=shade,
                    mec="black", mew=0.8)
        step = trace.first_disagreement
        if step is not None and 0 < step < len(mine) and np.isfinite(mine[step]):
            ax.axvline(step, color=shade, lw=0.8, ls=":", alpha=0.9)
            ax.plot(step, mine[step], marker="o", ms=8, mfc="white", mec=shade, mew=2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss - minimum (log)" if target is not None else "loss (log)")
    ax.grid(True, alpha=0.35)
    ax.legend(fontsize=8.5, loc="best", framealpha=0.9,
              title="solid: yours · dashed: reference · ○ first difference", title_fontsize=8)


def _drawn(path: np.ndarray, outcome: str) -> np.ndarray:
    """What of a path to draw: a run that blows up only for its first steps (enough to
    show it leaving; the rest would cover the whole panel)."""
    return path[:12] if outcome == "diverged" else thinned(path)


def _path_panel(ax, traces: list[VisibleTrace]) -> None:
    plan = traces[0].plan
    paths = [t.reference.trajectory for t in traces if t.reference.outcome != "diverged"]
    low, high = path_box(plan, paths)
    draw_contours(ax, plan, low, high)
    for i, trace in enumerate(traces):
        reference = _drawn(trace.reference.trajectory, trace.reference.outcome)
        ax.plot(reference[:, 0], reference[:, 1], color=color(i), lw=1.2, ls="--", alpha=0.8)
        if trace.student is not None and len(trace.student.trajectory):
            mine = _drawn(trace.student.trajectory, trace.student.outcome)
            ax.plot(mine[:, 0], mine[:, 1], color=color(i), lw=1.6, marker=".", ms=2.5)
        ax.plot(reference[0, 0], reference[0, 1], marker="o", ms=6, color="black")
    ax.set_title("Paths: yours solid, reference dashed", fontsize=10)


def grade_figure(result: GradeResult) -> Figure:
    """The figure of a graded submission (see the module docstring).

    Examples
    --------
    >>> # grade_figure(grader.grade("gd", code)) -> a matplotlib Figure
    """
    cases: dict[str, list[VisibleTrace]] = {}
    for trace in result.traces:
        cases.setdefault(trace.case, []).append(trace)
    verdicts = {(run.case, run.lr): f"{run.verdict}, {run.score:.0f} points"
                for run in result.runs}
    rows = max(1, len(cases))
    two_d = any(traces[0].plan.problem.dim == 2 for traces in cases.values())
    columns = 2 if two_d else 1
    figure = Figure(figsize=(6.4 * columns, 4.3 * rows + 0.9))
    figure.subplots_adjust(left=0.08, right=0.97, top=1 - 0.75 / (4.3 * rows + 0.9),
                           bottom=0.45 / (4.3 * rows + 0.9), hspace=0.38, wspace=0.22)
    axes = np.atleast_2d(figure.subplots(rows, columns, squeeze=False))
    for row, (case, traces) in enumerate(cases.items()):
        case_verdicts = {lr: text for (name, lr), text in verdicts.items() if name == case}
        _loss_panel(axes[row, 0], traces, case_verdicts)
        axes[row, 0].set_title(f"case '{case}': distance to the minimum", fontsize=10)
        if columns == 2:
            if traces[0].plan.problem.dim == 2:
                _path_panel(axes[row, 1], traces)
            else:
                axes[row, 1].set_axis_off()
    title = f"{result.exercise}: {result.score:g} / 100"
    if result.diagnosis:
        title += f" — {result.diagnosis[0].id}"
    figure.suptitle(title, fontsize=13, fontweight="bold")
    return figure
