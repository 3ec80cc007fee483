"""expect: forbidden
Starting a process."""

import subprocess

subprocess.run(["/bin/sh", "-c", "id"], check=False)


def update(params, grad, lr, state, **hyper):
    return params
