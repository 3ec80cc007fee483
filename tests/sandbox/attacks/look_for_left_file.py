"""expect: ok
The next job looks for the file the previous one left."""

import os

print("found" if os.path.exists("/tmp/__FILE__") else "absent")


def update(params, grad, lr, state, **hyper):
    return params
