import numpy as np


def update(params, grad, lr, state, eps, **hyper):
    total = grad**2
    return params - lr * grad / (np.sqrt(total) + eps)
