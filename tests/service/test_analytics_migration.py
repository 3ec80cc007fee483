"""Migration 0005 (class analytics) on SQLite and PostgreSQL: results stored before it are
backfilled from their JSON (every diagnosis, the visible cases' runs), and it undoes."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from service.db import Database, alembic_config

from ..conftest import DatabaseUrlFor

RESULT = {
    "score": 55.0,
    "runs": [{"case": "course", "lr": 0.01, "verdict": "match"},
             {"case": "course", "lr": 0.1, "verdict": "diverged"},
             {"case": "course", "lr": 0.5, "verdict": "converged-differently"},
             {"case": "other", "lr": 0.1, "verdict": "match"}],
    "hidden": {"runs": 6, "score": 40.0, "verdicts": {"diverged": 6}},
    "diagnosis": [{"id": "sign-flip", "message": "Wrong sign."},
                  {"id": "lr-ignored", "message": "Same curve at every rate."}],
}


def migrate(db: Database, revision: str, down: bool = False) -> None:
    config = alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def insert(connection, number: int, status: str, result: str | None) -> None:
    connection.execute(text(
        "INSERT INTO submissions (id, public_id, exercise, exercise_version, code, status, "
        "result, created_at, attempts) VALUES (:id, :pid, 'gd', 1, '', :status, :result, "
        "'2026-12-01 10:00:00', 1)"),
        {"id": number, "pid": f"old{number}", "status": status, "result": result})


def test_results_stored_before_are_backfilled(database_url_for: DatabaseUrlFor,
                                              tmp_path: Path):
    url = database_url_for(tmp_path) or f"sqlite:///{tmp_path / 'old.sqlite3'}"
    db = Database(url)
    try:
        migrate(db, "0004")
        with db.engine.begin() as connection:
            insert(connection, 1, "graded", json.dumps(RESULT))
            insert(connection, 2, "graded", json.dumps({**RESULT, "diagnosis": [], "runs": []}))
            insert(connection, 3, "rejected", None)
            insert(connection, 4, "graded", "not json")  # damaged: skipped, not a failure
        migrate(db, "0005")
        with db.engine.connect() as connection:
            diagnoses = connection.execute(text(
                "SELECT submission_id, position, diagnosis, message FROM submission_diagnoses "
                "ORDER BY submission_id, position")).all()
            cases = connection.execute(text(
                'SELECT submission_id, "case", exercise, visible, runs, failed '
                'FROM submission_cases ORDER BY submission_id, "case"')).all()
        assert [tuple(row) for row in diagnoses] == [
            (1, 0, "sign-flip", "Wrong sign."), (1, 1, "lr-ignored", "Same curve at every rate.")]
        # the hidden runs are an aggregate without names in the stored JSON: not backfilled
        assert [tuple(row) for row in cases] == [(1, "course", "gd", True, 3, 2),
                                                 (1, "other", "gd", True, 1, 0)]
        migrate(db, "0004", down=True)
        assert not {"submission_cases", "submission_diagnoses"} & set(
            inspect(db.engine).get_table_names())
    finally:
        db.engine.dispose()
