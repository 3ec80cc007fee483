def update(params, grad, lr, state, momentum, **hyper):
    """One step of torch's Nesterov momentum."""
    # TODO: keep a buffer in state as for heavy-ball momentum, then step along
    # grad + momentum * buffer.
    return params - lr * grad
