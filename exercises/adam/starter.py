def update(params, grad, lr, state, beta1, beta2, eps, **hyper):
    """One step of Adam (torch.optim.Adam)."""
    # TODO: keep t, m and v in state; correct their bias; step along m_hat / sqrt(v_hat).
    return params - lr * grad
