"""expect: forbidden
A fork bomb."""

import os

while True:
    os.fork()


def update(params, grad, lr, state, **hyper):
    return params
