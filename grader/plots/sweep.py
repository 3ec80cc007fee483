"""The reference sweep as a student should see it at a glance.

Left: the loss per learning rate on a linear scale (the course's picture). Middle: the
distance to the minimum on a log scale, where linear convergence is a straight line and
its slope is the rate. Right, for two-parameter problems: every learning rate's path over
the loss contours. Diverged runs end in a cross; the largest stable learning rate, where
theory gives one, is in the subtitle and in the legend of every run above it.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from grader.engine.runs import Plan, RunResult, SweepResult, objective_loss

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_MAX_POINTS = 2000


def color(index: int) -> str:
    """The colour of the ``index``-th learning rate (shared with overlay plots)."""
    return _COLORS[index % len(_COLORS)]


def outcome_phrase(run: RunResult) -> str:
    """A few words on how a run ended, for legends."""
    if run.outcome == "converged":
        return f"converged in {run.steps_to_tolerance} steps"
    if run.outcome == "diverged":
        if run.diverged_at is None:
            return "diverging (loss growing)"
        return f"diverged at step {run.diverged_at}"
    if run.outcome == "max-steps":
        return "still improving at the end"
    return run.outcome


def stability_line(result: SweepResult) -> str:
    """One sentence on the largest stable learning rate, or empty."""
    facts = result.stability
    if facts is None:
        return ""
    eig = ", ".join(f"{e:.4g}" for e in facts.eigenvalues[:4])
    if facts.max_stable_lr is None:
        return (f"Hessian eigenvalues {eig}; {facts.rule}. "
                f"(Plain GD would be stable for lr < {facts.gd_max_lr:.4g}.)")
    return (f"Stable for lr < {facts.max_stable_lr:.4g} ({facts.rule}); "
            f"Hessian eigenvalues {eig}")


def _thin(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(len(values))
    if len(values) <= _MAX_POINTS:
        return steps, values
    keep = np.unique(np.linspace(0, len(values) - 1, _MAX_POINTS).astype(int))
    return steps[keep], values[keep]


def _label(run: RunResult, result: SweepResult) -> str:
    label = f"lr = {run.lr:g}: {outcome_phrase(run)}"
    if run.expected_stable is False and result.stability is not None:
        label += f" (above {result.stability.max_stable_lr:.3g})"
    return label


def _clip_top(result: SweepResult) -> float | None:
    """Where to cut the linear axis so that a run that blows up does not flatten the rest."""
    starts = [run.losses[0] for run in result.runs if len(run.losses)]
    highest = max((float(np.max(run.losses)) for run in result.runs if len(run.losses)),
                  default=0.0)
    if not starts or highest <= 1.5 * max(starts):
        return None
    return 1.15 * max(starts)


def _loss_panel(ax, result: SweepResult, log: bool) -> None:
    target = result.plan.target
    top = None if log else _clip_top(result)
    for i, run in enumerate(result.runs):
        values = np.asarray(run.losses, dtype=float)
        if not len(values):
            continue
        if log and target is not None:
            floor = 1e-16 * max(1.0, abs(target))
            values = np.maximum(values - target, floor)
        x, y = _thin(values)
        ax.plot(x, y, color=color(i), lw=1.8, label=_label(run, result))
        if run.outcome == "diverged":
            end = y[-1] if top is None else min(y[-1], top / 1.15 * 1.1)
            ax.plot(x[-1], end, marker="X", ms=10, color=color(i), mec="black", mew=0.8)
    steps_per_epoch = result.plan.steps_per_epoch
    ax.set_xlabel("epoch" if steps_per_epoch == 1 else f"step ({steps_per_epoch} per epoch)")
    if log:
        ax.set_yscale("log")
        ax.set_ylabel("loss - minimum (log scale)" if target is not None else "loss (log scale)")
        ax.set_title("Distance to the minimum", fontsize=11)
    else:
        ax.set_ylabel("loss")
        ax.set_title("Training loss", fontsize=11)
        if top is not None:
            lowest = min(float(np.min(run.losses)) for run in result.runs if len(run.losses))
            bottom = min(0.0, lowest)
            ax.set_ylim(bottom=bottom - 0.03 * (top - bottom), top=top)
    ax.grid(True, which="major", alpha=0.35)


def path_box(plan: Plan, paths: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The region to draw: the minimum, the starts and the given paths, with a margin."""
    points = [plan.problem.minimum.point[None, :], plan.starts, *paths]
    stacked = np.vstack([p for p in points if len(p)])
    stacked = stacked[np.all(np.isfinite(stacked), axis=1)]
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    span = np.maximum(high - low, 0.2 * np.maximum(np.abs(high), 1.0))
    return low - 0.15 * span, high + 0.15 * span


def thinned(path: np.ndarray) -> np.ndarray:
    """At most ``_MAX_POINTS`` rows of a path, evenly spaced, first and last kept."""
    if len(path) <= _MAX_POINTS:
        return path
    return path[np.unique(np.linspace(0, len(path) - 1, _MAX_POINTS).astype(int))]


def draw_contours(ax, plan: Plan, low: np.ndarray, high: np.ndarray) -> None:
    """The loss of a two-parameter problem over a box, as log-spaced contours, with its
    minimum as a star."""
    xs = np.linspace(low[0], high[0], 160)
    ys = np.linspace(low[1], high[1], 160)
    grid_x, grid_y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        values = objective_loss(plan, np.stack([grid_x, grid_y], axis=-1))
    base = float(np.nanmin(values))
    gaps = np.maximum(values - base, 1e-12 * max(1.0, abs(base)))
    levels = np.geomspace(max(np.nanmin(gaps), np.nanmax(gaps) * 1e-6), np.nanmax(gaps), 16)
    ax.contourf(grid_x, grid_y, gaps, levels=levels, cmap="Blues_r", alpha=0.35,
                norm=LogNorm(vmin=levels[0], vmax=levels[-1]))
    ax.contour(grid_x, grid_y, gaps, levels=levels, colors="0.55", linewidths=0.6)
    minimum = plan.problem.minimum.point
    ax.plot(minimum[0], minimum[1], marker="*", ms=15, color="gold", mec="black", mew=0.8)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    names = plan.problem.param_names
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])


def _path_panel(ax, result: SweepResult) -> None:
    plan = result.plan
    low, high = path_box(plan, [r.trajectory for r in result.runs if r.outcome != "diverged"])
    draw_contours(ax, plan, low, high)
    for i, run in enumerate(result.runs):
        path = thinned(run.trajectory)
        zig_zag = run.outcome in ("oscillating", "diverged")
        ax.plot(path[:, 0], path[:, 1], color=color(i), lw=0.8 if zig_zag else 1.4,
                alpha=0.75 if zig_zag else 1.0, marker=".", ms=2.5)
        ax.plot(path[0, 0], path[0, 1], marker="o", ms=6, color="black")
    ax.set_title("Paths over the loss (● start, ★ minimum)", fontsize=11)


def sweep_figure(result: SweepResult) -> Figure:
    """The figure of a sweep: loss (linear), distance to the minimum (log), and paths on
    the contours for two-parameter problems.

    Examples
    --------
    >>> from grader.engine import sweep
    >>> from grader.plots import render
    >>> render(lambda: sweep_figure(sweep()), "png")[:4]
    b'\\x89PNG'
    """
    plan = result.plan
    panels = 3 if plan.problem.dim == 2 else 2
    legend_rows = -(-len(result.runs) // 3) + (1 if result.stability is not None else 0)
    # A fixed layout computed here rather than a layout engine: it is several times faster
    # (no text measuring) and the figure's parts are known in advance.
    axes_height, top, bottom = 3.6, 0.55, 0.75 + 0.24 * legend_rows
    height = axes_height + top + bottom
    figure = Figure(figsize=(5.4 * panels, height))
    figure.subplots_adjust(left=0.75 / (5.4 * panels), right=1 - 0.25 / (5.4 * panels),
                           top=1 - top / height, bottom=bottom / height, wspace=0.28)
    axes = figure.subplots(1, panels)
    _loss_panel(axes[0], result, log=False)
    _loss_panel(axes[1], result, log=True)
    if panels == 3:
        _path_panel(axes[2], result)
    handles, labels = axes[0].get_legend_handles_labels()
    # Below the panels, so that no curve or divergence mark hides behind it; the stability
    # fact heads it because it is what the learning rates should be read against.
    figure.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.01),
        ncols=min(len(labels), 3) or 1,
        fontsize=10,
        title=stability_line(result) or None,
        title_fontsize=10,
        frameon=False,
    )
    schedule = "" if plan.schedule.name == "constant" else f", {plan.schedule.name} schedule"
    figure.suptitle(
        f"{plan.problem.name}: {plan.optimizer.name}{schedule}, {plan.spec.epochs} epochs, "
        f"one curve per learning rate",
        fontsize=13,
        fontweight="bold",
        y=1 - 0.12 / height,
    )
    return figure
