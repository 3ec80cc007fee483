"""Shared test configuration, and the databases the service and integration suites run on
(see :mod:`tests.databases`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.databases import (
    POSTGRESQL,
    SQLITE,
    PostgresDatabases,
    postgres_answers,
    private_server_if_none,
    selected,
)

# Never collect (or import) these: tests/golden holds data and a verbatim copy of the course
# script, which runs and draws with pyplot when imported; tests/sandbox/attacks holds
# hostile submissions (fork bombs, segfaults) meant to run only inside the sandbox.
collect_ignore = ["golden", "sandbox/attacks"]

# A private redis-server per session (``redis_server``) and a queue per test (``queue_name``).
pytest_plugins = ["tests.redis_server"]

#: A PostgreSQL server of this run's own, where none runs but its programs are installed.
PRIVATE_POSTGRES = private_server_if_none()
SELECTION = selected()

#: ``database_url_for(data_dir)``: the GDLAB_DATABASE_URL of an app or server whose data
#: folder is ``data_dir`` ("" for SQLite: the file in that folder, gdlab's default).
DatabaseUrlFor = Callable[[Path], str]


def pytest_report_header(config: pytest.Config) -> str:
    """Which databases the service and integration suites run on."""
    if PRIVATE_POSTGRES is not None:
        return f"{SELECTION.note}; a server of this run's own in {PRIVATE_POSTGRES.folder}"
    return SELECTION.note


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the run's own PostgreSQL server, if it started one."""
    if PRIVATE_POSTGRES is not None:
        PRIVATE_POSTGRES.stop()
        shutil.rmtree(PRIVATE_POSTGRES.folder, ignore_errors=True)


@pytest.fixture(scope="session", params=SELECTION.backends)
def database_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: every app and server fixture runs once per backend."""
    return request.param


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The session's PostgreSQL databases, all dropped at its end."""
    databases = PostgresDatabases()
    yield databases
    failed = databases.drop_all()
    assert not failed, f"test databases left on the server: {failed}"


@pytest.fixture(scope="session")
def database_url_for(database_backend: str,
                     postgres_databases: PostgresDatabases) -> DatabaseUrlFor:
    """The database of a data folder on the current backend (one per folder)."""
    if database_backend == SQLITE:
        return lambda data_dir: ""
    assert database_backend == POSTGRESQL
    if not postgres_answers(postgres_databases.maintenance_url):
        pytest.fail(f"GDLAB_TEST_DATABASES asks for PostgreSQL, but no server answers at "
                    f"{postgres_databases.maintenance_url} (set GDLAB_TEST_POSTGRES)")
    return postgres_databases.for_key
