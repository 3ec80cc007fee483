"""expect: crashed
Writing garbage into every descriptor that might be the result pipe, then exiting."""

import os

for fd in range(3, 64):
    try:
        os.write(fd, b"GDLB\x00\x00\x00\x10{not json at all}")
    except OSError:
        pass
os._exit(0)


def update(params, grad, lr, state, **hyper):
    return params
