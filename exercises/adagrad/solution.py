import numpy as np


def update(params, grad, lr, state, eps, **hyper):
    """Adagrad: S += g^2; theta -= lr * g / (sqrt(S) + eps)."""
    state["sum"] = state.get("sum", 0.0) + grad**2
    return params - lr * grad / (np.sqrt(state["sum"]) + eps)
