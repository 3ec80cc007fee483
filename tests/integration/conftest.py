"""Fixtures: the shared gdlab server of the integration tests, and a way to start others.

See :mod:`tests.integration.server` for how a server is started and stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import DatabaseUrlFor
from tests.integration.server import INSTRUCTOR_TOKEN, GdlabServer, ServerError, bearer

Launch = Callable[..., GdlabServer]


@pytest.fixture(scope="session")
def launch(tmp_path_factory: pytest.TempPathFactory, database_backend: str,
           database_url_for: DatabaseUrlFor) -> Iterator[Launch]:
    """Start a server of one's own: ``launch(env={...}, data_dir=...)``, its database on
    the session's backend (one per data folder: a server started again on the same folder
    finds its data). Every server still running is stopped (and checked) at the end of
    the session, once per backend."""
    started: list[GdlabServer] = []

    def start(env: dict[str, str] | None = None, data_dir: Path | None = None,
              name: str = "server") -> GdlabServer:
        data_dir = data_dir or tmp_path_factory.mktemp(f"{name}-{database_backend}-data")
        log_path = (tmp_path_factory.getbasetemp()
                    / f"{name}-{database_backend}-{len(started)}.log")
        env = dict(env or {})
        url = database_url_for(data_dir)
        if url:
            env.setdefault("GDLAB_DATABASE_URL", url)
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


