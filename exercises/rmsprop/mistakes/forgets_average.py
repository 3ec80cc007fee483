import numpy as np


def update(params, grad, lr, state, alpha, eps, **hyper):
    v = (1 - alpha) * grad**2
    return params - lr * grad / (np.sqrt(v) + eps)
