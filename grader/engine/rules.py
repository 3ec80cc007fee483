"""How a rule is composed: regulariser -> clip -> optimizer -> proximal step, in one place.

The engine's run loop and the grader's reference rule (the exercise's reference with the
students' contract) both step with :func:`compose`, so the order of the parts can never
differ between them. As in optax, a composed rule is a small pair of plain functions:
``init(params) -> state`` and ``update(params, grad, lr, state) -> params`` (``state``
advanced in place), over float64 arrays that broadcast (the run loop steps one row per
learning rate with ``lr`` of shape ``(rows, 1)``).

The order, per step, with ``grad`` the loss gradient at ``params``:

1. the regulariser's gradient term (coupled ``l2``, ``l1`` subgradient);
2. gradient clipping;
3. decoupled weight decay shrinks the parameters;
4. the optimizer's step;
5. the proximal step of ``l1-prox`` (soft-thresholding).

Examples
--------
>>> import numpy as np
>>> from grader.engine.optimizers import get_optimizer
>>> from grader.engine.regularizers import make_clip, make_regularizer
>>> sgd = get_optimizer("sgd")
>>> rule = compose(sgd, sgd.resolve({}), make_regularizer("l1-prox", {"lam": 0.5}),
...                make_clip("value", {"clip_value": 1.0}))
>>> state = rule.init(np.array([0.3, -2.0]))
>>> rule.update(np.array([0.3, -2.0]), np.array([0.0, 4.0]), 1.0, state)
array([ 0. , -2.5])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.optimizers import Lr, OptimizerDef, State
from grader.engine.regularizers import Clip, Regularizer

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ComposedRule:
    """An optimizer with its regulariser and clipping, as one ``init``/``update`` pair."""

    init: Callable[[Array], State]
    update: Callable[[Array, Array, Lr, State], Array]


def compose(optimizer: OptimizerDef, hyper: Mapping[str, Any],
            regularizer: Regularizer | None = None, clip: Clip | None = None) -> ComposedRule:
    """The rule that steps ``optimizer`` (with resolved ``hyper``) together with
    ``regularizer`` and ``clip``, in the engine's order (see the module docstring).

    Parts that change nothing are left out once, here, rather than tested at every
    step: the run loop calls ``update`` up to 10^5 times, and most runs use none of them.
    """
    settings = dict(hyper)
    step = optimizer.step
    regularizer = regularizer or Regularizer()
    penalty_term = regularizer.active and regularizer.kind in ("l2", "l1")
    shrink = regularizer.active and regularizer.kind == "decoupled"
    proximal = regularizer.active and regularizer.kind == "l1-prox"
    clipping = clip if clip is not None and clip.kind != "none" else None

    def init(params: Array) -> State:
        return optimizer.init(params, **settings)

    def update(params: Array, grad: Array, lr: Lr, state: State) -> Array:
        if penalty_term:
            grad = regularizer.gradient(grad, params)
        if clipping is not None:
            grad = clipping(grad)
        if shrink:
            params = regularizer.before_step(params, lr)
        params = step(params, grad, lr, state, **settings)
        if proximal:
            params = regularizer.after_step(params, lr)
        return params

    return ComposedRule(init, update)
