"""What the engine offers (problems, optimizers and their settings) and the limits in force."""

from __future__ import annotations

from typing import Any

from grader.engine import OPTIMIZERS, PROBLEMS, make_problem
from grader.engine.problems import REGISTERED
from service.api.common import API_PREFIX, Blueprint
from service.schemas import CatalogueSchema, LimitsSchema
from service.state import services

blp = Blueprint("catalogue", __name__, url_prefix=API_PREFIX,
                description="Problems, optimizers and limits")


@blp.route("/problems")
@blp.response(200, CatalogueSchema)
def problems() -> dict[str, Any]:
    """The problems of reference runs, each setting with its type, default and range; an
    exercise's own problems (its data sets, its instructor's module) follow, named
    ``<exercise-id>/<name>``."""
    builtin = [{"name": name, "summary": cls.summary,
                "options": [option.describe() for option in cls.options]}
               for name, cls in PROBLEMS.items()]
    # the exercises' own data sets and problems, by "<exercise-id>/<name>" (no options)
    own = [{"name": name, "summary": make_problem(name).summary, "options": []}
           for name in sorted(REGISTERED)]
    return {"items": builtin + own}


@blp.route("/optimizers")
@blp.response(200, CatalogueSchema)
def optimizers() -> dict[str, Any]:
    """The optimizers (torch.optim's), each hyper-parameter with its type, default, range."""
    return {"items": [{"name": name, "summary": optimizer.summary,
                       "default_lr": optimizer.default_lr,
                       "options": [option.describe() for option in optimizer.options]}
                      for name, optimizer in OPTIMIZERS.items()]}


@blp.route("/limits")
@blp.response(200, LimitsSchema)
def limits() -> dict[str, Any]:
    """The limits in force: reference runs, student code, requests."""
    config = services().config
    return {"reference": config.limits.to_dict(), "sandbox": config.sandbox_limits.to_dict(),
            "service": config.service_limits.to_dict(), "student_auth": config.student_auth}
