"""Shared test configuration."""

# Never collect (or import) these: tests/golden holds data and a verbatim copy of the course
# script, which runs and draws with pyplot when imported; tests/sandbox/attacks holds
# hostile submissions (fork bombs, segfaults) meant to run only inside the sandbox.
collect_ignore = ["golden", "sandbox/attacks"]

# A private redis-server per session (``redis_server``) and a queue per test (``queue_name``).
pytest_plugins = ["tests.redis_server"]
