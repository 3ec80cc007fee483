"""expect: output-limit
Printing forever and swallowing every Exception the output limit could raise."""

while True:
    try:
        print("spam " * 100)
    except Exception:
        pass


def update(params, grad, lr, state, **hyper):
    return params
