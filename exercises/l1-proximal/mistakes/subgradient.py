import numpy as np


def update(params, grad, lr, state, l1, **hyper):
    return params - lr * (grad + l1 * np.sign(params))
