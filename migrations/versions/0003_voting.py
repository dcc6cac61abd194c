"""voting: decisions, answers, code attempts, electronic setting

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:01:56.028330
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('code_attempts',
    sa.Column('client_key', sa.String(length=100), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('client_key')
    )
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('online_slot', sa.Integer(), nullable=True),
    sa.Column('counted_slot', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('canonical', sa.Text(), nullable=False),
    sa.Column('prev_seal', sa.String(length=64), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['owner_records.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'counted_slot', name='uq_decision_counted'),
    sa.UniqueConstraint('meeting_id', 'online_slot', name='uq_decision_online'),
    sa.UniqueConstraint('meeting_id', 'seq', name='uq_decision_seq')
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decision_owner', ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('decision_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['agenda_questions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('decision_id', 'question_id', name='uq_answer_question')
    )
    with op.batch_alter_table('decision_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_answers_question_id'), ['question_id'], unique=False)

    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('electronic_decisions_count', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('electronic_switched_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('electronic_switched_by', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('seal_head', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('seal_count', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('seal_count')
        batch_op.drop_column('seal_head')
        batch_op.drop_column('electronic_switched_by')
        batch_op.drop_column('electronic_switched_at')
        batch_op.drop_column('electronic_decisions_count')

    with op.batch_alter_table('decision_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_answers_question_id'))

    op.drop_table('decision_answers')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_meeting_id'))
        batch_op.drop_index('ix_decision_owner')

    op.drop_table('decisions')
    op.drop_table('code_attempts')
