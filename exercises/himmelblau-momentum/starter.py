def update(params, grad, lr, state, momentum, **hyper):
    """One step of SGD with momentum (torch.optim.SGD).

    state is empty at the first step of a run; keep the momentum buffer in it.
    """
    # TODO: create or update the buffer in state, then step along it.
    return params - lr * grad
