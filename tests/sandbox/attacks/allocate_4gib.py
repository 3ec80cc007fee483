"""expect: memory
Allocating 4 GiB at once."""

block = bytearray(4 * 1024**3)


def update(params, grad, lr, state, **hyper):
    return params
