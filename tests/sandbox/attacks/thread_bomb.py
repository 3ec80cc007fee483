"""expect: forbidden
A thread bomb."""

import threading


def spin():
    while True:
        pass


while True:
    threading.Thread(target=spin).start()


def update(params, grad, lr, state, **hyper):
    return params
