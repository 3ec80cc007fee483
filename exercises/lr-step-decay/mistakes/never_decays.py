def lr_at(epoch, lr0, step_size, gamma, **hyper):
    return lr0
