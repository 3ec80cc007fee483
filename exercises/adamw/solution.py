import numpy as np


def update(params, grad, lr, state, beta1, beta2, eps, weight_decay, **hyper):
    """AdamW: decoupled decay, then Adam with bias correction (torch.optim.AdamW)."""
    params = params * (1 - lr * weight_decay)
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(params)) + (1 - beta1) * grad
    v = beta2 * state.get("v", np.zeros_like(params)) + (1 - beta2) * grad * grad
    state.update(t=t, m=m, v=v)
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return params - lr * m_hat / (np.sqrt(v_hat) + eps)
