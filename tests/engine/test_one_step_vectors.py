"""The one-step test vectors of shared/reference/optimizer-semantics.md, section 5:
theta0 = [1, 1], g = [2, -0.5]; the table gives theta0 - theta1 (torch 2.13, float64),
printed to about 7 significant digits."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine import OPTIMIZERS

THETA0 = np.array([1.0, 1.0])
GRAD = np.array([2.0, -0.5])

VECTORS = [
    ("sgd", 0.1, {"momentum": 0.9}, [0.2, -0.05]),
    ("sgd", 0.1, {"momentum": 0.9, "nesterov": True}, [0.38, -0.095]),
    ("adagrad", 0.1, {}, [0.1, -0.1]),
    ("adam", 0.1, {}, [0.1, -0.1]),
    ("nadam", 0.1, {}, [0.1056452, -0.1056452]),
    ("rmsprop", 0.1, {}, [0.99999995, -0.9999998]),
    ("rmsprop", 0.1, {"centered": True}, [1.0050378, -1.0050376]),
    ("adadelta", 1.0, {}, [0.00316227, -0.00316221]),
]


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
