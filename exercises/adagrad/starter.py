def update(params, grad, lr, state, eps, **hyper):
    """One step of Adagrad (torch.optim.Adagrad)."""
    # TODO: accumulate the squared gradients in state and scale the step by them.
    return params - lr * grad
