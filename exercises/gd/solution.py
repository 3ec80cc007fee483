def update(params, grad, lr, state, **hyper):
    """One step of plain gradient descent: theta - lr * grad."""
    return params - lr * grad
