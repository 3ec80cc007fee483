"""The Alembic migrations create exactly the schema the models describe, unchanged on
SQLite and PostgreSQL, and undo it again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from service.db import Database, alembic_config, upgrade
from service.models import Base, Student

from ..conftest import DatabaseUrlFor


@pytest.fixture
def empty_db(database_backend: str, database_url_for: DatabaseUrlFor,
             tmp_path: Path) -> Iterator[Database]:
    """An empty database on the session's backend (nothing migrated yet)."""
    url = database_url_for(tmp_path) or f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    db = Database(url)
    assert inspect(db.engine).get_table_names() == []
    yield db
    db.engine.dispose()


def test_a_freshly_migrated_database_has_exactly_the_models_schema(empty_db, tmp_path):
    upgrade(empty_db.engine, tmp_path)
    with empty_db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        head = ScriptDirectory.from_config(alembic_config(empty_db.engine)).get_current_head()
        assert context.get_current_revision() == head
    tables = set(inspect(empty_db.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrading_twice_changes_nothing(empty_db, tmp_path):
    upgrade(empty_db.engine, tmp_path)
    upgrade(empty_db.engine, tmp_path)
    with empty_db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_downgrading_to_base_removes_every_table(empty_db, tmp_path):
    upgrade(empty_db.engine, tmp_path)
    config = alembic_config(empty_db.engine)
    with empty_db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(empty_db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(empty_db.engine, tmp_path)  # and up again, from nothing
    assert set(Base.metadata.tables) <= set(inspect(empty_db.engine).get_table_names())


def test_times_come_back_timezone_aware_in_utc(empty_db, tmp_path):
    upgrade(empty_db.engine, tmp_path)
    local = dt.timezone(dt.timedelta(hours=-5))
    moment = dt.datetime(2026, 12, 3, 7, 30, 15, 123456, tzinfo=local)
    with empty_db.session() as session:
        session.add(Student(name="ada", token_hash="h" * 64, created_at=moment))
    with empty_db.session() as session:
        stored = session.scalars(select(Student.created_at)).one()
    assert stored.tzinfo is not None and stored.utcoffset() == dt.timedelta(0)
    assert stored == moment  # the same instant, shown in UTC (12:30:15)
    assert stored.hour == 12


def test_the_comparison_would_see_a_difference(empty_db, tmp_path):
    # guard: compare_metadata does report what the migrations lack
    from sqlalchemy import Column, Integer, MetaData, Table

    upgrade(empty_db.engine, tmp_path)
    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("extra_table", extra, Column("id", Integer, primary_key=True))
    with empty_db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), extra)
    assert [entry[0] for entry in diff] == ["add_table"]


def test_processes_starting_at_once_migrate_once(database_backend, database_url_for, tmp_path):
    """Eight processes' worth of upgrades at the same moment on one empty database (the
    web server's and the queue workers' at a stack's first start): none fails."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    url = database_url_for(tmp_path) or f"sqlite:///{tmp_path / 'race.sqlite3'}"
    dbs = [Database(url) for _ in range(8)]
    for db in dbs:  # connected beforehand, so that they all start the same moment
        db.engine.connect().close()
    start = threading.Barrier(len(dbs))

    def migrate(db: Database) -> None:
        start.wait()
        # as the app does: the file lock for SQLite only (on PostgreSQL the processes
        # may be on different machines)
        upgrade(db.engine, tmp_path if database_backend == "sqlite" else None)

    try:
        with ThreadPoolExecutor(len(dbs)) as pool:
            list(pool.map(migrate, dbs))
        with dbs[0].engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        for db in dbs:
            db.engine.dispose()
