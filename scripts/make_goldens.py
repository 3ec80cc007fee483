"""Write the golden files the engine is tested against, from torch itself.

torch is not a dependency of gdlab, nor of its tests: the committed files are. To make
them again (only needed when a golden case is added or torch's semantics change):

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 numpy     # the CPU build on this disk
    /tmp/torchenv/bin/python scripts/make_goldens.py

Everything runs in float64. Gradients come from gdlab's own problems (numpy), so the
optimizer files test exactly the update rules; ``problems.json`` tests those gradients
separately against torch.autograd on the same data.

Files written under ``tests/golden/``:

- ``optimizers.json``: 30 steps of every optimizer over a grid of options, on three problems.
- ``schedules.json``: learning rates of torch.optim.lr_scheduler over 60 epochs.
- ``clipping.json``: clip_grad_norm_ and clip_grad_value_ on a set of gradients.
- ``problems.json``: loss and autograd gradient of every problem at several points.
- ``runs.json``: whole runs combining an optimizer, a scheduler, clipping, a regulariser
  and mini-batches, as a torch training loop would do them.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.engine import Component, RunSpec, make_problem, plan_run  # noqa: E402
from grader.engine.runs import batch_order  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
STEPS = 30
torch.set_default_dtype(torch.float64)

TORCH_CLASSES = {
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "nadam": torch.optim.NAdam,
    "adadelta": torch.optim.Adadelta,
}

# Learning rates that keep every run finite and moving over 30 steps.
LEARNING_RATES = {
    "linear-regression": {
        "sgd": 0.1, "adagrad": 0.3, "rmsprop": 0.01, "adam": 0.05,
        "adamw": 0.05, "nadam": 0.05, "adadelta": 1.0,
    },
    "rosenbrock": {
        "sgd": 2e-4, "adagrad": 0.1, "rmsprop": 1e-3, "adam": 0.02,
        "adamw": 0.02, "nadam": 0.02, "adadelta": 1.0,
    },
    "logistic-regression": {
        "sgd": 0.5, "adagrad": 0.3, "rmsprop": 0.01, "adam": 0.05,
        "adamw": 0.05, "nadam": 0.05, "adadelta": 1.0,
    },
}


def _grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes.values())]


def optimizer_grid() -> list[tuple[str, dict]]:
    """(optimizer, hyper) combinations, torch's defaults left out; invalid ones skipped."""
    cases: list[tuple[str, dict]] = []
    for h in _grid(momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                   weight_decay=[0.0, 0.05]):
        if h["nesterov"] and (h["momentum"] == 0 or h["dampening"] != 0):
            continue
        if h["momentum"] == 0 and h["dampening"] != 0:
            continue
        cases.append(("sgd", h))
    cases.append(("sgd", {"momentum": 0.9, "maximize": True}))
    for h in _grid(lr_decay=[0.0, 0.05], weight_decay=[0.0, 0.05],
                   initial_accumulator_value=[0.0, 0.1]):
        cases.append(("adagrad", h))
    cases.append(("adagrad", {"eps": 1e-3}))
    for h in _grid(centered=[False, True], momentum=[0.0, 0.5], weight_decay=[0.0, 0.05]):
        cases.append(("rmsprop", h))
    cases.append(("rmsprop", {"alpha": 0.9, "eps": 1e-4}))
    for h in _grid(amsgrad=[False, True], weight_decay=[0.0, 0.05]):
        cases.append(("adam", h))
    cases += [
        ("adam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
        ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-3}),
        ("adam", {"maximize": True}),
    ]
    for h in _grid(amsgrad=[False, True], weight_decay=[0.01, 0.1]):
        cases.append(("adamw", h))
    for h in _grid(weight_decay=[0.0, 0.05], decoupled_weight_decay=[False, True]):
        if h["decoupled_weight_decay"] and h["weight_decay"] == 0:
            continue
        cases.append(("nadam", h))
    cases.append(("nadam", {"momentum_decay": 0.01, "beta2": 0.99}))
    for h in _grid(rho=[0.9, 0.5], weight_decay=[0.0, 0.05]):
        cases.append(("adadelta", h))
    cases.append(("adadelta", {"eps": 1e-3}))
    return cases


def torch_kwargs(hyper: dict) -> dict:
    """gdlab's names to torch's: beta1/beta2 become betas."""
    kwargs = dict(hyper)
    if "beta1" in kwargs or "beta2" in kwargs:
        kwargs["betas"] = (kwargs.pop("beta1", 0.9), kwargs.pop("beta2", 0.999))
    return kwargs


def torch_trajectory(problem, optimizer: str, hyper: dict, *, lr: float, start, steps: int):
    """Parameters before every step and after the last, stepping with torch."""
    param = torch.tensor(start, requires_grad=True)
    opt = TORCH_CLASSES[optimizer]([param], lr=lr, **torch_kwargs(hyper))
    points = [param.detach().numpy().copy()]
    for _ in range(steps):
        param.grad = torch.from_numpy(problem.grad(param.detach().numpy().copy()))
        opt.step()
        points.append(param.detach().numpy().copy())
    return np.array(points)


def make_optimizers() -> dict:
    cases = []
    for problem_name, rates in LEARNING_RATES.items():
        problem = make_problem(problem_name)
        start = problem.start(1)[0]
        for optimizer, hyper in optimizer_grid():
            if hyper.get("maximize") and problem_name == "rosenbrock":
                continue  # ascending a quartic overflows within a few steps
            lr = rates[optimizer]
            trajectory = torch_trajectory(
                problem, optimizer, hyper, lr=lr, start=start, steps=STEPS
            )
            assert np.all(np.isfinite(trajectory)), (problem_name, optimizer, hyper)
            cases.append({
                "problem": problem_name, "optimizer": optimizer, "hyper": hyper,
                "lr": lr, "steps": STEPS, "trajectory": trajectory.tolist(),
            })
    return {"cases": cases}


SCHEDULE_CASES = [
    ("step", {"step_size": 7, "gamma": 0.5},
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    ("step", {"step_size": 10},
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=10)),
    ("exponential", {"gamma": 0.93},
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.93)),
    ("cosine", {"T_max": 20},
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20)),
    ("cosine", {"T_max": 15, "eta_min": 0.01},
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15, eta_min=0.01)),
    ("warmup", {}, torch.optim.lr_scheduler.LinearLR),
    ("warmup", {"start_factor": 0.1, "end_factor": 0.8, "total_iters": 12},
     lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, end_factor=0.8,
                                                 total_iters=12)),
    ("inverse-time", {"k": 0.2},
     lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + 0.2 * e))),
]


def make_schedules() -> dict:
    cases = []
    for name, options, build in SCHEDULE_CASES:
        param = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([param], lr=0.3)
        scheduler = build(opt)
        rates = []
        for _ in range(60):
            rates.append(opt.param_groups[0]["lr"])
            param.grad = torch.zeros(1)
            opt.step()
            scheduler.step()
        cases.append({"name": name, "options": options, "lr0": 0.3, "rates": rates})
    return {"cases": cases}


def make_clipping() -> dict:
    rng = np.random.default_rng(5)
    cases = []
    for scale in (1e-3, 0.5, 1.0, 3.0, 1e3):
        grad = rng.normal(0, scale, 4)
        for max_norm in (0.1, 1.0, 10.0):
            g = torch.tensor(grad)
            p = torch.zeros(4, requires_grad=True)
            p.grad = g.clone()
            torch.nn.utils.clip_grad_norm_([p], max_norm)
            cases.append({"kind": "norm", "grad": grad.tolist(), "max_norm": max_norm,
                          "clipped": p.grad.numpy().tolist()})
        p = torch.zeros(4, requires_grad=True)
        p.grad = torch.tensor(grad)
        torch.nn.utils.clip_grad_value_([p], 0.7)
        cases.append({"kind": "value", "grad": grad.tolist(), "clip_value": 0.7,
                      "clipped": p.grad.numpy().tolist()})
    return {"cases": cases}


def torch_loss(problem, theta: torch.Tensor, batch=None) -> torch.Tensor:
    """Each problem's loss written independently in torch, on gdlab's data."""
    name = problem.name
    if name == "linear-regression":
        X, y = torch.from_numpy(problem.X), torch.from_numpy(problem.y)
        if batch is not None:
            X, y = X[batch], y[batch]
        return torch.mean((y - (theta[0] * X + theta[1])) ** 2)
    if name == "quadratic":
        return 0.5 * torch.sum(torch.from_numpy(problem.curvatures) * theta**2)
    if name == "rosenbrock":
        return (problem.a - theta[0]) ** 2 + problem.b * (theta[1] - theta[0] ** 2) ** 2
    if name == "beale":
        x, y = theta[0], theta[1]
        return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
                + (2.625 - x + x * y**3) ** 2)
    if name == "logistic-regression":
        A, y = torch.from_numpy(problem.features), torch.from_numpy(problem.y)
        if batch is not None:
            A, y = A[batch], y[batch]
        data = torch.mean(torch.nn.functional.softplus(-y * (A @ theta)))
        return data + 0.5 * problem.lam * torch.sum(theta**2)
    raise ValueError(name)


PROBLEM_CASES = [
    ("linear-regression", {}, None),
    ("linear-regression", {"n_samples": 37, "noise": 0.5}, 7),
    ("quadratic", {}, None),
    ("quadratic", {"condition": 100.0, "dim": 5}, 3),
    ("rosenbrock", {}, None),
    ("rosenbrock", {"a": 2.0, "b": 10.0}, 1),
    ("beale", {}, None),
    ("logistic-regression", {}, None),
    ("logistic-regression", {"n_samples": 50, "lam": 0.1, "separation": 4.0}, 11),
]


def make_problems() -> dict:
    cases = []
    for name, options, seed in PROBLEM_CASES:
        problem = make_problem(name, options, seed)
        rng = np.random.default_rng(len(cases))
        points = [problem.start(1)[0]] + [rng.normal(0, 1.5, problem.dim) for _ in range(4)]
        batches = [None]
        if problem.n_samples:
            batches.append(sorted(rng.choice(problem.n_samples, 8, replace=False).tolist()))
        for point, batch in itertools.product(points, batches):
            theta = torch.tensor(point, requires_grad=True)
            loss = torch_loss(problem, theta, batch)
            loss.backward()
            full_loss = torch_loss(problem, torch.tensor(point)).item()
            cases.append({
                "problem": name, "options": options, "seed": seed,
                "point": point.tolist(), "batch": batch,
                "loss": full_loss, "grad": theta.grad.numpy().tolist(),
            })
    return {"cases": cases}


RUN_CASES = [
    # (spec, torch optimizer, its kwargs, scheduler builder or None, clip or None, l2 lam)
    (RunSpec(problem="linear-regression", optimizer="sgd", hyper={"momentum": 0.9},
             learning_rates=[0.1], epochs=40, schedule=Component("step", {"step_size": 10}),
             clip=Component("norm", {"max_norm": 1.0})),
     "sgd", {"momentum": 0.9},
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=10), ("norm", 1.0), 0.0),
    (RunSpec(problem="rosenbrock", optimizer="adam", learning_rates=[0.05], epochs=40,
             schedule=Component("cosine", {"T_max": 15}),
             clip=Component("value", {"clip_value": 5.0})),
     "adam", {}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15),
     ("value", 5.0), 0.0),
    (RunSpec(problem="logistic-regression", optimizer="rmsprop",
             hyper={"centered": True, "momentum": 0.3}, learning_rates=[0.02], epochs=40,
             schedule=Component("warmup", {"total_iters": 8})),
     "rmsprop", {"centered": True, "momentum": 0.3},
     lambda o: torch.optim.lr_scheduler.LinearLR(o, total_iters=8), None, 0.0),
    (RunSpec(problem="quadratic", problem_options={"condition": 50.0, "dim": 3},
             optimizer="sgd", hyper={"momentum": 0.5, "nesterov": True},
             learning_rates=[0.02], epochs=40, schedule=Component("exponential", {"gamma": 0.97}),
             regularizer=Component("l2", {"lam": 0.3})),
     "sgd", {"momentum": 0.5, "nesterov": True},
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.97), None, 0.3),
    (RunSpec(problem="beale", optimizer="adagrad", learning_rates=[0.1], epochs=40,
             schedule=Component("inverse-time", {"k": 0.05})),
     "adagrad", {}, lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + 0.05 * e)),
     None, 0.0),
    # Decoupled weight decay as a regulariser on Adam is torch's AdamW.
    (RunSpec(problem="rosenbrock", optimizer="adam", learning_rates=[0.03], epochs=40,
             regularizer=Component("decoupled", {"lam": 0.1})),
     "adamw", {"weight_decay": 0.1}, None, None, 0.0),
    # Mini-batches: torch steps on the same batches, in the same seeded order.
    (RunSpec(problem="linear-regression", optimizer="sgd", hyper={"momentum": 0.8},
             learning_rates=[0.05], epochs=6, batch_size=16, seed=3,
             schedule=Component("step", {"step_size": 2, "gamma": 0.5})),
     "sgd", {"momentum": 0.8},
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), None, 0.0),
    (RunSpec(problem="logistic-regression", optimizer="nadam", learning_rates=[0.05], epochs=5,
             batch_size=32, seed=4, clip=Component("norm", {"max_norm": 0.5})),
     "nadam", {}, None, ("norm", 0.5), 0.0),
]


def _spec_json(spec: RunSpec) -> dict:
    return {
        "problem": spec.problem, "problem_options": dict(spec.problem_options),
        "optimizer": spec.optimizer, "hyper": dict(spec.hyper),
        "learning_rates": list(spec.learning_rates), "epochs": spec.epochs, "seed": spec.seed,
        "batch_size": spec.batch_size,
        "schedule": {"name": spec.schedule.name, "options": dict(spec.schedule.options)},
        "regularizer": {"name": spec.regularizer.name, "options": dict(spec.regularizer.options)},
        "clip": {"name": spec.clip.name, "options": dict(spec.clip.options)},
    }


def make_runs() -> dict:
    cases = []
    for spec, optimizer, kwargs, build_scheduler, clip, l2 in RUN_CASES:
        plan = plan_run(spec)
        problem = plan.problem
        param = torch.tensor(plan.starts[0], requires_grad=True)
        opt = TORCH_CLASSES[optimizer]([param], lr=spec.learning_rates[0], **kwargs)
        scheduler = build_scheduler(opt) if build_scheduler else None
        batches = batch_order(plan)
        points = [param.detach().numpy().copy()]
        for _ in range(spec.epochs):
            for _ in range(plan.steps_per_epoch):
                theta = param.detach().numpy().copy()
                grad = problem.grad(theta, next(batches)) + l2 * theta
                param.grad = torch.from_numpy(grad)
                if clip and clip[0] == "norm":
                    torch.nn.utils.clip_grad_norm_([param], clip[1])
                elif clip:
                    torch.nn.utils.clip_grad_value_([param], clip[1])
                opt.step()
                points.append(param.detach().numpy().copy())
            if scheduler:
                scheduler.step()
        trajectory = np.array(points)
        assert np.all(np.isfinite(trajectory)), spec
        cases.append({"spec": _spec_json(spec), "trajectory": trajectory.tolist()})
    return {"cases": cases}


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    about = {"generator": "scripts/make_goldens.py", "torch": torch.__version__,
             "numpy": np.__version__, "dtype": "float64"}
    for name, make in [("optimizers", make_optimizers), ("schedules", make_schedules),
                       ("clipping", make_clipping), ("problems", make_problems),
                       ("runs", make_runs)]:
        data = {"about": about, **make()}
        path = GOLDEN / f"{name}.json"
        path.write_text(json.dumps(data, allow_nan=False, separators=(",", ":")) + "\n")
        print(f"{path.relative_to(ROOT)}: {len(data['cases'])} cases")


if __name__ == "__main__":
    main()
