"""The class analytics' figures, one per question an instructor asks of an exercise.

Each function takes plain numbers (the service computes them in its database) and returns
a new :class:`matplotlib.figure.Figure`; :func:`grader.plots.render.render` encodes it.
Every figure says in its title what it counts, and shows a sentence instead of empty axes
when there is nothing to count yet.

Examples
--------
>>> from grader.plots.render import render
>>> render(lambda: scores_figure(["0-10", "100"], [3, 5]), "svg")[:5]
b'<?xml'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from grader.plots.sweep import color

#: Figure size in inches (about 700 x 320 px at the service's 110 dpi).
SIZE = (6.4, 2.9)
#: The narrowest time span the hourly figure shows.
MIN_HOURS = dt.timedelta(hours=12)
_MARKERS = ("o", "s", "^", "D", "v")
#: Each figure's margins, fixed (a layout engine would draw every figure twice or more:
#: it doubled the cost of a figure, and a page has four, drawn again when numbers change).
MARGINS = {"scores": {"left": 0.1, "right": 0.97, "bottom": 0.17, "top": 0.9},
           "cases": {"left": 0.31, "right": 0.95, "bottom": 0.17, "top": 0.9},
           "hourly": {"left": 0.09, "right": 0.9, "bottom": 0.17, "top": 0.9},
           "trend": {"left": 0.1, "right": 0.66, "bottom": 0.14, "top": 0.9}}
_BAR = "#1f77b4"
_FULL = "#2ca02c"
_FAILED = "#d62728"


def _empty(figure: Figure, title: str, sentence: str) -> Figure:
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=10, loc="left")
    axes.text(0.5, 0.5, sentence, ha="center", va="center", transform=axes.transAxes,
              color="#555555")
    axes.set_axis_off()
    return figure


def scores_figure(labels: Sequence[str], students: Sequence[int]) -> Figure:
    """Students per best-score bin; the last bin (100) in green.

    Examples
    --------
    >>> figure = scores_figure(["0-10", "90-100", "100"], [1, 2, 3])
    >>> [round(p.get_height()) for p in figure.axes[0].patches]
    [1, 2, 3]
    """
    figure = Figure(figsize=SIZE)
    figure.subplots_adjust(**MARGINS["scores"])
    title = "Best score per student"
    if not sum(students):
        return _empty(figure, title, "No graded submission by a named student yet.")
    axes = figure.add_subplot()
    colors = [_BAR] * (len(labels) - 1) + [_FULL]
    bars = axes.bar(range(len(labels)), students, color=colors[-len(labels):])
    axes.bar_label(bars, labels=[str(n) if n else "" for n in students], fontsize=8)
    axes.set_xticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("best score")
    axes.set_ylabel("students")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=10, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(y=0.15)
    return figure


def cases_figure(cases: Sequence[str], shares: Sequence[float],
                 hidden: Sequence[bool]) -> Figure:
    """Share of graded submissions in which each case failed, most failed on top; hidden
    cases marked in their label.

    Examples
    --------
    >>> figure = cases_figure(["course", "bowl"], [0.5, 0.25], [False, True])
    >>> [t.get_text() for t in figure.axes[0].get_yticklabels()]
    ['bowl (hidden)', 'course']
    """
    figure = Figure(figsize=SIZE)
    figure.subplots_adjust(**MARGINS["cases"])
    title = "Where submissions fail: share of graded submissions, per case"
    if not cases:
        return _empty(figure, title, "No graded submission yet.")
    axes = figure.add_subplot()
    names = [f"{name} (hidden)" if secret else name
             for name, secret in zip(cases, hidden, strict=True)]
    # barh draws the first bar at the bottom: reversed, the most failed case is on top
    positions = range(len(names))
    bars = axes.barh(positions, [100 * s for s in reversed(shares)], color=_FAILED)
    axes.bar_label(bars, labels=[f"{100 * s:.0f} %" for s in reversed(shares)], fontsize=8,
                   padding=2)
    axes.set_yticks(positions, list(reversed(names)), fontsize=8)
    axes.set_xlim(0, 110)
    axes.set_xlabel("% of graded submissions where a run of the case failed")
    axes.set_title(title, fontsize=10, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def hourly_figure(hours: Sequence[dt.datetime], submissions: Sequence[int]) -> Figure:
    """Submissions per hour (bars) and their running total (line, right axis): the
    deadline curve.

    Examples
    --------
    >>> start = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)
    >>> figure = hourly_figure([start, start + dt.timedelta(hours=1)], [4, 6])
    >>> figure.axes[1].get_lines()[0].get_ydata().tolist()
    [4, 10]
    """
    figure = Figure(figsize=SIZE)
    figure.subplots_adjust(**MARGINS["hourly"])
    title = "Submissions per hour (UTC) and in total"
    if not hours:
        return _empty(figure, title, "No submission yet.")
    naive = [hour.astimezone(dt.UTC).replace(tzinfo=None) for hour in hours]
    axes = figure.add_subplot()
    # one step artist rather than a bar per hour: a term has hundreds of hours, and
    # drawing (SVG above all) costs per artist
    edges = [*naive, naive[-1] + dt.timedelta(hours=1)]
    axes.stairs(submissions, date2num(edges), fill=True, color=_BAR)
    axes.set_ylim(bottom=0)
    axes.set_ylabel("per hour")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    # at least half a day across, so that a first hour of submissions is not one wide bar
    spread = max(dt.timedelta(0), MIN_HOURS - (edges[-1] - edges[0])) / 2
    axes.set_xlim(date2num(edges[0] - spread), date2num(edges[-1] + spread))
    total = axes.twinx()
    running, sum_so_far = [], 0
    for count in submissions:
        sum_so_far += count
        running.append(sum_so_far)
    total.plot([h + dt.timedelta(hours=1) for h in naive], running, color="#555555",
               linewidth=1.2)
    total.set_ylabel("in total")
    total.set_ylim(bottom=0)
    total.yaxis.set_major_locator(MaxNLocator(integer=True))
    locator = AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_title(title, fontsize=10, loc="left")
    return figure


def trend_figure(periods: Sequence[dt.datetime], shares: Mapping[str, Sequence[float]],
                 unit: str = "day") -> Figure:
    """The share of the students below 100 showing each diagnosis, per period: one line
    per diagnosis (the caller chooses the few worth following).

    Examples
    --------
    >>> day = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    >>> figure = trend_figure([day, day + dt.timedelta(days=1)], {"sign-flip": [0.5, 0.25]})
    >>> figure.axes[0].get_lines()[0].get_ydata().tolist()
    [50.0, 25.0]
    """
    figure = Figure(figsize=SIZE)
    figure.subplots_adjust(**MARGINS["trend"])
    title = f"Diagnoses per {unit}: % of the students below 100 then"
    if not periods or not shares:
        return _empty(figure, title, "No diagnosis yet.")
    naive = [p.astimezone(dt.UTC).replace(tzinfo=None) for p in periods]
    axes = figure.add_subplot()
    for index, (diagnosis, values) in enumerate(shares.items()):
        # a marker of its own per line: equal shares on the same day stay visible
        axes.plot(naive, [100 * v for v in values], marker=_MARKERS[index % len(_MARKERS)],
                  markersize=7 - index, markerfacecolor="none", color=color(index),
                  label=diagnosis)
    axes.set_ylim(0, 105)
    # half a period either side: a single period is a day, not a decade of empty axis
    half = dt.timedelta(days=3.5 if unit == "week" else 0.5)
    axes.set_xlim(naive[0] - half, naive[-1] + half)
    axes.set_ylabel("% of students")
    locator = AutoDateLocator(minticks=2, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    axes.set_title(title, fontsize=10, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    return figure
