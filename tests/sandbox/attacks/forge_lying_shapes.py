"""expect: crashed
Forging a well-formed header whose arrays claim more bytes than follow."""

import json
import os
import struct

header = json.dumps({"status": "ok", "runs": [], "arrays": [
    {"name": "trajectory_0", "dtype": "<f8", "shape": [1000000000, 2]}]}).encode()
frame = b"GDLB" + struct.pack(">I", len(header)) + header + b"\x00" * 16
for fd in range(3, 64):
    try:
        os.write(fd, frame)
    except OSError:
        pass
os._exit(0)


def update(params, grad, lr, state, **hyper):
    return params
