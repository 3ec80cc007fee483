import numpy as np


def update(params, grad, lr, state, momentum, **hyper):
    v = state.get("v", np.zeros_like(params))
    v = momentum * v + (1 - momentum) * grad
    state["v"] = v
    return params - lr * v
