def update(params, grad, lr, state, weight_decay, **hyper):
    return params - lr * (grad - weight_decay * params)
