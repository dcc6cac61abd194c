"""notice_terms: the terms each edition of a meeting's notice carried, once they change after the
notices went out (issue 16: change control)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 08:00:00

No rows for existing meetings: their notices carried the meeting's present terms (version 1).
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notice_terms',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('meeting_id', sa.Integer(), sa.ForeignKey('meetings.id', ondelete='CASCADE'), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('terms', sa.Text(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(100), nullable=False),
        sa.UniqueConstraint('meeting_id', 'version', name='uq_notice_terms_version'),
    )
    op.create_index('ix_notice_terms_meeting_id', 'notice_terms', ['meeting_id'])


def downgrade() -> None:
    op.drop_index('ix_notice_terms_meeting_id', 'notice_terms')
    op.drop_table('notice_terms')
