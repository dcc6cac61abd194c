"""scan_batches, scan_pages: scanned paper decisions read, reviewed and registered (issue 17)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 14:00:00

New tables only: existing data and seals are untouched. A decision registered from scans is linked
from its pages (`scan_pages.decision_id`), and the pages' SHA-256 enter its sealed content.
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scan_batches',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('meeting_id', sa.Integer(), sa.ForeignKey('meetings.id', ondelete='CASCADE'), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('files', sa.Text(), nullable=False),
        sa.Column('pages_total', sa.Integer(), nullable=False),
        sa.Column('pages_done', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
    )
    op.create_index('ix_scan_batches_meeting_id', 'scan_batches', ['meeting_id'])
    op.create_table(
        'scan_pages',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('batch_id', sa.Integer(), sa.ForeignKey('scan_batches.id', ondelete='CASCADE'), nullable=False),
        sa.Column('meeting_id', sa.Integer(), sa.ForeignKey('meetings.id', ondelete='CASCADE'), nullable=False),
        sa.Column('file_name', sa.String(length=300), nullable=False),
        sa.Column('file_sha256', sa.String(length=64), nullable=False),
        sa.Column('file_page', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reasons', sa.Text(), nullable=False),
        sa.Column('owner_id', sa.Integer(), sa.ForeignKey('owner_records.id', ondelete='SET NULL'), nullable=True),
        sa.Column('sheet', sa.Integer(), nullable=True),
        sa.Column('sheets', sa.Integer(), nullable=True),
        sa.Column('answers', sa.Text(), nullable=False),
        sa.Column('doubtful', sa.Text(), nullable=False),
        sa.Column('measures', sa.Text(), nullable=False),
        sa.Column('signed', sa.Boolean(), nullable=True),
        sa.Column('homography', sa.Text(), nullable=False),
        sa.Column('image', sa.LargeBinary(), nullable=False),
        sa.Column('image_sha256', sa.String(length=64), nullable=False),
        sa.Column('reviewed_by', sa.String(length=100), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
        sa.Column('decision_id', sa.Integer(), nullable=True),
    )
    op.create_index('ix_scan_page_batch', 'scan_pages', ['batch_id', 'status'])
    op.create_index('ix_scan_pages_meeting_id', 'scan_pages', ['meeting_id'])
    op.create_index('ix_scan_pages_owner_id', 'scan_pages', ['owner_id'])
    op.create_index('ix_scan_pages_decision_id', 'scan_pages', ['decision_id'])
    op.create_index('ix_scan_pages_file_sha256', 'scan_pages', ['file_sha256'])


def downgrade() -> None:
    op.drop_table('scan_pages')
    op.drop_table('scan_batches')
