"""meetings: the details the protocol names (Приказ № 266/пр), очно-заочное, the ground of a
заочное meeting, the closed count; protocol versions; the attendance list; an owner's ОГРН; what a
delivery carries (the notice or the results notice)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 07:00:00

Existing meetings become «внеочередное» with an organisation as initiator and an open count: the
analyst completes the new details before closing it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TEXT_COLUMNS = ('initiator_address', 'initiator_passport', 'initiator_ownership_doc', 'initiator_group',
                'invited', 'archive_place', 'in_person_place', 'ground_text')


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch: a batch copies and drops `meetings`, and the drop would
    # cascade to every table that references it (see 0010).
    op.add_column('meetings', sa.Column('kind', sa.String(20), nullable=False, server_default='внеочередное'))
    op.add_column('meetings', sa.Column('initiator_kind', sa.String(20), nullable=False,
                                        server_default='organisation'))
    op.add_column('meetings', sa.Column('initiator_ogrn', sa.String(20), nullable=False, server_default=''))
    for name in TEXT_COLUMNS:
        op.add_column('meetings', sa.Column(name, sa.Text(), nullable=False, server_default=''))
    op.add_column('meetings', sa.Column('in_person_at', sa.DateTime(), nullable=True))
    op.add_column('meetings', sa.Column('ground_meeting_id', sa.Integer(), nullable=True))
    op.add_column('meetings', sa.Column('no_ground_confirmed_by', sa.String(100), nullable=False, server_default=''))
    op.add_column('meetings', sa.Column('count_closed_at', sa.DateTime(), nullable=True))
    op.add_column('meetings', sa.Column('count_closed_by', sa.String(100), nullable=False, server_default=''))
    op.add_column('meetings', sa.Column('protocol_number', sa.String(100), nullable=False, server_default=''))
    op.add_column('meetings', sa.Column('protocol_year', sa.Integer(), nullable=True))
    op.add_column('meetings', sa.Column('protocol_seq', sa.Integer(), nullable=True))
    op.add_column('owner_records', sa.Column('ogrn', sa.String(20), nullable=False, server_default=''))
    op.add_column('deliveries', sa.Column('purpose', sa.String(20), nullable=False, server_default='notice'))
    op.create_table(
        'protocol_versions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('meeting_id', sa.Integer(), sa.ForeignKey('meetings.id', ondelete='CASCADE'), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(100), nullable=False),
        sa.Column('drawn_up_on', sa.Date(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=False),
        sa.Column('closed_by', sa.String(100), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('reopened_at', sa.DateTime(), nullable=True),
        sa.Column('reopened_by', sa.String(100), nullable=False),
        sa.Column('figures', sa.Text(), nullable=False),
        sa.Column('docx', sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint('meeting_id', 'version', name='uq_protocol_version'),
    )
    op.create_index('ix_protocol_versions_meeting_id', 'protocol_versions', ['meeting_id'])
    op.create_table(
        'attendance',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('meeting_id', sa.Integer(), sa.ForeignKey('meetings.id', ondelete='CASCADE'), nullable=False),
        sa.Column('owner_id', sa.Integer(), sa.ForeignKey('owner_records.id', ondelete='CASCADE'), nullable=False),
        sa.Column('representative', sa.String(500), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('recorded_by', sa.String(100), nullable=False),
        sa.UniqueConstraint('meeting_id', 'owner_id', name='uq_attendance_owner'),
    )
    op.create_index('ix_attendance_meeting_id', 'attendance', ['meeting_id'])


def downgrade() -> None:
    op.drop_column('deliveries', 'purpose')
    op.drop_column('owner_records', 'ogrn')
    op.drop_index('ix_attendance_meeting_id', 'attendance')
    op.drop_table('attendance')
    op.drop_index('ix_protocol_versions_meeting_id', 'protocol_versions')
    op.drop_table('protocol_versions')
    for name in ('protocol_seq', 'protocol_year', 'protocol_number', 'count_closed_by', 'count_closed_at',
                 'no_ground_confirmed_by', 'ground_meeting_id', 'in_person_at', *reversed(TEXT_COLUMNS),
                 'initiator_ogrn', 'initiator_kind', 'kind'):
        op.drop_column('meetings', name)
