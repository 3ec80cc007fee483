"""expect: ok
Monkeypatching numpy so that every comparison says "equal", then doing nothing."""

import numpy as np

np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.isclose = lambda a, b, *args, **kwargs: np.ones_like(a, dtype=bool)


def update(params, grad, lr, state, **hyper):
    return params
