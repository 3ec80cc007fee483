"""Sandboxes for the tests, and helpers to build jobs from a few lines of student code."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.limits import SandboxLimits
from grader.sandbox import Job, Sandbox

#: Put in the test process's environment before any runner starts; no job may see it.
FAKE_SECRET = "gdlab-fake-secret-7f3a9c"
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not IS_ROOT, reason="namespaces, the private root and per-slot user ids need root"
)

#: Short limits keep the hostile corpus fast; the behaviour is the same as the defaults'.
TEST_LIMITS = SandboxLimits(time_limit=2.0, cpu_limit=2, result_limit=1 << 20, slots=2,
                            queue=8, memory_limit=256 << 20, file_size_limit=1 << 20)

UPDATE = "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n"


def rule(module_code: str = "", update: str = UPDATE) -> str:
    """Student code: ``module_code`` at the top level, then an update rule."""
    return f"{module_code}\n\n{update}"


def update_job(code: str, *, steps: int = 1, problem: str = "quadratic",
               x0: tuple[float, ...] = (1.0, 1.0), lr: float = 0.1, runs: int = 1) -> Job:
    """An update-rule job of ``runs`` identical runs of ``steps`` steps."""
    return Job.update_rule(code, problem={"name": problem},
                           runs=[{"x0": list(x0), "lrs": [lr] * steps}] * runs)


@contextlib.contextmanager
def started(limits: SandboxLimits = TEST_LIMITS, disable: tuple[str, ...] = ()
            ) -> Iterator[Sandbox]:
    """A runner of its own for one test (with some layers disabled, for instance)."""
    with Sandbox(limits, disable_layers=disable) as sandbox:
        yield sandbox


@pytest.fixture(scope="session", autouse=True)
def fake_secret_in_environment() -> Iterator[str]:
    """The server's environment holds a secret: nothing sandboxed may ever see it."""
    os.environ["GDLAB_FAKE_SECRET"] = FAKE_SECRET
    yield FAKE_SECRET
    os.environ.pop("GDLAB_FAKE_SECRET", None)


@pytest.fixture(scope="session")
def sandbox(fake_secret_in_environment: str) -> Iterator[Sandbox]:
    """One shared runner with every layer this machine allows."""
    with Sandbox(TEST_LIMITS) as shared:
        yield shared


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository (or installation) the service runs from."""
    import grader

    return Path(grader.__file__).resolve().parent.parent


def processes_of_uids(uids: range) -> list[int]:
    """Pids of live (non-zombie) processes owned by any of ``uids``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields.get("Uid", "-1").split()[0])
        if uid in uids and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(entry))
    return found
