"""login and code throttles counted atomically per account, code page and client address

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 19:10:00

`code_attempts` (counted after the check, per client only) gives way to `throttles`: one row per
bucket, counted in one statement before the check. The old counters are transient (a few minutes
of delay) and keyed differently, so they are not carried over.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'throttles',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('refused', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(), nullable=True),
        sa.Column('last_failure_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_throttles_last_failure_at', 'throttles', ['last_failure_at'])
    op.drop_table('code_attempts')


def downgrade() -> None:
    op.create_table(
        'code_attempts',
        sa.Column('client_key', sa.String(length=100), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(), nullable=True),
        sa.Column('last_failure_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('client_key'),
    )
    op.drop_index('ix_throttles_last_failure_at', table_name='throttles')
    op.drop_table('throttles')
