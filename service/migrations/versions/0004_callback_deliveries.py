"""callback_deliveries: a graded result's callback, kept until it is delivered

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'callback_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.String(length=32), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('outcome', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('delivered_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('callback_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_deliveries_delivery_id'),
                              ['delivery_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_callback_deliveries_submission_id'),
                              ['submission_id'], unique=False)
        batch_op.create_index('ix_callback_deliveries_due', ['status', 'next_attempt_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callback_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_deliveries_due')
        batch_op.drop_index(batch_op.f('ix_callback_deliveries_submission_id'))
        batch_op.drop_index(batch_op.f('ix_callback_deliveries_delivery_id'))
    op.drop_table('callback_deliveries')
