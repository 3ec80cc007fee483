"""The database: an engine for the configured URL, sessions, and the schema brought up to
date by Alembic.

SQLite (the default) gets write-ahead logging, so readers never wait for the writer, and
a busy timeout, so concurrent writers from several worker processes wait their turn
instead of failing with "database is locked".

PostgreSQL (``postgresql+psycopg://user:password@host/db``, psycopg 3) gets a pool of
connections checked before use, so that a database restarted meanwhile costs one failed
request per stale connection at most, and a connect timeout, so that a database that has
gone away makes requests fail fast (503) instead of hanging.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000

#: Connections each process keeps open to a server database, and how many more it may
#: open under a burst (gunicorn runs 16 threads per worker process).
POOL_SIZE = 5
POOL_OVERFLOW = 15
#: Seconds a request waits for a free connection, and for a new one to be opened, before
#: the database is reported unavailable.
POOL_TIMEOUT = 10
CONNECT_TIMEOUT = 5
#: Seconds after which a pooled connection is replaced (a proxy or firewall between the
#: service and the database may drop connections idle for long).
POOL_RECYCLE = 1800


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``.

    For SQLite its directory is created and the pragmas set; a server database (PostgreSQL)
    gets a pool of pre-pinged connections and a connect timeout.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"connect_timeout": CONNECT_TIMEOUT} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE,
                         max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT,
                         pool_recycle=POOL_RECYCLE, connect_args=connect_args)


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached or used right now (down,
    restarting, refusing connections, out of pooled connections), as opposed to a bug in
    a query.

    Examples
    --------
    >>> is_unavailable(exc.OperationalError("SELECT 1", {}, OSError("connection refused")))
    True
    >>> is_unavailable(exc.IntegrityError("INSERT", {}, ValueError("duplicate key")))
    False
    """
    if isinstance(error, exc.DBAPIError):
        return (error.connection_invalidated
                or isinstance(error, (exc.OperationalError, exc.InterfaceError)))
    return isinstance(error, exc.TimeoutError)  # no pooled connection became free


def alembic_config(engine: Engine) -> AlembicConfig:
    """Alembic's configuration for the migrations shipped with gdlab."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    # configparser reads '%' as interpolation: a percent-encoded password or option must
    # be doubled to survive
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, lock_dir: Path | None = None) -> None:
    """Create or upgrade the schema to the newest migration.

    Several processes may start at once (gunicorn's workers, queue workers on other
    machines): on SQLite, with ``lock_dir``, they take turns through a file lock there; on
    PostgreSQL through an advisory lock held by the migrating transaction. The later ones
    find nothing left to do.
    """
    config = alembic_config(engine)
    if lock_dir is None:
        _upgrade(engine, config)
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _upgrade(engine, config)


#: The PostgreSQL advisory lock migrations take turns on (any constant of gdlab's own).
MIGRATION_LOCK = 0x6764_6C61_62  # "gdlab"


def _upgrade(engine: Engine, config: AlembicConfig) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # released with the transaction, after the schema changes are committed
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def reachable(engine: Engine) -> bool:
    """Whether the database answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception as error:  # any driver error means "not reachable"; /health reports it
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning("database unreachable: %s", first_line)
        return False


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back on an exception."""
        with self._sessions.begin() as session:
            yield session
