"""Hostile submissions that look for what a child must not hold, for the grading and the
integration tests: other runs' inputs (hidden ones above all) and problems' minima.

Each spy walks everything its own process can reach: every object the garbage collector
tracks, everything those refer to (arrays, their buffers, bytes, strings), and the locals
and globals of every frame on the stack (the harness's and the child's, holding the job).
It prints what it found, as labels the test chose, and then behaves as a plain rule.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

import numpy as np

from grader.engine.problems import make_problem
from grader.preparation import ExerciseRun

#: Walks the process once, at the rule's first call (deep in the harness's frames).
_WALK = '''
import gc
import sys

import numpy as np


def _everything():
    roots = list(gc.get_objects())
    frame = sys._getframe()
    while frame is not None:
        roots += [frame.f_locals, frame.f_globals]
        frame = frame.f_back
    seen, stack = set(), roots
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, np.ndarray):
            stack.append(item.base)
        elif isinstance(item, memoryview):
            stack.append(item.obj)
        elif not isinstance(item, (str, bytes, int, float)):
            stack.extend(gc.get_referents(item))
'''

_INPUTS_SPY = _WALK + '''

# As hex text: the spy's own source must not hold the bytes it looks for.
PATTERNS = __PATTERNS__
FOUND = None


def _contents(item):
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    if isinstance(item, np.ndarray) and item.dtype == np.float64:
        return item.tobytes()
    return None


def update(params, grad, lr, state, **hyper):
    global FOUND
    if FOUND is None:
        FOUND = set()
        wanted = {label: bytes.fromhex(text) for label, text in PATTERNS.items()}
        own = {id(pattern) for pattern in wanted.values()}
        for item in _everything():
            data = None if id(item) in own else _contents(item)
            if data:
                FOUND.update(label for label, pattern in wanted.items() if pattern in data)
        print("found", sorted(FOUND))
    return params - lr * grad
'''

_MINIMUM_SPY = _WALK + '''

FOUND = None
TARGET = None


def update(params, grad, lr, state, **hyper):
    global FOUND, TARGET
    if FOUND is None:
        FOUND = set()
        for item in _everything():
            kind = type(item)
            names = [cls.__name__ for cls in getattr(kind, "__mro__", ())]
            attributes = getattr(item, "__dict__", None)
            if isinstance(item, type):
                continue
            if "Minimum" in names or "Problem" in names:
                FOUND.add(kind.__name__)
            if not isinstance(attributes, dict):
                continue
            if isinstance(attributes.get("hessian"), np.ndarray):
                FOUND.add(f"{kind.__name__}.hessian")
            point = getattr(attributes.get("minimum"), "point", None)
            if point is not None:
                FOUND.add(f"{kind.__name__}.minimum")
                if len(point) == len(params):
                    TARGET = np.array(point, dtype=float)
        print("minimum-spy found", sorted(FOUND))
    # jump to the minimum where one was found: the points of reaching it for nothing
    return TARGET.copy() if TARGET is not None else params - lr * grad
'''


def input_patterns(runs: Sequence[ExerciseRun]) -> dict[str, bytes]:
    """Byte patterns of each run's inputs, labelled ``<kind>:<case>[:<lr>]``: its start,
    its first per-step learning rates, and the first targets of a data problem."""
    patterns: dict[str, bytes] = {}
    for run in runs:
        case = run.case.name
        patterns[f"x0:{case}"] = np.asarray(run.x0, dtype=np.float64).tobytes()
        patterns[f"lrs:{case}:{run.lr:g}"] = np.asarray(run.step_rates[:3]).tobytes()
        spec = run.problem_spec
        problem = make_problem(spec["name"], spec["options"], spec["seed"])
        if hasattr(problem, "y"):
            patterns[f"data:{case}"] = np.asarray(problem.y[:3], dtype=np.float64).tobytes()
    return patterns


def inputs_spy(patterns: dict[str, bytes]) -> str:
    """A rule that prints which of ``patterns`` its process can reach."""
    as_text = {label: pattern.hex() for label, pattern in patterns.items()}
    return _INPUTS_SPY.replace("__PATTERNS__", repr(as_text))


def minimum_spy() -> str:
    """A rule that looks for problems, minima and Hessians in its process, prints what it
    found, and jumps to a minimum it found."""
    return _MINIMUM_SPY


def found(stdout: str, marker: str = "found") -> list[str]:
    """The labels a spy printed after ``marker`` (each child prints once)."""
    labels: list[str] = []
    for line in stdout.splitlines():
        if line.startswith(marker + " "):
            labels += ast.literal_eval(line[len(marker) + 1:])
    return labels
