import numpy as np


def gradient(params, X, y, lam, **hyper):
    z = X @ params[:2] + params[2]
    weights = -y / (1.0 + np.exp(y * z))
    data = np.array([np.sum(weights * X[:, 0]), np.sum(weights * X[:, 1]), np.sum(weights)])
    return data + lam * params
