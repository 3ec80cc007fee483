"""Figure to bytes: the only place gdlab turns a matplotlib Figure into PNG or SVG.

matplotlib's Figure API is used directly (never pyplot, which keeps global state a
server must not have). Building and drawing are done under one lock: matplotlib shares
font and text-layout caches between figures that are not safe to use from two threads at
once, and a plot costs tens of milliseconds, so serialising them costs little.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FORMATS = ("png", "svg")
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}

# SVG element ids are random unless salted; a fixed salt makes the same plot the same bytes.
matplotlib.rcParams["svg.hashsalt"] = "gdlab"

_LOCK = threading.RLock()
_METADATA = {
    "png": {"Software": "gdlab"},
    "svg": {"Date": None, "Creator": "gdlab"},
}


def render(build: Callable[[], Figure], fmt: str, dpi: int = 110) -> bytes:
    """Build a figure and return it encoded, safely from any thread.

    Parameters
    ----------
    build : callable
        Returns a new :class:`matplotlib.figure.Figure`; called under the lock.
    fmt : {"png", "svg"}
        Output format.
    dpi : int
        Resolution of PNG output.

    Returns
    -------
    bytes
        The encoded image; the same input always gives the same bytes.

    Raises
    ------
    ValueError
        For a format other than png or svg.
    """
    if fmt not in FORMATS:
        raise ValueError(f"plot format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    buffer = io.BytesIO()
    with _LOCK:
        figure = build()
        FigureCanvasAgg(figure)
        figure.savefig(buffer, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
    return buffer.getvalue()


def format_from_path(path: str) -> str:
    """The image format a file name asks for (``.png`` or ``.svg``), or ValueError."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix not in FORMATS:
        raise ValueError(f"the plot file must end in .png or .svg, got {path!r}")
    return suffix
