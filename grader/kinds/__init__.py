"""Exercise kinds: what a student writes, and everything gdlab does differently for it.

A kind (``update_rule``, ``gradient``, ``schedule``) is one module of this package with
one :class:`~grader.kinds.base.Kind` object, ``KIND``, which owns its contract (the
function the student writes and its arguments), how its reference is set up, its
sandbox job (typed inputs in, checked arrays out), how gdlab runs a trusted rule of it
in process, and its candidate mistakes with their messages. The grader is a pipeline
that asks the exercise's kind at each step and never branches on the kind's name.

The kind's side inside the sandbox (the loop that calls the student's function) is
in :mod:`grader.sandbox.harness`, and what travels over the wire (the arrays a kind
returns) in :mod:`grader.kinds.wire`: a sandboxed child imports those two, never a
kind's module, which holds the reference.

Names load on first use: this package's ``__init__`` imports nothing, so that the
sandbox's protocol can take :data:`NAMES` from here without bringing a kind (and the
reference it knows) into a child's memory.

Examples
--------
>>> get("schedule").entry
'lr_at'
>>> NAMES
('update_rule', 'gradient', 'schedule')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.kinds.base import Kind

#: Every kind, in the order of its number on the sandbox's wire (never reorder).
NAMES = ("update_rule", "gradient", "schedule")


def get(name: str) -> Kind:
    """The kind called ``name``.

    Raises
    ------
    KeyError
        Naming the known kinds.
    """
    if name not in NAMES:
        raise KeyError(f"unknown exercise kind {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(f"grader.kinds.{name}").KIND
