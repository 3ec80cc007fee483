"""Shared set-up of the platform tests: submissions, and running an in-container
entrypoint on this machine the way the platform's script runs it (``python -m ...`` on a
directory laid out as the platform lays out its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXERCISES = Path(__file__).resolve().parents[2] / "exercises"

WRONG = "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n"
CRASHING = "def update(params, grad, lr, state, **hyper):\n    return params / 0.0 + 1 // 0\n"
UNPARSABLE = "def update(params, grad, lr, state, **hyper:\n    return params\n"


def solution(exercise: str = "adam") -> str:
    """The exercise's own correct solution."""
    return (EXERCISES / exercise / "solution.py").read_text()


@pytest.fixture
def fake_wheel(tmp_path: Path) -> Path:
    """A file named as gdlab's wheel: what an export copies (the host tests run the
    entrypoints with the gdlab of this checkout; the Docker tests install a real wheel)."""
    wheel = tmp_path / "wheel" / "gdlab-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK\x05\x06" + bytes(18))
    return wheel


def run_module(module: str, root: Path) -> dict[str, Any]:
    """Run ``python -m module --root root`` as the platform script does, and read the
    results.json it wrote (it must exit 0 and print no traceback)."""
    done = subprocess.run([sys.executable, "-m", module, "--root", str(root)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text())
