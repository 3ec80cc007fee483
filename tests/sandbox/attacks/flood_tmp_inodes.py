"""expect: forbidden
Filling the private /tmp with empty files (no bytes, but each pins an inode of kernel
memory): the tmpfs's inode limit stops it with an error long before the 200,000th."""

import os

created = 0
try:
    for created in range(200_000):  # noqa: B007 (the count is the point)
        os.close(os.open(f"/tmp/f{created}", os.O_CREAT | os.O_WRONLY, 0o600))
except OSError:
    print("created", created)
    raise


def update(params, grad, lr, state, **hyper):
    return params
