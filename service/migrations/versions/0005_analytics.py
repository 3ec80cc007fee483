"""class analytics: a graded submission's diagnoses and per-case verdicts as rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

The backfill reads the results already stored (their JSON, the student's view): every
diagnosis, and the visible cases' runs. The hidden cases' runs are kept only as an
aggregate there (without case names), so submissions graded before this migration count
for their visible cases only; from now on the grader records every case when it writes
the result.
"""
import json
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: Graded submissions read per batch by the backfill (bounded memory on a big database).
BATCH = 500


def upgrade() -> None:
    diagnoses = op.create_table(
        'submission_diagnoses',
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('diagnosis', sa.String(length=64), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('submission_id', 'position'))
    cases = op.create_table(
        'submission_cases',
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('case', sa.String(length=100), nullable=False),
        sa.Column('exercise', sa.String(length=64), nullable=False),
        sa.Column('visible', sa.Boolean(), nullable=False),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.Column('failed', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('submission_id', 'case'))
    op.create_index('ix_submission_cases_analytics', 'submission_cases',
                    ['exercise', 'case', 'visible', 'runs', 'failed'])
    op.create_index('ix_submissions_analytics', 'submissions',
                    ['exercise', 'student', 'status', 'score', 'created_at'])
    _backfill(op.get_bind(), diagnoses, cases)


def _backfill(bind: sa.Connection, diagnoses: sa.Table, cases: sa.Table) -> None:
    submissions = sa.table('submissions', sa.column('id', sa.Integer),
                           sa.column('exercise', sa.String), sa.column('status', sa.String),
                           sa.column('result', sa.Text))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(submissions.c.id, submissions.c.exercise, submissions.c.result)
            .where(submissions.c.status == 'graded', submissions.c.result.is_not(None),
                   submissions.c.id > last)
            .order_by(submissions.c.id).limit(BATCH)).all()
        if not rows:
            return
        found_diagnoses, found_cases = [], []
        for submission_id, exercise, text in rows:
            diagnosed, tallied = _facts(submission_id, exercise, text)
            found_diagnoses += diagnosed
            found_cases += tallied
        if found_diagnoses:
            bind.execute(diagnoses.insert(), found_diagnoses)
        if found_cases:
            bind.execute(cases.insert(), found_cases)
        last = rows[-1][0]


def _facts(submission_id: int, exercise: str, text: str) -> tuple[list[dict], list[dict]]:
    """The diagnosis rows and visible-case rows of one stored result (nothing for a
    result that is not the JSON the grader writes)."""
    try:
        result = json.loads(text)
    except ValueError:
        return [], []
    if not isinstance(result, dict):
        return [], []
    diagnosed = [{'submission_id': submission_id, 'position': position,
                  'diagnosis': str(item.get('id', ''))[:64],
                  'message': str(item.get('message', ''))}
                 for position, item in enumerate(result.get('diagnosis') or [])
                 if isinstance(item, dict)]
    runs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for run in result.get('runs') or []:
        if isinstance(run, dict) and run.get('case'):
            tally = runs[str(run['case'])[:100]]
            tally[0] += 1
            tally[1] += run.get('verdict') != 'match'
    tallied = [{'submission_id': submission_id, 'case': case, 'exercise': exercise,
                'visible': True, 'runs': total, 'failed': failed}
               for case, (total, failed) in runs.items()]
    return diagnosed, tallied


def downgrade() -> None:
    op.drop_index('ix_submissions_analytics', table_name='submissions')
    op.drop_index('ix_submission_cases_analytics', table_name='submission_cases')
    op.drop_table('submission_cases')
    op.drop_table('submission_diagnoses')
