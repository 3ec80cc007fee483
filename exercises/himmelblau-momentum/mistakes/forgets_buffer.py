def update(params, grad, lr, state, momentum, **hyper):
    state = {}
    buffer = state.get("buffer", grad)
    return params - lr * buffer
