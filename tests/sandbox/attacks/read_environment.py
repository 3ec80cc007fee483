"""expect: forbidden
Looking for the server's secrets in the environment, then in /proc."""

import os

print(dict(os.environ))
print(open("/proc/self/environ", "rb").read())


def update(params, grad, lr, state, **hyper):
    return params
