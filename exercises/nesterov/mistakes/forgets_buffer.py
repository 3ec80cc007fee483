def update(params, grad, lr, state, momentum, **hyper):
    buffer = grad.copy()
    return params - lr * (grad + momentum * buffer)
