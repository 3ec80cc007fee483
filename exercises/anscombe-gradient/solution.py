import numpy as np


def gradient(params, X, y, **hyper):
    """The gradient of mean((y - X w - b)^2) with respect to (w_1, ..., w_d, b)."""
    w, b = params[:-1], params[-1]
    residual = y - (X @ w + b)
    n = len(y)
    dw = -2 * X.T @ residual / n
    db = -2 * np.mean(residual)
    return np.append(dw, db)
