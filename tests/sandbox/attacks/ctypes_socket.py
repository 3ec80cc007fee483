"""expect: forbidden
Opening a socket through ctypes, behind Python's back."""

import ctypes
import struct

libc = ctypes.CDLL(None, use_errno=True)
fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM
address = struct.pack("!HH4s8x", 2, __PORT__, bytes([127, 0, 0, 1]))
libc.connect(fd, address, len(address))
libc.write(fd, b"stolen", 6)


def update(params, grad, lr, state, **hyper):
    return params
