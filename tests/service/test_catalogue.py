"""What the engine offers (problems, optimizers and their settings) and the limits in force."""

from __future__ import annotations

from grader.limits import Limits, SandboxLimits, ServiceLimits

from .conftest import API

OPTIMIZERS = ["sgd", "adagrad", "rmsprop", "adam", "adamw", "nadam", "adadelta"]
PROBLEMS = ["linear-regression", "quadratic", "rosenbrock", "beale", "logistic-regression"]


def check_option(option):
    assert option["type"] in ("float", "int", "bool")
    assert "default" in option and isinstance(option["range"], str) and option["range"]
    assert option["help"]
    if option["type"] == "bool":
        assert option["range"] == "true or false"
    elif option["default"] is not None and option["minimum"] is not None:
        assert option["default"] >= option["minimum"]


def test_the_optimizers_with_each_setting_described(client):
    response = client.get(f"{API}/optimizers")
    assert response.status_code == 200
    items = {item["name"]: item for item in response.get_json()["items"]}
    assert list(items) == OPTIMIZERS
    for item in items.values():
        assert item["summary"] and item["default_lr"] > 0
        for option in item["options"]:
            check_option(option)
    adam = {option["name"]: option for option in items["adam"]["options"]}
    assert adam["beta1"]["default"] == 0.9 and adam["beta1"]["range"] == "[0, 1)"
    assert adam["beta1"]["exclusive_maximum"] is True
    assert adam["amsgrad"]["type"] == "bool" and adam["amsgrad"]["default"] is False
    sgd = {option["name"] for option in items["sgd"]["options"]}
    assert {"momentum", "dampening", "nesterov", "weight_decay", "maximize"} <= sgd


def test_the_problems_with_each_setting_described(client):
    response = client.get(f"{API}/problems")
    assert response.status_code == 200
    items = {item["name"]: item for item in response.get_json()["items"]}
    # the engine's own, then the exercises' own (by "<exercise-id>/<name>", no options)
    assert list(items)[: len(PROBLEMS)] == PROBLEMS
    assert all("/" in name and not items[name]["options"] for name in list(items)[len(PROBLEMS):])
    for item in items.values():
        assert item["summary"]
        for option in item["options"]:
            check_option(option)
    quadratic = {option["name"]: option for option in items["quadratic"]["options"]}
    assert quadratic["dim"]["type"] == "int" and quadratic["dim"]["maximum"] == 100
    assert {"n_samples", "noise"} <= {o["name"] for o in items["linear-regression"]["options"]}


def test_the_limits_are_those_in_force(make_app):
    service_limits = ServiceLimits(rate_limit="off", max_request_bytes=12345, max_page_size=7)
    app = make_app(limits=Limits(max_epochs=500), service_limits=service_limits,
                   student_auth="required")
    body = app.test_client().get(f"{API}/limits").get_json()
    assert body["reference"] == Limits(max_epochs=500).to_dict()
    assert body["reference"]["max_epochs"] == 500
    assert body["sandbox"] == SandboxLimits().to_dict()
    assert body["service"] == {"rate_limit": "off", "max_request_bytes": 12345,
                               "max_page_size": 7, "accepting_at_once": 1}
    assert body["student_auth"] == "required"


def test_a_lower_epoch_limit_is_enforced(make_app):
    app = make_app(limits=Limits(max_epochs=50))
    client = app.test_client()
    runs = f"{API}/reference/runs"
    body = client.post(runs, json={"problem": "beale", "optimizer": "sgd", "epochs": 51}).get_json()
    assert body["code"] == 422 and "at most 50 epochs" in body["errors"]["epochs"][0]
    assert client.post(runs, json={"problem": "beale", "optimizer": "sgd",
                                   "learning_rates": [0.001], "epochs": 50}).status_code == 201
