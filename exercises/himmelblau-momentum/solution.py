def update(params, grad, lr, state, momentum, **hyper):
    """SGD with momentum as torch does it: the first buffer is the gradient itself."""
    if "buffer" not in state:
        state["buffer"] = grad.copy()
    else:
        state["buffer"] = momentum * state["buffer"] + grad
    return params - lr * state["buffer"]
