"""expect: crashed
Dereferencing a null pointer through ctypes."""

import ctypes

ctypes.string_at(0)


def update(params, grad, lr, state, **hyper):
    return params
