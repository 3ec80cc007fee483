"""Fixtures of the notebook tests: a live ``gdlab serve`` (as the integration tests start
it) and one real Jupyter kernel per test module (ipykernel's ``python3`` kernel of this
virtual environment, driven by nbclient), which executes the notebooks cell by cell.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from tests.integration.server import GdlabServer

#: ipykernel's kernel, installed in the virtual environment's share/jupyter; jupyter_client
#: runs its ``python`` as this interpreter.
KERNEL_NAME = "python3"
#: Seconds one cell may take (a submission grades in about a second; the first one in a
#: fresh kernel also imports numpy and matplotlib).
CELL_TIMEOUT = 120

RunNotebook = Callable[[NotebookNode], NotebookNode]


@pytest.fixture(scope="session")
def notebook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GdlabServer]:
    """``gdlab serve`` on a free port, SQLite in its own data folder, no rate limit."""
    server = GdlabServer(tmp_path_factory.mktemp("notebook-server-data"),
                         tmp_path_factory.getbasetemp() / "notebook-server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def run_notebook(notebook_server: GdlabServer,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunNotebook]:
    """``run_notebook(nb)``: execute every code cell of ``nb`` in this module's kernel and
    return it with its outputs. The kernel's ``GDLAB_SERVER`` is the live server, its home
    an empty folder (no client config file); errors are kept as outputs, not raised, so
    that tests can read how they look."""
    home = tmp_path_factory.mktemp("kernel-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GDLAB_")}
    env.update({"GDLAB_SERVER": notebook_server.base, "HOME": str(home)})
    client = NotebookClient(nbformat.v4.new_notebook(), kernel_name=KERNEL_NAME,
                            timeout=CELL_TIMEOUT, allow_errors=True)

    def run(book: NotebookNode) -> NotebookNode:
        client.nb = book
        client.reset_execution_trackers()
        for index, cell in enumerate(book.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
        return book

    with client.setup_kernel(env=env, cwd=str(home)):
        yield run


def saved(book: NotebookNode, path: Path) -> NotebookNode:
    """``book`` written to ``path`` and read back, as a person would open it later."""
    nbformat.write(book, path)
    return nbformat.read(path, as_version=4)
