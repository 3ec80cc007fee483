"""The databases the service and integration suites run on: SQLite, and PostgreSQL.

``GDLAB_TEST_DATABASES`` chooses them (``sqlite``, ``postgresql`` or ``sqlite,postgresql``).
Unset, both are used when a PostgreSQL server answers at ``GDLAB_TEST_POSTGRES`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, the maintenance database of a
local server), and SQLite alone otherwise, which the session's header then says in
capitals. Named explicitly, a PostgreSQL that does not answer is an error, not a skip.

Every app or server of a test gets a database of its own: a fresh SQLite file in its data
folder, or on PostgreSQL a fresh schema ``app_<n>`` (its ``search_path``, set in the URL)
in one database per test run, ``gdlab_test_<pid>_<random>``, created through the
maintenance database and dropped at the end of the session. (A schema costs a millisecond;
a database half a second to drop.) The shared ``test`` database, or any other, is never
touched.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, make_url, text

from tests.integration.server import free_port

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
KNOWN = (SQLITE, POSTGRESQL)
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """The PostgreSQL maintenance database the test databases are created through."""
    return os.environ.get("GDLAB_TEST_POSTGRES") or DEFAULT_SERVER


def postgres_answers(url: str | None = None) -> bool:
    """Whether a PostgreSQL server answers at ``url`` (default :func:`server_url`)."""
    engine = create_engine(url or server_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # refused, unknown host, bad credentials: not usable here
        return False
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Selection:
    """The databases to run on, and why PostgreSQL is missing when it is."""

    backends: tuple[str, ...]
    note: str


def selected(environ: dict[str, str] | None = None) -> Selection:
    """The databases chosen by ``GDLAB_TEST_DATABASES`` (or found, when unset)."""
    env = os.environ if environ is None else environ
    chosen = env.get("GDLAB_TEST_DATABASES", "").strip()
    if chosen:
        names = tuple(n.strip().lower() for n in chosen.split(",") if n.strip())
        unknown = [n for n in names if n not in KNOWN]
        if unknown:
            raise ValueError(f"GDLAB_TEST_DATABASES: unknown {unknown}; use {', '.join(KNOWN)}")
        return Selection(names, f"databases: {', '.join(names)} (GDLAB_TEST_DATABASES)")
    if postgres_answers():
        return Selection(KNOWN, f"databases: sqlite, postgresql ({_shown(server_url())})")
    return Selection((SQLITE,), f"databases: sqlite only -- POSTGRESQL NOT RUN: no server "
                                f"answered at {_shown(server_url())}")


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@dataclass
class PostgresDatabases:
    """Fresh, empty PostgreSQL schemas in one database of this test run, created on first
    use and dropped by :meth:`drop_all`."""

    maintenance_url: str = field(default_factory=server_url)
    name: str = field(default_factory=lambda: f"gdlab_test_{os.getpid()}_"
                                              f"{secrets.token_hex(4)}")
    schemas: int = 0
    created: bool = False
    _by_key: dict[str, str] = field(default_factory=dict)
    _run: Engine | None = None

    def _admin(self) -> Engine:
        # CREATE and DROP DATABASE cannot run inside a transaction
        return create_engine(self.maintenance_url, isolation_level="AUTOCOMMIT")

    def _database_url(self) -> URL:
        return make_url(self.maintenance_url).set(database=self.name)

    def create(self) -> str:
        """A new empty schema; returns the URL whose connections use it."""
        if not self.created:
            admin = self._admin()
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
            self.created = True
            self._run = create_engine(self._database_url(), isolation_level="AUTOCOMMIT")
        assert self._run is not None
        self.schemas += 1
        schema = f"app_{self.schemas}"
        with self._run.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = self._database_url().update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def for_key(self, key: Path | str) -> str:
        """The schema of a data folder: created on first use, the same one afterwards (a
        server restarted on the same folder finds its data again)."""
        key = str(key)
        if key not in self._by_key:
            self._by_key[key] = self.create()
        return self._by_key[key]

    def drop_all(self) -> list[str]:
        """Drop the run's database (closing its connections first); returns the names of
        what could not be dropped."""
        if not self.created:
            return []
        if self._run is not None:
            self._run.dispose()
        admin = self._admin()
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        except Exception:  # reported by the caller
            return [self.name]
        finally:
            admin.dispose()
        self.created = False
        self._by_key.clear()
        return []


# --- a private PostgreSQL server, to stop in the middle of a test -------------------------

#: Where initdb and pg_ctl are looked for (besides PATH).
POSTGRES_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/local/bin")


def postgres_program(name: str) -> str | None:
    """The path of a PostgreSQL server program (``initdb``, ``pg_ctl``), if installed."""
    for folder in POSTGRES_BIN_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


@dataclass
class PrivateCluster:
    """A PostgreSQL server of a test's own (initdb in ``folder``, trust authentication, on
    127.0.0.1:``port``), that the test may stop and start again at will.

    The server refuses to run as root: when we are root it runs as the ``postgres`` user,
    which then owns ``folder``.
    """

    folder: Path
    port: int
    initdb: str
    pg_ctl: str

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.folder / "data"

    @property
    def url(self) -> str:
        """Its ``postgres`` database, as a GDLAB_DATABASE_URL."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}")

    def create(self) -> PrivateCluster:
        """initdb the cluster (owned by ``postgres`` when we are root)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self) -> None:
        """Stop the server now (fast shutdown: open connections are cut)."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        """Whether the server accepts connections."""
        return postgres_answers(self.url)


def private_server_if_none() -> PrivateCluster | None:
    """On a machine where no PostgreSQL answers at :func:`server_url` but PostgreSQL's
    server programs are installed (as ``make test`` installs them), start a server of this
    test run's own, point :func:`server_url` at it, and return it (the caller stops it).
    Nothing when one answers already, when ``GDLAB_TEST_DATABASES`` or
    ``GDLAB_TEST_POSTGRES`` choose, or when the programs are missing."""
    if os.environ.get("GDLAB_TEST_DATABASES") or os.environ.get("GDLAB_TEST_POSTGRES"):
        return None
    initdb, pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
    if initdb is None or pg_ctl is None or postgres_answers():
        return None
    cluster = PrivateCluster(Path(tempfile.mkdtemp(prefix="gdlab-test-postgres-")),
                             free_port(), initdb, pg_ctl).create()
    cluster.start()
    os.environ["GDLAB_TEST_POSTGRES"] = cluster.url
    return cluster
