import numpy as np


def update(params, grad, lr, state, beta1, beta2, eps, **hyper):
    """Adam with bias correction, eps after the root (torch.optim.Adam)."""
    if not state:
        state.update(t=0, m=np.zeros_like(params), v=np.zeros_like(params))
    state["t"] += 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = state["m"] / (1 - beta1 ** state["t"])
    v_hat = state["v"] / (1 - beta2 ** state["t"])
    return params - lr * m_hat / (np.sqrt(v_hat) + eps)
