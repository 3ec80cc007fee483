import numpy as np


def update(params, grad, lr, state, max_norm, **hyper):
    """torch's clip_grad_norm_, then a plain gradient step."""
    norm = np.sqrt(np.sum(grad * grad))
    grad = grad * min(1.0, max_norm / (norm + 1e-6))
    return params - lr * grad
