"""A graded submission as a notebook shows it: score, verdict table, diagnosis, plot.

:class:`Result` follows IPython's display protocol, so JupyterLab, VS Code, classic
Notebook and nbconvert all render it without gdlab being a Jupyter extension:
``_repr_html_`` (the table, the diagnosis and the plot inline), ``_repr_png_`` (the plot,
for front ends that do not show HTML), and ``_repr_pretty_``/``__str__`` (the text of
``gdlab grade`` for a terminal). Everything a student or a server wrote into the result
(names, messages, printed output) is escaped before it becomes HTML.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdlab.errors import GdlabError
from service.client import GdlabError as ClientError
from service.report import format_grade

#: Verdicts that mean the run follows the reference.
GOOD_VERDICTS = ("match",)
#: Verdicts that are close but not exact.
NEAR_VERDICTS = ("float32",)
#: Lines of the student's printed output shown in the HTML.
SHOWN_OUTPUT_LINES = 20

PlotLoader = Callable[[str], bytes]


@dataclass(frozen=True)
class Plot:
    """A loss-curve plot, displayed inline as PNG or SVG.

    Examples
    --------
    >>> plot = Plot(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "svg")
    >>> plot._repr_svg_()[:4], plot._repr_png_()
    ('<svg', None)
    """

    data: bytes
    fmt: str = "png"

    def _repr_png_(self) -> bytes | None:
        return self.data if self.fmt == "png" else None

    def _repr_svg_(self) -> str | None:
        return self.data.decode("utf-8") if self.fmt == "svg" else None

    def save(self, path: str | Path) -> Path:
        """Write the plot to ``path``; returns the path."""
        target = Path(path)
        target.write_bytes(self.data)
        return target


@dataclass
class Result:
    """A graded submission, from a server (:func:`gdlab.submit`) or from this machine
    (:func:`gdlab.grade`).

    Parameters
    ----------
    data : dict
        The result as the API answers it (or as ``gdlab grade --json`` prints it): score,
        runs, hidden, diagnosis, feedback, stdout, error, ...
    load_plot : callable
        ``load_plot("png")`` / ``load_plot("svg")``: the plot's bytes.
    where : str
        Where it was graded, for the reader (e.g. ``submission 3f2a… on http://...``).

    Examples
    --------
    >>> result = Result({"exercise": "gd", "exercise_version": 1, "score": 100.0,
    ...                  "runs": [], "diagnosis": [], "feedback": "Well done."},
    ...                 load_plot=lambda fmt: b"", where="graded here")
    >>> result
    <gdlab Result gd: 100/100, graded here>
    >>> "Score     100 / 100" in str(result)
    True
    """

    data: dict[str, Any]
    load_plot: PlotLoader = field(repr=False)
    where: str = ""
    _plots: dict[str, bytes] = field(default_factory=dict, repr=False)

    # --- what a program reads -------------------------------------------------------------

    @property
    def score(self) -> float:
        """The score, 0 to 100."""
        return float(self.data["score"])

    @property
    def exercise(self) -> str:
        """The exercise's id."""
        return str(self.data["exercise"])

    @property
    def id(self) -> str | None:
        """The submission's id on the server (None when graded here)."""
        return self.data.get("id")

    @property
    def diagnosis(self) -> list[dict[str, str]]:
        """The diagnoses: each an ``id`` and the ``message`` the student reads."""
        return list(self.data.get("diagnosis") or ())

    @property
    def feedback(self) -> str:
        """The paragraph of feedback."""
        return str(self.data.get("feedback") or "")

    def json(self) -> dict[str, Any]:
        """The whole result as JSON-ready data (as the API answers it)."""
        return self.data

    def plot(self, fmt: str = "png") -> Plot:
        """The loss-curve plot (``png`` or ``svg``), which displays inline.

        Raises
        ------
        GdlabError
            It could not be fetched from the server.
        """
        if fmt not in ("png", "svg"):
            raise GdlabError(f"a plot is png or svg, not {fmt!r}")
        if fmt not in self._plots:
            try:
                self._plots[fmt] = self.load_plot(fmt)
            except GdlabError:
                raise
            except ClientError as error:
                raise GdlabError(f"the plot could not be loaded: {error.message}",
                                 error.status) from None
        return Plot(self._plots[fmt], fmt)

    # --- how it looks ---------------------------------------------------------------------

    def __repr__(self) -> str:
        where = f", {self.where}" if self.where else ""
        return f"<gdlab Result {self.exercise}: {self.score:g}/100{where}>"

    def __str__(self) -> str:
        text = format_grade(self.data)
        return f"{text}\n\n{self.where[0].upper()}{self.where[1:]}" if self.where else text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if cycle else str(self))

    def _repr_png_(self) -> bytes | None:
        try:
            return self.plot("png").data
        except GdlabError:
            return None  # the HTML says why

    def _repr_html_(self) -> str:
        return result_html(self.data, self.where, self._plot_html())

    def _plot_html(self) -> str:
        try:
            png = self.plot("png").data
        except GdlabError as error:
            return f'<p class="gdlab-plot-missing">{html.escape(error.message)}</p>'
        encoded = base64.b64encode(png).decode("ascii")
        return (f'<img class="gdlab-plot" alt="Loss curves of your runs over the reference" '
                f'style="max-width:100%" src="data:image/png;base64,{encoded}">')


# --- HTML -------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _verdict_colour(verdict: str) -> str:
    if verdict in GOOD_VERDICTS:
        return "#1a7f37"
    return "#9a6700" if verdict in NEAR_VERDICTS else "#cf222e"


def score_colour(score: float) -> str:
    """Green for 100, amber from 50, red below.

    Examples
    --------
    >>> score_colour(100), score_colour(75), score_colour(0)
    ('#1a7f37', '#9a6700', '#cf222e')
    """
    if score >= 100:
        return "#1a7f37"
    return "#9a6700" if score >= 50 else "#cf222e"


def runs_table(runs: list[Mapping[str, Any]]) -> str:
    """The visible runs as an HTML table: case, learning rate, verdict, score, outcome
    against the reference's, and the first step that differs."""
    head = ("case", "learning rate", "verdict", "score", "outcome (reference)",
            "first difference")
    cell = 'style="padding:2px 10px;text-align:left"'
    rows = ["<tr>" + "".join(f"<th {cell}>{_e(h)}</th>" for h in head) + "</tr>"]
    for run in runs:
        where = run.get("first_disagreement")
        verdict = str(run["verdict"])
        rows.append("<tr>" + "".join(f"<td {cell}>{part}</td>" for part in (
            _e(run["case"]), _e(f"{run['lr']:g}"),
            f'<strong style="color:{_verdict_colour(verdict)}">{_e(verdict)}</strong>',
            _e(f"{run['score']:.1f}"),
            _e(f"{run.get('outcome') or '-'} ({run['reference_outcome']})"),
            _e("-" if where is None else f"step {where['step']}"),
        )) + "</tr>")
    return ('<table class="gdlab-runs" style="border-collapse:collapse">'
            + "".join(rows) + "</table>")


def result_html(data: Mapping[str, Any], where: str, plot_html: str) -> str:
    """A graded result as an HTML fragment (every text from the result escaped).

    Examples
    --------
    >>> page = result_html({"exercise": "gd", "exercise_version": 1, "score": 0,
    ...                     "runs": [], "diagnosis": [{"id": "x", "message": "<b>no</b>"}],
    ...                     "feedback": ""}, "", "")
    >>> "&lt;b&gt;no&lt;/b&gt;" in page and "<b>no</b>" not in page
    True
    """
    score = float(data["score"])
    student = data.get("student")
    parts = [
        '<div class="gdlab-result" style="font-family:sans-serif;line-height:1.4">',
        f'<p style="font-size:1.3em;margin:0.2em 0"><strong style="color:{score_colour(score)}">'
        f"Score {_e(f'{score:g}')} / 100</strong> "
        f'<span style="color:#57606a;font-size:0.8em">{_e(data["exercise"])} (version '
        f'{_e(data["exercise_version"])}){" by " + _e(student) if student else ""}'
        f'{" · " + _e(where) if where else ""}</span></p>',
        runs_table(list(data.get("runs") or ())),
    ]
    hidden = data.get("hidden") or {}
    if hidden.get("runs"):
        counts = ", ".join(f"{n} {verdict}" for verdict, n in hidden["verdicts"].items())
        mean = "-" if hidden.get("score") is None else f"{hidden['score']:g}"
        parts.append(f"<p>Hidden cases: {_e(hidden['runs'])} runs, mean score {_e(mean)} "
                     f"({_e(counts)})</p>")
    for diagnosis in data.get("diagnosis") or ():
        parts.append(f'<p class="gdlab-diagnosis"><strong>Diagnosis</strong> '
                     f"<code>{_e(diagnosis['id'])}</code>: {_e(diagnosis['message'])}</p>")
    if data.get("feedback"):
        parts.append(f'<p class="gdlab-feedback"><strong>Feedback</strong> '
                     f'{_e(data["feedback"])}</p>')
    printed = (data.get("stdout") or "").strip().splitlines()
    if printed:
        more = len(printed) - SHOWN_OUTPUT_LINES
        shown = "\n".join(printed[:SHOWN_OUTPUT_LINES]) + (f"\n... ({more} more lines)"
                                                           if more > 0 else "")
        parts.append(f"<details><summary>Your code printed</summary><pre>{_e(shown)}</pre>"
                     "</details>")
    parts += [plot_html, "</div>"]
    return "\n".join(parts)
