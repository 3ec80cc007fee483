"""expect: forbidden
Killing the runner."""

import os
import signal

os.kill(__PID__, signal.SIGKILL)


def update(params, grad, lr, state, **hyper):
    return params
