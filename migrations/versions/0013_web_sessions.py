"""web_sessions: a signed-in browser kept server side, so a reload keeps the login and an owner's
unsent answers (issue 16, item 4)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 10:15:00

No rows for existing data: everyone signs in once more after the upgrade.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_sessions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('token_digest', sa.String(64), nullable=False),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=True),
        sa.Column('owner_id', sa.Integer(), sa.ForeignKey('owner_records.id', ondelete='CASCADE'), nullable=True),
        sa.Column('browser_digest', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('confirmed', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('draft', sa.Text(), nullable=False, server_default=''),
        sa.UniqueConstraint('token_digest', name='uq_web_sessions_token_digest'),
    )
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'])
    op.create_index('ix_web_sessions_owner_id', 'web_sessions', ['owner_id'])


def downgrade() -> None:
    op.drop_index('ix_web_sessions_owner_id', 'web_sessions')
    op.drop_index('ix_web_sessions_user_id', 'web_sessions')
    op.drop_table('web_sessions')
