def update(params, grad, lr, state, weight_decay, **hyper):
    return params - lr * (grad + 2 * weight_decay * params)
