import numpy as np


def update(params, grad, lr, state, beta1, beta2, eps, weight_decay, **hyper):
    grad = grad + weight_decay * params
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(params)) + (1 - beta1) * grad
    v = beta2 * state.get("v", np.zeros_like(params)) + (1 - beta2) * grad * grad
    state.update(t=t, m=m, v=v)
    return params - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
