def update(params, grad, lr, state, weight_decay, **hyper):
    """One step of gradient descent with L2 (torch's coupled weight_decay)."""
    # TODO: add the gradient of the L2 penalty before stepping.
    return params - lr * grad
