"""expect: forbidden
Reading /etc/passwd."""

print(open("/etc/passwd").read())


def update(params, grad, lr, state, **hyper):
    return params
