"""Invalid requests are refused before anything runs, naming the field and the reason."""

from __future__ import annotations

import pytest

from grader.engine import OPTIMIZERS, Component, RunSpec, SpecError, sweep


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (RunSpec(optimizer="sgdd"), "optimizer", "known: sgd, adagrad"),
        (RunSpec(hyper={"nesterov": True}), "hyper.nesterov", "momentum > 0"),
        (RunSpec(hyper={"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
         "hyper.nesterov", "dampening = 0"),
        (RunSpec(optimizer="adam", hyper={"beta1": 1.0}), "hyper.beta1", "[0, 1)"),
        (RunSpec(optimizer="adam", hyper={"beta2": 1.5}), "hyper.beta2", "[0, 1)"),
        (RunSpec(optimizer="adam", hyper={"eps": -1e-8}), "hyper.eps", "[0, inf)"),
        (RunSpec(optimizer="rmsprop", hyper={"alpha": -0.1}), "hyper.alpha", "[0, 1]"),
        (RunSpec(optimizer="adadelta", hyper={"rho": 2}), "hyper.rho", "[0, 1]"),
        (RunSpec(optimizer="adagrad", hyper={"lr_decay": -1}), "hyper.lr_decay", "[0, inf)"),
        (RunSpec(hyper={"weight_decay": -0.1}), "hyper.weight_decay", "[0, inf)"),
        (RunSpec(hyper={"momentum": "0.9"}), "hyper.momentum", "must be a number"),
        (RunSpec(hyper={"nesterov": 1}), "hyper.nesterov", "true or false"),
        (RunSpec(hyper={"momentum": True}), "hyper.momentum", "must be a number"),
        (RunSpec(hyper={"betas": 0.9}), "hyper.betas", "known settings"),
        (RunSpec(learning_rates=[]), "learning_rates", "at least one"),
        (RunSpec(learning_rates=[0.1, 0]), "learning_rates[1]", "> 0"),
        (RunSpec(learning_rates=[-0.1]), "learning_rates[0]", "> 0"),
        (RunSpec(learning_rates=[float("nan")]), "learning_rates[0]", "finite"),
        (RunSpec(learning_rates=[float("inf")]), "learning_rates[0]", "finite"),
        (RunSpec(learning_rates=["0.1"]), "learning_rates[0]", "number"),
        (RunSpec(learning_rates="0.1"), "learning_rates", "at least one"),
        (RunSpec(epochs=0), "epochs", "at least 1"),
        (RunSpec(epochs=2.5), "epochs", "whole number"),
        (RunSpec(epochs=True), "epochs", "whole number"),
        (RunSpec(init="legacy", problem="quadratic"), "init", "only the 'shared'"),
        (RunSpec(init="random"), "init", "shared, legacy"),
        (RunSpec(seed=-1), "seed", "at least 0"),
        (RunSpec(seed=2**40), "seed", "at most"),
        (RunSpec(x0=[1.0]), "x0", "2 parameters"),
        (RunSpec(x0=[1.0, float("nan")]), "x0", "finite"),
        (RunSpec(x0=["a", "b"]), "x0", "list of numbers"),
        (RunSpec(x0=[1.0, 2.0], init="legacy"), "x0", "legacy"),
        (RunSpec(schedule=Component("cosine")), "schedule.T_max", "required"),
        (RunSpec(schedule=Component("step", {"step_size": 0})), "schedule.step_size", "[1, inf)"),
        (RunSpec(schedule=Component("warmup", {"start_factor": 0})),
         "schedule.start_factor", "(0, 1]"),
        (RunSpec(schedule=Component("zigzag")), "schedule", "known: constant"),
        (RunSpec(regularizer=Component("l2")), "regularizer.lam", "required"),
        (RunSpec(regularizer=Component("l2", {"lam": -1})), "regularizer.lam", "[0, 1000000]"),
        (RunSpec(regularizer=Component("none", {"lam": 1})), "regularizer.lam", "unknown"),
        (RunSpec(clip=Component("norm", {"max_norm": 0})), "clip.max_norm", "(0, inf)"),
        (RunSpec(clip=Component("both")), "clip", "known: none, value, norm"),
        (RunSpec(batch_size=0), "batch_size", "at least 1"),
        (RunSpec(problem="rosenbrock", batch_size=4), "batch_size", "no data"),
        (RunSpec(tolerance=0), "tolerance", "between 0 and 1"),
    ],
)
def test_invalid_requests_name_the_field_and_say_why(spec, field, words):
    with pytest.raises(SpecError) as error:
        sweep(spec)
    assert error.value.field == field
    assert words in error.value.message


def test_torch_defaults_are_filled_in():
    assert OPTIMIZERS["adam"].resolve({}) == {
        "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
        "maximize": False, "decoupled_weight_decay": False,
    }
    assert OPTIMIZERS["adamw"].resolve({})["weight_decay"] == 1e-2
    assert OPTIMIZERS["adagrad"].resolve({})["eps"] == 1e-10
    assert OPTIMIZERS["rmsprop"].resolve({})["alpha"] == 0.99
    assert OPTIMIZERS["adadelta"].default_lr == 1.0
    assert OPTIMIZERS["nadam"].resolve({})["momentum_decay"] == 4e-3


def test_integers_are_accepted_where_floats_are_expected():
    assert OPTIMIZERS["sgd"].resolve({"momentum": 0})["momentum"] == 0.0
