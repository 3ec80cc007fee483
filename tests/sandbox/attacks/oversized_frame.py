"""expect: output-limit
Flooding the result pipe with 100 MB."""

import os

block = b"\x00" * (1 << 20)
for fd in range(3, 64):
    try:
        for _ in range(100):
            os.write(fd, block)
    except OSError:
        pass


def update(params, grad, lr, state, **hyper):
    return params
