import numpy as np


def update(params, grad, lr, state, l1, **hyper):
    z = params - lr * grad
    return np.sign(z) * np.maximum(np.abs(z) - l1, 0.0)
