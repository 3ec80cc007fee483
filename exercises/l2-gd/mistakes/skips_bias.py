def update(params, grad, lr, state, weight_decay, **hyper):
    decay = weight_decay * params
    decay[-1] = 0.0
    return params - lr * (grad + decay)
