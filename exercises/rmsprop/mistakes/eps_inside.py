import numpy as np


def update(params, grad, lr, state, alpha, eps, **hyper):
    state["v"] = alpha * state.get("v", np.zeros_like(params)) + (1 - alpha) * grad**2
    return params - lr * grad / np.sqrt(state["v"] + eps)
