def update(params, grad, lr, state, weight_decay, **hyper):
    """SGD with weight_decay: theta - lr * (grad + weight_decay * theta)."""
    return params - lr * (grad + weight_decay * params)
