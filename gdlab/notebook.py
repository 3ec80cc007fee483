"""An exercise as a ready Jupyter notebook (``gdlab exercises notebook ID -o ID.ipynb``).

The notebook holds, in order: the statement (Markdown), the contract (what to write, what
the grader passes, the visible cases), a set-up cell (``import numpy as np``, ``import
gdlab``), the starter code, and a cell that submits the function. Each cell has a stable
id and a tag (``gdlab-statement``, ``gdlab-contract``, ``gdlab-setup``, ``gdlab-starter``,
``gdlab-instructions``, ``gdlab-submit``) so that tools (and tests) can find them.

Examples
--------
>>> from grader.catalog import load_catalog
>>> book = build_notebook(load_catalog().get("gd").describe(full=True))
>>> [cell.id for cell in book.cells]
['statement', 'contract', 'setup', 'starter', 'instructions', 'submit']
>>> book.cells[-1].source
'gdlab.submit(update, exercise="gd")'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

#: The tag of each cell's role, e.g. the starter cell a test fills with a solution.
TAGS = {role: f"gdlab-{role}" for role in
        ("statement", "contract", "setup", "starter", "instructions", "submit")}

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _rates(case: Mapping[str, Any]) -> str:
    return ", ".join(f"{lr:g}" for lr in case["learning_rates"])


def contract_markdown(exercise: Mapping[str, Any]) -> str:
    """What to write and how it is called, as Markdown.

    Examples
    --------
    >>> text = contract_markdown({"id": "gd", "contract": {
    ...     "entry": "update", "signature": "update(params, grad, lr, state, **hyper)",
    ...     "hyper": []}, "visible_cases": [], "hidden_cases": 2})
    >>> print(text[:text.index("- Graded")])
    ## What to write
    <BLANKLINE>
    ```python
    def update(params, grad, lr, state, **hyper):
    ```
    <BLANKLINE>
    <BLANKLINE>
    """
    contract = exercise["contract"]
    lines = ["## What to write", "", "```python", f"def {contract['signature']}:", "```", ""]
    if contract["hyper"]:
        names = ", ".join(f"`{name}`" for name in contract["hyper"])
        lines.append(f"- The grader also passes the hyper-parameters {names} by name.")
    for case in exercise["visible_cases"]:
        hyper = ", ".join(f"{k}={v}" for k, v in case.get("hyper", {}).items())
        lines.append(f"- Visible case `{case['name']}`: {case['problem']}, learning rates "
                     f"{_rates(case)}, {case['epochs']} epochs"
                     + (f", {hyper}" if hyper else "") + ".")
    if exercise["hidden_cases"]:
        lines.append(f"- Graded on {exercise['hidden_cases']} hidden cases too (other data, "
                     "starts and hyper-parameters): a rule that only fits the visible case "
                     "does not score 100.")
    return "\n".join(lines)


def instructions_markdown(exercise: Mapping[str, Any]) -> str:
    """How to grade the function, as Markdown."""
    entry, ident = exercise["contract"]["entry"], exercise["id"]
    return "\n".join([
        "## Grade it",
        "",
        f"Run the next cell: it sends `{entry}` to the gdlab server and shows your score, a "
        "verdict per learning rate, what looks wrong, and your loss curves over the "
        "reference's. Change your function, run its cell again, then this one: submit as "
        "often as you like.",
        "",
        "The server is the one `gdlab submit` uses (`GDLAB_SERVER`, `GDLAB_TOKEN`, or "
        "`~/.config/gdlab/client.toml`); `gdlab.submit(..., server=\"http://...\")` names "
        "another. Without a server, where gdlab is installed: "
        f"`gdlab.grade({entry}, exercise=\"{ident}\")`.",
    ])


def _cell(role: str, cell: NotebookNode) -> NotebookNode:
    cell.id = role
    cell.metadata["tags"] = [TAGS[role]]
    return cell


def build_notebook(exercise: Mapping[str, Any]) -> NotebookNode:
    """The notebook of an exercise, from its full description (as ``GET
    /api/v1/exercises/{id}`` answers it, or ``Exercise.describe(full=True)``).

    Raises
    ------
    nbformat.ValidationError
        Never for a valid exercise: the notebook is checked against nbformat's schema.
    """
    entry, ident = exercise["contract"]["entry"], exercise["id"]
    book = new_notebook(
        cells=[
            _cell("statement", new_markdown_cell(exercise["statement"].strip())),
            _cell("contract", new_markdown_cell(contract_markdown(exercise))),
            _cell("setup", new_code_cell("import numpy as np\n\nimport gdlab")),
            _cell("starter", new_code_cell(exercise["starter"].strip())),
            _cell("instructions", new_markdown_cell(instructions_markdown(exercise))),
            _cell("submit", new_code_cell(f"gdlab.submit({entry}, exercise={json.dumps(ident)})")),
        ],
        metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"},
                  "gdlab": {"exercise": ident, "version": exercise["version"]}},
    )
    nbformat.validate(book)
    return book


def write_notebook(book: NotebookNode, path: Path, *, force: bool = False) -> None:
    """Write ``book`` to ``path``.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``force`` is false (a student's work is never overwritten).
    OSError
        It cannot be written.
    """
    with path.open("w" if force else "x", encoding="utf-8") as handle:
        nbformat.write(book, handle)
