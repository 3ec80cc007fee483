"""expect: memory
Growing numpy arrays inside the update rule until memory runs out."""

import numpy as np

hoard = []


def update(params, grad, lr, state, **hyper):
    while True:
        hoard.append(np.ones(2**24))
