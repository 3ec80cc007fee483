"""expect: timeout
Sleeping past the wall clock (uses no CPU, so only the wall clock can stop it)."""

import time

time.sleep(3600)


def update(params, grad, lr, state, **hyper):
    return params
