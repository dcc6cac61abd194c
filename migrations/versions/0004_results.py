"""results: tally aggregates, protocol fields

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:11:42.105073
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tally_aggregates',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.String(length=20), nullable=False),
    sa.Column('share_den', sa.BigInteger(), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'question_id', 'answer', 'share_den')
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('protocol_chair', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('protocol_secretary', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('protocol_counters', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('protocol_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('protocol_place', sa.String(length=300), nullable=False, server_default=''))

    # Meetings that already have decisions get their running count built from them.
    from sqlalchemy.orm import Session

    from services.tally import rebuild_aggregate

    bind = op.get_bind()
    with Session(bind=bind) as session:
        for (meeting_id,) in bind.execute(sa.text("SELECT DISTINCT meeting_id FROM decisions")).all():
            rebuild_aggregate(session, meeting_id)



def downgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('protocol_place')
        batch_op.drop_column('protocol_date')
        batch_op.drop_column('protocol_counters')
        batch_op.drop_column('protocol_secretary')
        batch_op.drop_column('protocol_chair')

    op.drop_table('tally_aggregates')
