"""expect: forbidden
Reading the runner's memory map and environment through /proc."""

import os

print(open(f"/proc/{os.getppid()}/environ", "rb").read())
print(open(f"/proc/{os.getppid()}/maps").read())


def update(params, grad, lr, state, **hyper):
    return params
