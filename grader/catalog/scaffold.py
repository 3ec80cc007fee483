"""``gdlab exercises new``: a new exercise folder that passes ``gdlab exercises check`` at once.

Each kind gets a small, complete exercise to edit rather than a blank form: an
``exercise.toml`` with a visible and two hidden cases, a statement, a starter that runs
and scores below 100, a solution that scores 100, and one known mistake with its
diagnosis. The author then changes the cases, the statement and the code (and adds a data
set or a problem of their own, see ``exercises/README.md``), running the check after each
step.

Examples
--------
>>> import tempfile, pathlib
>>> folder = scaffold(pathlib.Path(tempfile.mkdtemp()), "my-momentum", "update_rule")
>>> sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
['README.md', 'exercise.toml', 'mistakes/forgets_buffer.py', 'solution.py', 'starter.py']
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from grader.kinds import NAMES as KINDS

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")


class ScaffoldError(ValueError):
    """Why no folder was written (a sentence for the command line)."""


_UPDATE_RULE = {
    "exercise.toml": '''\
id = "$id"
title = "$title"
version = 1
kind = "update_rule"
summary = "Write torch's heavy-ball momentum (SGD with momentum); edit this line."
epochs = 100

# What the student's rule is compared with: an engine optimizer; "$$momentum" takes each
# case's hyper-parameter, so the hidden cases can change it.
[reference]
optimizer = "sgd"
hyper = { momentum = "$$momentum" }

# The case the student sees in detail.
[[cases]]
name = "course"
visible = true
problem = "linear-regression"
learning_rates = [0.01, 0.1, 0.5]
hyper = { momentum = 0.9 }

# Hidden cases: other problems, starts and hyper-parameters, shown only as an aggregate.
[[cases]]
name = "bowl"
problem = "quadratic"
x0 = [1.0, -1.0]
learning_rates = [0.01, 0.05, 0.1]
hyper = { momentum = 0.5 }

[[cases]]
name = "other-data"
problem = "linear-regression"
seed = 3
learning_rates = [0.02, 0.3, 1.5]
hyper = { momentum = 0.8 }

[[cases]]
name = "banana"
problem = "rosenbrock"
learning_rates = [0.0001, 0.0005]
hyper = { momentum = 0.8 }
epochs = 150

# A known wrong solution: the diagnosis it must receive and the most it may score.
[[mistakes]]
file = "forgets_buffer.py"
diagnosis = "state-reset"
max_score = 60
''',
    "README.md": '''\
# $title

Write torch's SGD with momentum (`torch.optim.SGD(momentum=mu)`):

    at the first step:  b = g
    afterwards:         b = momentum * b + g
    theta_new = theta - lr * b

```python
def update(params, grad, lr, state, momentum, **hyper):
    ...
```

`state` is a dict, empty at the first step of every run: keep the buffer there. The
hidden cases change the problem and the momentum.
''',
    "starter.py": '''\
def update(params, grad, lr, state, momentum, **hyper):
    """One step of SGD with momentum; keep the momentum buffer in state."""
    # TODO: create or update the buffer in state, then step along it.
    return params - lr * grad
''',
    "solution.py": '''\
def update(params, grad, lr, state, momentum, **hyper):
    """SGD with momentum as torch does it: the first buffer is the gradient itself."""
    if "buffer" not in state:
        state["buffer"] = grad.copy()
    else:
        state["buffer"] = momentum * state["buffer"] + grad
    return params - lr * state["buffer"]
''',
    "mistakes/forgets_buffer.py": '''\
def update(params, grad, lr, state, momentum, **hyper):
    """Starts a new buffer at every step: plain gradient descent."""
    buffer = grad.copy()
    return params - lr * buffer
''',
}

_GRADIENT = {
    "exercise.toml": '''\
id = "$id"
title = "$title"
version = 1
kind = "gradient"
summary = "Write the gradient of the mean squared error of y = w x + b; edit this line."
epochs = 100

# The grader runs gradient descent with the student's gradient on each case's data.
[[cases]]
name = "course"
visible = true
problem = "linear-regression"
learning_rates = [0.01, 0.1, 0.5]

[[cases]]
name = "noisy-small-data"
problem = "linear-regression"
problem_options = { n_samples = 37, noise = 0.5 }
seed = 21
learning_rates = [0.05, 0.2, 0.5]

[[cases]]
name = "far-start"
problem = "linear-regression"
seed = 8
x0 = [5.0, -5.0]
learning_rates = [0.03, 0.1, 0.4, 0.7]

[[mistakes]]
file = "wrong_sign.py"
diagnosis = "sign-flip"
max_score = 5
''',
    "README.md": '''\
# $title

The loss is the mean squared error of the line y = w x + b,
`L(w, b) = mean((y - w x - b)^2)`. Return its gradient `(dw, db)`:

```python
def gradient(params, X, y, **hyper):
    ...
```

`params` is `(w, b)`, `X` the inputs and `y` the targets.
''',
    "starter.py": '''\
import numpy as np


def gradient(params, X, y, **hyper):
    """Return (dL/dw, dL/db) of mean((y - w X - b)^2)."""
    # TODO
    return np.zeros_like(params)
''',
    "solution.py": '''\
import numpy as np


def gradient(params, X, y, **hyper):
    """dw = -2 mean((y - y_pred) x), db = -2 mean(y - y_pred)."""
    w, b = params
    residual = y - (w * X + b)
    return np.array([-2 * np.mean(residual * X), -2 * np.mean(residual)])
''',
    "mistakes/wrong_sign.py": '''\
import numpy as np


def gradient(params, X, y, **hyper):
    w, b = params
    residual = y - (w * X + b)
    return np.array([2 * np.mean(residual * X), 2 * np.mean(residual)])
''',
}

_SCHEDULE = {
    "exercise.toml": '''\
id = "$id"
title = "$title"
version = 1
kind = "schedule"
summary = "Write torch's StepLR schedule; edit this line."
epochs = 60

# The student's learning rates drive plain gradient descent on each case's problem.
[reference]
schedule = { name = "step", options = { step_size = "$$step_size", gamma = "$$gamma" } }

[[cases]]
name = "course"
visible = true
problem = "linear-regression"
learning_rates = [0.1, 0.5, 1.0]
hyper = { step_size = 10, gamma = 0.5 }

[[cases]]
name = "bowl-fast-decay"
problem = "quadratic"
x0 = [2.0, 1.0]
learning_rates = [0.02, 0.05, 0.1]
hyper = { step_size = 7, gamma = 0.3 }

[[cases]]
name = "every-other-epoch"
problem = "linear-regression"
seed = 13
learning_rates = [0.3, 0.6, 0.9]
hyper = { step_size = 2, gamma = 0.8 }
epochs = 40

[[cases]]
name = "sharp-cuts"
problem = "linear-regression"
seed = 17
x0 = [-3.0, 2.0]
learning_rates = [0.05, 0.3, 0.7]
hyper = { step_size = 4, gamma = 0.1 }
epochs = 30

[[mistakes]]
file = "never_decays.py"
diagnosis = "never-decays"
max_score = 60

# A mistake particular to this exercise, with the sentence a student reads.
[[diagnoses]]
id = "never-decays"
message = "Your rate never changes: multiply lr0 by gamma once every step_size epochs."
''',
    "README.md": '''\
# $title

Return the learning rate of epoch `epoch` (counted from 0) for torch's StepLR:
`lr0 * gamma ** (epoch // step_size)`.

```python
def lr_at(epoch, lr0, step_size, gamma, **hyper):
    ...
```
''',
    "starter.py": '''\
def lr_at(epoch, lr0, step_size, gamma, **hyper):
    """The learning rate at ``epoch``."""
    # TODO: cut lr0 by gamma every step_size epochs
    return lr0
''',
    "solution.py": '''\
def lr_at(epoch, lr0, step_size, gamma, **hyper):
    """StepLR: lr0 * gamma ** (epoch // step_size)."""
    return lr0 * gamma ** (epoch // step_size)
''',
    "mistakes/never_decays.py": '''\
def lr_at(epoch, lr0, step_size, gamma, **hyper):
    return lr0
''',
}

#: The files of a new exercise of each kind (``$id`` and ``$title`` filled in).
TEMPLATES: dict[str, dict[str, str]] = {
    "update_rule": _UPDATE_RULE, "gradient": _GRADIENT, "schedule": _SCHEDULE}


def title_of(exercise_id: str) -> str:
    """A first title from the id: ``"my-momentum"`` -> ``"My momentum"``."""
    return exercise_id.replace("-", " ").capitalize()


def scaffold(directory: Path, exercise_id: str, kind: str) -> Path:
    """Write a new exercise folder ``directory/exercise_id`` of ``kind`` and return it.

    Raises
    ------
    ScaffoldError
        A malformed id, an unknown kind, an existing folder, or a folder that cannot be
        written.
    """
    if not _ID.match(exercise_id):
        raise ScaffoldError(f"{exercise_id!r} is not a valid exercise id: use lower-case "
                            "letters, digits and dashes, e.g. 'my-momentum'")
    if kind not in TEMPLATES:
        raise ScaffoldError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    folder = directory / exercise_id
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists; choose another id or remove it")
    values = {"id": exercise_id, "title": title_of(exercise_id)}
    try:
        for relative, text in TEMPLATES[kind].items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(text).substitute(values), encoding="utf-8")
    except OSError as error:
        raise ScaffoldError(f"cannot write {folder}: {error.strerror or error}") from None
    return folder
