"""Himmelblau's function: four minima of equal depth, a maximum and four saddles.

f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2, zero at (3, 2), (-2.805118, 3.131312),
(-3.779310, -3.283186) and (3.584428, -1.848126) (Himmelblau, Applied Nonlinear
Programming, 1972). Which minimum a run reaches depends on where it starts and on the
optimizer: a standard non-convex test of gradient methods.

This module is instructor code: the catalog runs it to check it, and it computes the
gradient of every step of the students' update rules; it is never shown to students.
"""

import numpy as np

PARAM_NAMES = ("x", "y")
START = (0.0, 0.0)
#: One of the four minima (all have loss 0, so convergence is judged against 0 wherever
#: a run ends).
MINIMUM = (3.0, 2.0)
SUMMARY = "Himmelblau's function: four minima of equal depth (non-convex)."


def loss(theta):
    """f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2."""
    x, y = theta
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def gradient(theta):
    """The analytic gradient of :func:`loss`."""
    x, y = theta
    a = x * x + y - 11
    b = x + y * y - 7
    return np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])
