import numpy as np


def gradient(params, X, y):
    w, b = params
    residual = y - (w * X + b)
    return np.array([-np.mean(residual * X), -np.mean(residual)])
