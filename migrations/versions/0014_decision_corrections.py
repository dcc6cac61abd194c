"""decisions: corrections and annulments of paper decisions, and why an answer is invalid
(issue 16, item 6)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:00:00

A corrected or annulled decision stays, with the status «corrected» / «annulled» and the id of
the sealed record that replaced it (`superseded_by_id`); that record keeps the link back
(`replaces_id`) and the analyst's reason (`change_reason`), both in its sealed content. A paper
answer that is invalid keeps why (`decision_answers.mark`: «none» — no mark, «several» — more
than one). Existing decisions get empty values, so every seal made before stays valid: the new
fields enter the sealed content only when they are set.
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch: a batch would copy and drop `decisions`, and the drop would
    # cascade to the decisions' answers on SQLite (see 0010).
    op.add_column('decisions', sa.Column('superseded_by_id', sa.Integer(), nullable=True))
    op.add_column('decisions', sa.Column('replaces_id', sa.Integer(), nullable=True))
    op.add_column('decisions', sa.Column('change_reason', sa.Text(), nullable=False, server_default=''))
    op.add_column('decision_answers', sa.Column('mark', sa.String(length=10), nullable=True))


def downgrade() -> None:
    op.drop_column('decision_answers', 'mark')
    op.drop_column('decisions', 'change_reason')
    op.drop_column('decisions', 'replaces_id')
    op.drop_column('decisions', 'superseded_by_id')
