"""Fixtures: the shared gdlab server of the integration tests, and a way to start others.

See :mod:`tests.integration.server` for how a server is started and stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.server import INSTRUCTOR_TOKEN, GdlabServer, ServerError, bearer

Launch = Callable[..., GdlabServer]


@pytest.fixture(scope="session")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launch]:
    """Start a server of one's own: ``launch(env={...}, data_dir=...)``. Every server
    still running is stopped (and checked) at the end of the session."""
    started: list[GdlabServer] = []

    def start(env: dict[str, str] | None = None, data_dir: Path | None = None,
              name: str = "server") -> GdlabServer:
        data_dir = data_dir or tmp_path_factory.mktemp(f"{name}-data")
        log_path = tmp_path_factory.getbasetemp() / f"{name}-{len(started)}.log"
        server = GdlabServer(data_dir, log_path, env)
        started.append(server)
        return server.start()

    yield start
    errors = []
    for server in started:
        try:
            server.stop()
        except ServerError as error:
            errors.append(str(error))
    assert not errors, "\n\n".join(errors)


@pytest.fixture(scope="session")
def server(launch: Launch) -> Iterator[GdlabServer]:
    """The shared server: rate limit off, open submissions, its own data directory;
    stopped (SIGTERM, and nothing of it left) at the end of the session."""
    shared = launch(name="shared")
    yield shared
    shared.stop()


@pytest.fixture(scope="session")
def instructor() -> dict[str, str]:
    """The instructors' Authorization header."""
    return bearer(INSTRUCTOR_TOKEN)


