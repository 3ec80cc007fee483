"""The one-step test vectors of docs/optimizer-semantics.md (section 6), read from
tests/golden/one_step_vectors.json: from theta0 = [1, 1] with the gradient g = [2, -0.5],
torch 2.13 in float64 moves by theta0 - theta1 as listed, printed to 7-8 significant
digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grader.engine import OPTIMIZERS

VECTORS_FILE = Path(__file__).resolve().parents[1] / "golden" / "one_step_vectors.json"
_DATA = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
THETA0 = np.array(_DATA["theta0"], dtype=float)
GRAD = np.array(_DATA["grad"], dtype=float)
VECTORS = [(case["optimizer"], case["lr"], case["hyper"], case["expected"])
           for case in _DATA["cases"]]


def test_the_vectors_file_is_the_whole_torch_float64_table():
    """A truncated or regenerated-in-float32 file must not pass quietly."""
    assert _DATA["about"]["torch"].startswith("2.13") and _DATA["about"]["dtype"] == "float64"
    assert THETA0.tolist() == [1.0, 1.0] and GRAD.tolist() == [2.0, -0.5]
    assert len(VECTORS) == 8
    # The table has no AdamW row; tests/golden/optimizers.json covers it against torch.
    assert {name for name, *_ in VECTORS} == set(OPTIMIZERS) - {"adamw"}


@pytest.mark.parametrize(("name", "lr", "hyper", "expected"), VECTORS,
                         ids=[f"{v[0]}{v[2]}" for v in VECTORS])
def test_one_step(name, lr, hyper, expected):
    optimizer = OPTIMIZERS[name]
    resolved = optimizer.resolve(hyper)
    state = optimizer.init(THETA0, **resolved)
    theta1 = optimizer.step(THETA0.copy(), GRAD.copy(), lr, state, **resolved)
    # The table rounds to 7-8 significant digits.
    np.testing.assert_allclose(THETA0 - theta1, expected, rtol=5e-7, atol=5e-9)


def test_step_does_not_modify_its_inputs():
    for optimizer in OPTIMIZERS.values():
        resolved = optimizer.resolve({})
        theta, grad = THETA0.copy(), GRAD.copy()
        state = optimizer.init(theta, **resolved)
        optimizer.step(theta, grad, 0.1, state, **resolved)
        assert theta.tolist() == [1.0, 1.0] and grad.tolist() == [2.0, -0.5], optimizer.name
