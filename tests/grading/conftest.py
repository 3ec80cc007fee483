"""The grader the grading tests share: the bundled catalog and a sandbox of each test
module's own (started once per module, so a module's hostile code cannot reach another's
runner)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from grader.catalog import load_catalog
from grader.grading import Grader
from grader.sandbox import Sandbox


@pytest.fixture(scope="module")
def grader() -> Iterator[Grader]:
    """A grader of the bundled exercises on a fresh sandbox runner."""
    with Sandbox() as sandbox:
        yield Grader(load_catalog(), sandbox)
