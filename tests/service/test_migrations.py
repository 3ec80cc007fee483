"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from service.db import Database, alembic_config, upgrade
from service.models import Base


def test_a_freshly_migrated_database_has_exactly_the_models_schema(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        upgrade(db.engine, tmp_path)
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            head = ScriptDirectory.from_config(alembic_config(db.engine)).get_current_head()
            assert context.get_current_revision() == head
        tables = set(inspect(db.engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        db.engine.dispose()


def test_upgrading_twice_changes_nothing(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'twice.sqlite3'}")
    try:
        upgrade(db.engine, tmp_path)
        upgrade(db.engine, tmp_path)
        with db.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        db.engine.dispose()


def test_the_comparison_would_see_a_difference(tmp_path):
    # guard: compare_metadata does report what the migrations lack
    from sqlalchemy import Column, Integer, MetaData, Table

    db = Database(f"sqlite:///{tmp_path / 'diff.sqlite3'}")
    try:
        upgrade(db.engine, tmp_path)
        extra = MetaData()
        for table in Base.metadata.tables.values():
            table.to_metadata(extra)
        Table("extra_table", extra, Column("id", Integer, primary_key=True))
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), extra)
        assert [entry[0] for entry in diff] == ["add_table"]
    finally:
        db.engine.dispose()
