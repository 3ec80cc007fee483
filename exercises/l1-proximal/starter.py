import numpy as np


def update(params, grad, lr, state, l1, **hyper):
    """One step of ISTA: gradient step, then soft-thresholding by lr * l1."""
    z = params - lr * grad
    # TODO: soft-threshold z.
    return z
