"""expect: forbidden
Connecting to a listener the test runs on 127.0.0.1."""

import socket

connection = socket.create_connection(("127.0.0.1", __PORT__), timeout=1)
connection.sendall(b"stolen")


def update(params, grad, lr, state, **hyper):
    return params
