def update(params, grad, lr, state, **hyper):
    return params + lr * grad
