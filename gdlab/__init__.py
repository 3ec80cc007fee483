"""gdlab from Python and Jupyter: grade a function where you wrote it.

In a notebook::

    import gdlab

    def update(params, grad, lr, state, **hyper):
        return params - lr * grad

    gdlab.submit(update, exercise="gd")   # to the configured server, shown as a table + plot
    gdlab.grade(update, exercise="gd")    # here, with the grader and its sandbox

``%load_ext gdlab`` adds the ``%%gdlab_submit EXERCISE`` cell magic, which sends the
cell as a solution file. The server and token are ``gdlab submit``'s: ``GDLAB_SERVER`` /
``GDLAB_TOKEN`` or ``~/.config/gdlab/client.toml``. IPython is optional: the module works
in any Python, and a result prints as the text of ``gdlab grade``.
"""

from __future__ import annotations

from typing import Any

from gdlab.api import grade, submit
from gdlab.errors import GdlabError
from gdlab.result import Plot, Result

__all__ = ["GdlabError", "Plot", "Result", "grade", "load_ipython_extension", "submit"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext gdlab``: register the ``%%gdlab_submit`` cell magic."""
    from gdlab.magic import register  # noqa: PLC0415 (IPython is imported only here)

    register(ipython)
