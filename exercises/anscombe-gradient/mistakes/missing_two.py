import numpy as np


def gradient(params, X, y, **hyper):
    w, b = params[:-1], params[-1]
    residual = y - (X @ w + b)
    return np.append(-X.T @ residual / len(y), -np.mean(residual))
