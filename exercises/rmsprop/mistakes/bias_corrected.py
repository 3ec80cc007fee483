import numpy as np


def update(params, grad, lr, state, alpha, eps, **hyper):
    state["t"] = state.get("t", 0) + 1
    state["v"] = alpha * state.get("v", np.zeros_like(params)) + (1 - alpha) * grad**2
    v_hat = state["v"] / (1 - alpha ** state["t"])
    return params - lr * grad / (np.sqrt(v_hat) + eps)
