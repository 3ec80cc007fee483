import numpy as np


def update(params, grad, lr, state, beta1, beta2, eps, **hyper):
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * grad
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * grad**2
    state.update(m=m, v=v)
    return params - lr * m / (np.sqrt(v) + eps)
