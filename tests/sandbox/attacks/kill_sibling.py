"""expect: forbidden
Killing another student's job that runs at the same time."""

import os
import signal

os.kill(__PID__, signal.SIGKILL)


def update(params, grad, lr, state, **hyper):
    return params
