import numpy as np


def update(params, grad, lr, state, max_norm, **hyper):
    """Clip the gradient to at most max_norm in length, then take a gradient step."""
    # TODO: rescale grad when its norm is larger than max_norm.
    return params - lr * grad
