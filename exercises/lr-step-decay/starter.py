def lr_at(epoch, lr0, step_size, gamma, **hyper):
    """The learning rate of epoch ``epoch`` (from 0) under step decay."""
    # TODO: multiply by gamma once per step_size epochs.
    return lr0
