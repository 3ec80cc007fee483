"""expect: forbidden
Reading another student's submission from the data directory."""

print(open("__PATH__").read())


def update(params, grad, lr, state, **hyper):
    return params
