"""From a function object in a notebook to the source file the grader expects.

A notebook cell holds ``import numpy as np`` and ``def update(...)``; the function's own
source (:func:`inspect.getsource`) has only the ``def``. So the file sent is the function's
source preceded by what it needs of the notebook's globals: the modules and imported
functions it names (as import lines), the plain constants (as assignments) and the
helper functions defined next to it (their source, the same way). Anything else cannot be
rebuilt in the sandbox, and the student is told which name it is.

Examples
--------
>>> namespace = {}
>>> exec("import math\\nSCALE = 2.0", namespace)
>>> def update(params, grad, lr, state, **hyper):
...     return params - SCALE * lr * grad / math.sqrt(1.0)
>>> update.__globals__.update(namespace)  # as if it had been defined there
>>> print(source_of(update, "update"))
import math
SCALE = 2.0
<BLANKLINE>
<BLANKLINE>
def update(params, grad, lr, state, **hyper):
    return params - SCALE * lr * grad / math.sqrt(1.0)
<BLANKLINE>
"""

from __future__ import annotations

import ast
import builtins
import dis
import inspect
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gdlab.errors import GdlabError

#: Global names read by these instructions are what a function needs from its module.
_GLOBAL_READS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})


def source_of(solution: Callable[..., Any] | str, entry: str, exercise: str = "") -> str:
    """The text to grade: ``solution`` itself when it is a string, else the function's
    source with what it needs from its notebook.

    Parameters
    ----------
    solution : function or str
        The student's function (e.g. ``update``) or a whole solution as text.
    entry : str
        The function the exercise grades (``update``, ``gradient``, ``lr_at``).
    exercise : str
        The exercise's id, for the messages.

    Raises
    ------
    GdlabError
        Not a function or a string; a lambda; a function of another name; a function
        whose source Python does not have (made by ``exec``, typed at a plain prompt); a
        function that needs a global that cannot be sent.
    """
    if isinstance(solution, str):
        return solution
    if isinstance(solution, bytes):
        raise GdlabError("pass your solution's source as text (str), not bytes")
    if not isinstance(solution, types.FunctionType):
        raise GdlabError(f"pass your function (e.g. {entry}, without parentheses) or its "
                         f"source as a string; got {type(solution).__name__}")
    if solution.__name__ == "<lambda>":
        raise GdlabError(f"a lambda cannot be graded: write it as `def {entry}(...):` in a "
                         "cell and pass that function")
    if solution.__name__ != entry:
        where = f"exercise {exercise}" if exercise else "this exercise"
        raise GdlabError(f"your function is named `{solution.__name__}`, but {where} "
                         f"grades a function named `{entry}`: rename it to `{entry}`")
    parts = _Needs()
    parts.add_function(solution)
    return parts.text()


def function_source(function: types.FunctionType) -> str:
    """``function``'s source, dedented (a function defined inside another one works too).

    Raises
    ------
    GdlabError
        Python has no source for it (``exec``, a plain interactive prompt, a deleted
        file).
    """
    try:
        text = inspect.getsource(function)
    except (OSError, TypeError):
        raise GdlabError(
            f"the source of `{function.__name__}` cannot be found (it was made by exec or "
            "typed at a plain Python prompt): define it in a notebook cell or a .py file, "
            "or pass its source as a string") from None
    return textwrap.dedent(text)


def global_names(code: types.CodeType) -> Iterator[str]:
    """The global names ``code`` reads, its nested functions and comprehensions included
    (attribute names, such as ``update`` in ``state.update``, are not global reads).

    Examples
    --------
    >>> def rule(params, grad, lr, state):
    ...     state.update(t=1)
    ...     return [np.sign(g) for g in grad]
    >>> sorted(set(global_names(rule.__code__)))
    ['np']
    """
    for instruction in dis.get_instructions(code):
        if instruction.opname in _GLOBAL_READS:
            yield instruction.argval
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from global_names(constant)


def _import_line(name: str, value: Any) -> str | None:
    """``import ...`` that binds ``name`` to ``value`` again, if there is one."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
        return f"import {module}" if module == name else f"import {module} as {name}"
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", getattr(value, "__name__", None))
    if (not isinstance(module, str) or module == "__main__" or not isinstance(qualname, str)
            or "." in qualname or getattr(sys.modules.get(module), qualname, None) is not value):
        return None
    return (f"from {module} import {qualname}" if qualname == name
            else f"from {module} import {qualname} as {name}")


def _literal(value: Any) -> str | None:
    """``repr(value)`` if it reads back as the same plain constant (numbers, text, ...)."""
    if not isinstance(value, int | float | complex | str | bytes | bool | tuple | type(None)):
        return None
    text = repr(value)
    try:
        return text if ast.literal_eval(text) == value else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


@dataclass
class _Needs:
    """What the function needs, gathered in order: imports, constants, helpers."""

    imports: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)

    def add_function(self, function: types.FunctionType) -> None:
        if id(function) in self.seen:
            return
        self.seen.add(id(function))
        if function.__code__.co_freevars:
            names = ", ".join(f"`{n}`" for n in function.__code__.co_freevars)
            raise GdlabError(f"`{function.__name__}` uses {names} from the function it is "
                             "defined in: define it at the top level of a cell")
        text = function_source(function)
        for name in dict.fromkeys(global_names(function.__code__)):
            self.add_global(function, name)
        self.functions.append(text)

    def add_global(self, function: types.FunctionType, name: str) -> None:
        scope = function.__globals__
        if name not in scope:
            return  # a builtin, or a name the student never defined (the run will say so)
        value = scope[name]
        if value is getattr(builtins, name, object()):
            return
        if isinstance(value, types.FunctionType) and value.__module__ == function.__module__:
            self.add_function(value)
            return
        line = _import_line(name, value)
        if line is not None:
            if line not in self.imports:
                self.imports.append(line)
            return
        literal = _literal(value)
        if literal is None:
            raise GdlabError(
                f"`{function.__name__}` uses the global `{name}` (a {type(value).__name__}), "
                "which cannot be sent to the grader: compute it inside the function, or "
                "make it a number or a string")
        assignment = f"{name} = {literal}"
        if assignment not in self.constants:
            self.constants.append(assignment)

    def text(self) -> str:
        head = "\n".join([*self.imports, *self.constants])
        body = "\n\n".join(text.rstrip("\n") + "\n" for text in self.functions)
        return f"{head}\n\n\n{body}" if head else body
