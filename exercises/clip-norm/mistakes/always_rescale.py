import numpy as np


def update(params, grad, lr, state, max_norm, **hyper):
    norm = np.linalg.norm(grad)
    return params - lr * grad * max_norm / norm
