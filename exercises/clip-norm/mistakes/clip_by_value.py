import numpy as np


def update(params, grad, lr, state, max_norm, **hyper):
    return params - lr * np.clip(grad, -max_norm, max_norm)
