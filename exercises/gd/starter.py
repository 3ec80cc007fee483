def update(params, grad, lr, state, **hyper):
    """Return the parameters after one gradient-descent step.

    params, grad: numpy arrays of the same shape; lr: the learning rate;
    state: a dict kept between calls (not needed here).
    """
    # TODO: move params against the gradient, scaled by the learning rate.
    return params
