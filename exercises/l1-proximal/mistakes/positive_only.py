import numpy as np


def update(params, grad, lr, state, l1, **hyper):
    z = params - lr * grad
    return np.where(z > 0, np.maximum(z - lr * l1, 0.0), z)
