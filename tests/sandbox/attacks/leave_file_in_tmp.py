"""expect: ok
Leaving a file in /tmp for the next job (which must not find it)."""

with open("/tmp/__FILE__", "w") as handle:
    handle.write("left behind")


def update(params, grad, lr, state, **hyper):
    return params
