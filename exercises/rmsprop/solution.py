import numpy as np


def update(params, grad, lr, state, alpha, eps, **hyper):
    """RMSprop: v = alpha v + (1 - alpha) g^2; theta -= lr g / (sqrt(v) + eps)."""
    state["v"] = alpha * state.get("v", np.zeros_like(params)) + (1 - alpha) * grad**2
    return params - lr * grad / (np.sqrt(state["v"]) + eps)
