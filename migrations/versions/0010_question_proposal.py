"""agenda questions: the proposal («ПРЕДЛОЖЕНО») and the speaker («СЛУШАЛИ») of the protocol

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 04:40:00

Existing questions get empty values: their protocol says «ПРЕДЛОЖЕНО» with the question's own
wording, as before, and the results page asks for a proposal.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch: SQLite (3.35+) adds and drops a column in place, while a
    # batch would copy and drop the table, and the drop would cascade to the decisions' answers.
    op.add_column('agenda_questions', sa.Column('proposal', sa.Text(), nullable=False, server_default=''))
    op.add_column('agenda_questions', sa.Column('speaker', sa.String(length=300), nullable=False,
                                                server_default=''))


def downgrade() -> None:
    op.drop_column('agenda_questions', 'speaker')
    op.drop_column('agenda_questions', 'proposal')
