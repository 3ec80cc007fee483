"""expect: timeout
An endless loop at import time."""

while True:
    pass


def update(params, grad, lr, state, **hyper):
    return params
