import numpy as np


def update(params, grad, lr, state, l1, **hyper):
    """Proximal gradient for L1: soft-threshold the gradient step by lr * l1."""
    z = params - lr * grad
    return np.sign(z) * np.maximum(np.abs(z) - lr * l1, 0.0)
