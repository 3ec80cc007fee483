"""Plots as PNG or SVG bytes, with matplotlib's Figure API (never pyplot).

Examples
--------
>>> from grader.engine import sweep
>>> png = plot_sweep(sweep(), "png")
>>> png[:4]
b'\\x89PNG'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grader.engine.runs import SweepResult
from grader.plots.render import FORMATS, MEDIA_TYPES, format_from_path, render
from grader.plots.sweep import sweep_figure

if TYPE_CHECKING:
    from grader.grading import GradeResult


def plot_sweep(result: SweepResult, fmt: str = "png") -> bytes:
    """The sweep's figure (see :func:`sweep_figure`) encoded as ``fmt`` (png or svg)."""
    return render(lambda: sweep_figure(result), fmt)


def plot_grade(result: GradeResult, fmt: str = "png") -> bytes:
    """A graded submission's overlay figure, encoded as ``fmt`` (png or svg)."""
    from grader.plots.overlay import grade_figure  # noqa: PLC0415 (grading imports plots' deps)

    return render(lambda: grade_figure(result), fmt)


__all__ = ["FORMATS", "MEDIA_TYPES", "format_from_path", "plot_grade", "plot_sweep", "render",
           "sweep_figure"]
