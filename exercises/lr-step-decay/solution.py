def lr_at(epoch, lr0, step_size, gamma, **hyper):
    """StepLR: lr0 * gamma ** (epoch // step_size)."""
    return lr0 * gamma ** (epoch // step_size)
