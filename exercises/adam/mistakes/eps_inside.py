import numpy as np


def update(params, grad, lr, state, beta1, beta2, eps, **hyper):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * grad
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * grad**2
    state.update(t=t, m=m, v=v)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return params - lr * m_hat / np.sqrt(v_hat + eps)
