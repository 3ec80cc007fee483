"""expect: crashed
Recursion through C code with the recursion limit lifted: the C stack overflows."""

import sys

sys.setrecursionlimit(10**8)


class Bottomless:
    def __getattr__(self, name):
        return getattr(self, name + "x")


Bottomless().attribute


def update(params, grad, lr, state, **hyper):
    return params
