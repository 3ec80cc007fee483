"""expect: output-limit
Printing 100 MB."""

print("x" * 100_000_000)


def update(params, grad, lr, state, **hyper):
    return params
