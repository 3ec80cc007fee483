"""expect: forbidden
Reading the service's database file."""

print(open("__PATH__", "rb").read())


def update(params, grad, lr, state, **hyper):
    return params
