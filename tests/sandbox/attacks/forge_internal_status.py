"""expect: crashed
Forging a frame that claims the sandbox itself failed (to look like the grader's fault)."""

import json
import os
import struct

header = json.dumps({"status": "internal", "error": {"type": "X", "message": "x"},
                     "arrays": []}).encode()
frame = b"GDLB" + struct.pack(">I", len(header)) + header
for fd in range(3, 64):
    try:
        os.write(fd, frame)
    except OSError:
        pass
os._exit(70)


def update(params, grad, lr, state, **hyper):
    return params
