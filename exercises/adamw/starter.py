def update(params, grad, lr, state, beta1, beta2, eps, weight_decay, **hyper):
    """One step of AdamW (torch.optim.AdamW)."""
    # TODO: decay the weights, then take an Adam step with bias correction.
    return params - lr * grad
