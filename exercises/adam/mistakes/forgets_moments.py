import numpy as np


def update(params, grad, lr, state, beta1, beta2, eps, **hyper):
    m = (1 - beta1) * grad
    v = (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1), v / (1 - beta2)
    return params - lr * m_hat / (np.sqrt(v_hat) + eps)
