def update(params, grad, lr, state, momentum, **hyper):
    if "buffer" not in state:
        state["buffer"] = grad.copy()
    else:
        state["buffer"] = 0.9 * state["buffer"] + grad
    return params - lr * state["buffer"]
