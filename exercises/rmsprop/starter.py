def update(params, grad, lr, state, alpha, eps, **hyper):
    """One step of RMSprop (torch.optim.RMSprop)."""
    # TODO: keep the moving average of grad**2 in state and divide the step by its root.
    return params - lr * grad
