"""Static checks: a sentence with the line and column, before anything runs."""

from __future__ import annotations

import pytest

from grader.sandbox import UPDATE_RULE, Contract, SourceRejectedError, check_source

LIMIT = 64 * 1024


def rejected(source, contract=UPDATE_RULE, limit=LIMIT) -> SourceRejectedError:
    with pytest.raises(SourceRejectedError) as error:
        check_source(source, contract, limit)
    return error.value


@pytest.mark.parametrize(
    "source",
    [
        "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n",
        "def update(p, g, lr, s, **kw):\n    return p\n",
        "def update(params, grad, lr, state, *args, **hyper):\n    return params\n",
        "def update(*args, **kwargs):\n    return args[0]\n",
        "def update(params, grad, lr, state, extra=1, **hyper):\n    return params\n",
        "import numpy as np\nfrom numpy import zeros as update\n",
        "update = lambda params, grad, lr, state, **hyper: params\n",
        "# héllo wörld\ndef update(params, grad, lr, state, **hyper):\n    return params\n",
    ],
)
def test_acceptable_entry_points(source):
    assert check_source(source, UPDATE_RULE, LIMIT) == source


def test_bytes_must_be_utf8():
    error = rejected(b"# \xff\xfe\ndef update(p, g, lr, s, **h):\n    return p\n")
    assert error.code == "encoding" and error.line == 1 and "UTF-8" in error.message


def test_nul_and_empty_and_size():
    assert rejected("x = 1\n\x00\n").code == "nul"
    assert rejected("x = 1\n\x00\n").line == 2
    assert rejected("   \n\n").code == "empty"
    big = rejected("#" * (LIMIT + 1))
    assert big.code == "too-large" and "64 KiB" in big.message


def test_syntax_errors_give_line_column_and_message():
    error = rejected("def update(params, grad, lr, state, **hyper):\n    return params -\n")
    assert (error.code, error.line) == ("syntax", 2)
    assert error.column is not None and "line 2" in error.message
    assert "invalid syntax" in error.message


def test_deeply_nested_code_is_rejected_not_crashed():
    assert rejected("x = " + "(" * 10_000 + ")" * 10_000 + "\n").code == "syntax"


@pytest.mark.parametrize(
    ("source", "code", "words"),
    [
        ("def step(params, grad, lr, state):\n    return params\n", "missing-entry",
         "Define a function named `update`"),
        ("class A:\n    def update(self, p, g, lr, s):\n        return p\n", "missing-entry",
         "top level"),
        ("def update(params, grad):\n    return params\n", "signature",
         "takes 2 positional parameter(s) but is given 4"),
        ("def update(params, grad, lr, state, momentum):\n    return params\n", "signature",
         "`momentum` that the grader does not pass"),
        ("async def update(params, grad, lr, state):\n    return params\n", "signature",
         "not async"),
        ("def update(params, grad, lr, state, *, beta):\n    return params\n", "signature",
         "requires the keyword `beta`"),
    ],
)
def test_entry_point_problems(source, code, words):
    error = rejected(source)
    assert error.code == code and words in error.message
    assert "update(params, grad, lr, state, **hyper)" in error.message


def test_hyper_parameters_by_name_or_through_kwargs():
    adam = Contract("update", ("params", "grad", "lr", "state"), ("beta1", "beta2", "eps"))
    named = "def update(params, grad, lr, state, beta1, beta2, eps):\n    return params\n"
    assert check_source(named, adam, LIMIT)
    partial = "def update(params, grad, lr, state, beta1=0.9):\n    return params\n"
    assert "does not accept the hyper-parameter `beta2`" in rejected(partial, adam).message


def test_the_error_serialises_for_the_api():
    assert rejected("def update(:\n").to_dict()["code"] == "syntax"
