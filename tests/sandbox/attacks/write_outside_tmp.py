"""expect: forbidden
Writing files outside the private /tmp (the test checks none appears on the host)."""

for path in ("/usr/gdlab-evil", "/var/tmp/gdlab-evil", "__PATH__"):
    try:
        with open(path, "w") as handle:
            handle.write("pwned")
    except FileNotFoundError:
        continue
raise PermissionError("every write failed: the last one is reported")


def update(params, grad, lr, state, **hyper):
    return params
