"""expect: ok
Hunting for the reference optimizers: in sys.modules, in gc.get_objects(), by import, on disk."""

import gc
import importlib
import os
import sys

# what an update-rule child needs: the problems' gradients (the engine's, and the
# exercises' own from grader.engine.custom) and the options they are validated with
NEEDED = ("grader.engine.problems", "grader.engine.options", "grader.engine.custom")
found = [name for name in sys.modules
         if name.startswith("grader.engine.") and name not in NEEDED]
for thing in gc.get_objects():
    name = getattr(thing, "__name__", "")
    if isinstance(name, str) and (name.endswith("_step") or name in ("OptimizerDef", "sweep")):
        found.append(f"object {name}")
for module in ("grader.engine.optimizers", "grader.engine.runs", "grader.engine.schedules",
               "grader.engine"):
    try:
        loaded = importlib.import_module(module)
        if module != "grader.engine":
            found.append(f"imported {module}")
        elif getattr(loaded, "OPTIMIZERS", None) is not None:
            found.append("grader.engine.OPTIMIZERS")
    except Exception:
        pass
try:
    found.extend(os.listdir(os.path.dirname(sys.modules["grader"].__path__[0]) + "/grader"))
except Exception:
    pass
print("found:", sorted(found))


def update(params, grad, lr, state, **hyper):
    return params
