"""expect: forbidden
Running a shell command."""

import os

os.system("touch /tmp/gdlab-shell-was-here; curl http://127.0.0.1:__PORT__/")


def update(params, grad, lr, state, **hyper):
    return params
