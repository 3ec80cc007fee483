def update(params, grad, lr, state, momentum, **hyper):
    """torch.optim.SGD(momentum=momentum, nesterov=True)."""
    buffer = state.get("buffer")
    buffer = grad.copy() if buffer is None else momentum * buffer + grad
    state["buffer"] = buffer
    return params - lr * (grad + momentum * buffer)
