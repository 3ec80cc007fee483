def update(params, grad, lr, state, **hyper):
    return -lr * grad
